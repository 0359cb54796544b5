// PostgreSQL connections dropped under the service (failover, restart, an operator's
// pg_terminate_backend): NOTIFY subscriptions come back by themselves and a broken connection fails
// only the work that was using it, never the process.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';
import { sleep, waitUntil } from '../support/time.js';

describe.runIf(onPostgres())('PostgreSQL connections terminated under the service', () => {
  let t: TestDatabase;
  let admin: pg.Client;
  beforeAll(async () => {
    t = await createTestDatabase();
    admin = new pg.Client({ connectionString: t.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await t?.drop();
  });

  /** Terminates the backends running `LISTEN` (their last statement); returns how many. */
  async function terminateListeners(): Promise<number> {
    const { rows } = await admin.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`,
    );
    return rows.filter((r) => r.ok).length;
  }

  it('a LISTEN connection that is terminated comes back: later NOTIFYs arrive, and listeners re-poll once', async () => {
    const got: string[] = [];
    const unlisten = await t.db.listen('fault_test', (payload) => got.push(payload));
    try {
      await admin.query(`NOTIFY fault_test, 'before'`);
      await waitUntil(() => got.includes('before'), { what: 'the first notification' });

      expect(await terminateListeners()).toBe(1);
      // Notifications sent while the connection is down are lost; the listener is called once
      // after the reconnect (empty payload) so that it looks for work it may have missed.
      await waitUntil(() => got.includes(''), { timeoutMs: 10_000, what: 'the re-poll call after the reconnect' });
      await admin.query(`NOTIFY fault_test, 'after'`);
      await waitUntil(() => got.includes('after'), { timeoutMs: 5_000, what: 'a notification after the reconnect' });

      // And again: every drop is survived, not only the first.
      expect(await terminateListeners()).toBe(1);
      await waitUntil(
        async () => {
          await admin.query(`NOTIFY fault_test, 'again'`);
          return got.includes('again');
        },
        { timeoutMs: 10_000, intervalMs: 200, what: 'a notification after the second reconnect' },
      );
    } finally {
      await unlisten();
    }
    // Unsubscribed: no LISTEN connection is left behind.
    await sleep(100);
    const { rows } = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%' AND state <> 'disabled'`,
    );
    expect(rows).toHaveLength(0);
  });

  it('a connection terminated inside a transaction fails that transaction, not the process', async () => {
    const outcome = t.db.withTransaction(async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Idle in transaction, between two statements: the backend is terminated under it.
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await sleep(200);
      await tx.query('SELECT 1');
    });
    await expect(outcome).rejects.toThrow();
    // The pool hands out a working connection afterwards.
    const { rows } = await t.db.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);

    const locked = t.db.withSessionLock(424_242, async (conn) => {
      const { rows: me } = await conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [me[0]!.pid]);
      await sleep(200);
      await conn.query('SELECT 1');
    });
    await expect(locked).rejects.toThrow();
    expect((await t.db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });
});
