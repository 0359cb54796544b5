// Operators: statistics and retrying a failed activation.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

const ADMIN = 'Bearer test-admin-token-0123456789';

describe('POST /admin/activations/:id/requeue', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ACTIVATIONS_PER_HOUR: '5' }, { overrides: { startWorkers: false } });
  });
  afterAll(() => t.close());

  async function failedActivation(email: string): Promise<{ id: number; userId: number }> {
    const db = t.service.db;
    const { rows: u } = await db.query<{ id: number }>(
      `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
      [`uid-${email}`, email],
    );
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO activations (user_id, plan_id, status, paid_at, started_at, attempts, failed_at, last_error)
       VALUES ($1, 'beta_esim_activation', 'failed', now(), now(), 8, now(), 'carrier refused') RETURNING id`,
      [u[0]!.id],
    );
    return { id: rows[0]!.id, userId: u[0]!.id };
  }

  it('needs the admin token', async () => {
    const { id } = await failedActivation('nobody@example.com');
    expect((await request(t.url).post(`/admin/activations/act_${id}/requeue`)).status).toBe(401);
    expect((await request(t.url).post(`/admin/activations/act_${id}/requeue`).set('authorization', 'Bearer wrong-token-xxxxxxxx')).status).toBe(401);
  });

  it('queues a new activation for the same user and payment; the failed start still counts in the window', async () => {
    const { id, userId } = await failedActivation('retry@example.com');
    const before = (await request(t.url).get('/admin/rate-limit').set('authorization', ADMIN)).body;
    const res = await request(t.url).post(`/admin/activations/act_${id}/requeue`).set('authorization', ADMIN);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ replaces: `act_${id}`, status: 'queued', queue_position: 1, estimated_wait_minutes: 0 });
    const { rows } = await t.service.db.query<{ id: number; status: string; queue_seq: number | null }>(
      'SELECT id, status, queue_seq FROM activations WHERE user_id = $1 ORDER BY id',
      [userId],
    );
    expect(rows.map((r) => r.status)).toEqual(['failed', 'queued']);
    expect(`act_${rows[1]!.id}`).toBe(res.body.activation_id);
    const after = (await request(t.url).get('/admin/rate-limit').set('authorization', ADMIN)).body;
    expect(after.queue_length).toBe(before.queue_length + 1);
    expect(after.current_hour_activations).toBe(before.current_hour_activations);

    // The worker takes it like any paid activation.
    await t.service.worker.drainOnce();
    const status = await t.service.db.query<{ status: string }>('SELECT status FROM activations WHERE id = $1', [rows[1]!.id]);
    expect(status.rows[0]!.status).toBe('active');
  });

  it('refuses what it cannot retry: not failed → 404, a live activation already → 409, a bad id → 400', async () => {
    const { id } = await failedActivation('twice@example.com');
    expect((await request(t.url).post(`/admin/activations/${id}/requeue`).set('authorization', ADMIN)).status).toBe(200);
    expect((await request(t.url).post(`/admin/activations/${id + 1000}/requeue`).set('authorization', ADMIN)).status).toBe(404);
    const again = await request(t.url).post(`/admin/activations/act_${id}/requeue`).set('authorization', ADMIN);
    expect(again.status).toBe(409);
    expect((await request(t.url).post('/admin/activations/abc/requeue').set('authorization', ADMIN)).status).toBe(400);
  });
});
