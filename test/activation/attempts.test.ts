// An activation whose worker keeps dying is resumed only up to ACTIVATION_MAX_ATTEMPTS.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationWorker } from '../../src/activation/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('resuming a dead worker\'s activation', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  async function activationWithExpiredLease(email: string, attempts: number): Promise<number> {
    const { rows: u } = await t.db.query<{ id: number }>(
      `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
      [`uid-${email}`, email],
    );
    const { rows } = await t.db.query<{ id: number }>(
      `INSERT INTO activations (user_id, plan_id, status, paid_at, started_at, lease_until, attempts)
       VALUES ($1, 'beta_esim_activation', 'activating', now(), now(), now() - interval '1 second', $2) RETURNING id`,
      [u[0]!.id, attempts],
    );
    return rows[0]!.id;
  }

  it('resumes below the cap and, at the cap, marks failed after the carrier was checked for a line, creating nothing', async () => {
    const spent = await activationWithExpiredLease('spent@example.com', 3);
    const provisioned: number[] = [];
    const checked: number[] = [];
    const worker = new ActivationWorker({
      db: t.db,
      logger: pino({ level: 'silent' }),
      limit: 10,
      pollMs: 1000,
      maxAttempts: 3,
      oxio: {
        async provisionEsim(req) {
          provisioned.push(req.activationId);
          return { endUserId: 'eu', lineId: `line-${req.activationId}`, iccid: '8901000000000000001', phoneNumber: '+15550000001', activationCode: 'LPA:1$smdp.example$ABC' };
        },
        async findExistingLine(req) {
          checked.push(req.activationId);
          return { state: 'none' };
        },
      },
    });
    const fresh = await activationWithExpiredLease('fresh@example.com', 1);
    await worker.drainOnce();
    const { rows } = await t.db.query<{ id: number; status: string; last_error: string | null }>(
      'SELECT id, status, last_error FROM activations ORDER BY id',
    );
    expect(rows.find((r) => r.id === spent)).toMatchObject({ status: 'failed', last_error: 'gave up after 3 attempts' });
    expect(rows.find((r) => r.id === fresh)!.status).toBe('active');
    expect(provisioned).toEqual([fresh]);
    expect(checked).toEqual([spent]);
  });
});
