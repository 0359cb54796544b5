// A carrier that hands out an activation code no phone can install: the attempt fails where the
// carrier's answer comes in, so the activation is never recorded `active` with an e-mail that cannot
// be built (its outbox row would only end `dead`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildActivationEmail } from '../../src/notify/activation-email.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/time.js';
import { activationOf, outboxRows, seedPaid } from '../activation/support.js';

const BROKEN = 'LPA:1$smdp.example.com$AB+CD';

describe('an activation code the carrier got wrong', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1', OXIO_POLL_INTERVAL_MS: '20' });
  });
  afterAll(async () => {
    await app.close();
  });

  it(`${BROKEN} fails the attempt before the line is recorded; no e-mail is queued`, async () => {
    app.service.local.oxio!.setActivationCode(BROKEN);
    const [buyer] = await seedPaid(app.service.db, 1, 'broken-code');
    app.service.worker.wake();

    const failed = await waitUntil(
      async () => {
        const a = await activationOf(app.service.db, buyer!.email);
        return a.status === 'failed' && a;
      },
      { what: 'the activation to fail' },
    );
    // Refused at once (not retryable): one attempt, nothing of the line stored.
    expect(failed).toMatchObject({ attempts: 1, lpa_code: null, phone_number: null, iccid: null });
    expect(await outboxRows(app.service.db)).toEqual([]);
    const { rows } = await app.service.db.query<{ last_error: string }>('SELECT last_error FROM activations WHERE id = $1', [buyer!.id]);
    expect(rows[0]!.last_error).toMatch(/malformed activation code/);
    expect(rows[0]!.last_error).not.toContain(BROKEN);
    // The carrier does hold the line; the code it carries could never have been e-mailed.
    expect(app.service.local.oxio!.lines().map((l) => l.activationCode)).toEqual([BROKEN]);
    expect(() =>
      buildActivationEmail({ activationId: buyer!.id, to: buyer!.email, from: 'no-reply@dotm.test', phoneNumber: '+1', activationCode: BROKEN, qrPng: Buffer.alloc(0) }),
    ).toThrow(/not an LPA activation code/);
  });
});
