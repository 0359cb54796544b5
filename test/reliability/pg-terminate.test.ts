// Fault test on PostgreSQL: every connection of the service is terminated (pg_terminate_backend,
// as a failover or an operator would) several times in the middle of the purchase flow. No payment
// is lost, the next user's whole flow completes, and the process stays up.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { onPostgres } from '../support/db.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sleep, waitUntil } from '../support/time.js';
import { activateEsim } from '../support/tools.js';
import { activationOf, buyAndPay, openStripeInvoice, qrTexts } from '../activation/support.js';

describe.runIf(onPostgres())('PostgreSQL connections terminated in the middle of the flow', () => {
  let app: TestApp;
  let admin: pg.Client;
  /** The test's own reads go through the admin connection, which is never terminated. */
  const reader: Queryable = {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await admin.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
  };
  beforeAll(async () => {
    app = await startTestApp({
      ACTIVATIONS_PER_HOUR: '10',
      WORKER_POLL_MS: '200',
      // Slow enough that the worker is caught in the middle of provisioning.
      LOCAL_OXIO_LATENCY_MS: '300',
      OXIO_POLL_INTERVAL_MS: '50',
      ACTIVATION_LEASE_SECONDS: '5',
      ACTIVATION_RETRY_BASE_SECONDS: '1',
    });
    admin = new pg.Client({ connectionString: app.database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await app?.close();
  });

  /**
   * Terminates every connection to the test database but the admin's own; returns how many. With
   * `settle`, waits until those backends are gone and the service has read their goodbye, so that
   * what follows starts after the fault rather than racing it.
   */
  async function terminateAll({ settle = false } = {}): Promise<number> {
    const { rows } = await admin.query<{ pids: number[] }>(
      `SELECT coalesce(array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)), '{}') AS pids FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    const pids = rows[0]!.pids;
    if (settle) {
      await waitUntil(async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)`, [pids])).rowCount === 0, {
        what: 'the terminated backends to exit',
      });
      await sleep(100);
    }
    return pids.length;
  }

  /** Terminates every connection again and again for `ms`: whatever runs meanwhile is hit. */
  async function storm(ms: number): Promise<number> {
    const until = Date.now() + ms;
    let terminated = 0;
    while (Date.now() < until) {
      terminated += await terminateAll();
      await sleep(25);
    }
    return terminated;
  }

  const mailsTo = (email: string) => app.service.local.smtp!.messages().filter((m) => m.to.includes(email));

  async function expectCompleted(email: string) {
    const row = await waitUntil(
      async () => {
        const r = await activationOf(reader, email);
        return r.status === 'active' && mailsTo(email).length > 0 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${email} active with its e-mail` },
    );
    const lines = app.service.local.oxio!.lines().filter((l) => l.email === email);
    expect(lines).toHaveLength(1);
    expect(row.lpa_code).toBe(lines[0]!.activationCode);
    // The send was recorded (a lost record would mean a second copy once the lease runs out).
    await waitUntil(
      async () => (await reader.query<{ status: string }>(`SELECT status FROM email_outbox WHERE activation_id = $1`, [row.id])).rows[0]?.status === 'sent',
      { what: `the e-mail to ${email} recorded as sent` },
    );
    const mails = mailsTo(email);
    expect(mails).toHaveLength(1);
    expect(qrTexts(mails[0]!)).toEqual([row.lpa_code, row.lpa_code]);
  }

  it('a paid activation completes with one e-mail, the next user is served, the process stays up', { timeout: 90_000 }, async () => {
    const stripe = app.service.local.stripe!;
    const first = 'ada.fault@example.com';

    // The invoice exists; every connection drops before the payment arrives.
    const client = await app.client({ token: app.token(first) });
    expect((await activateEsim(client)).structured.status).toBe('awaiting_payment');
    const invoice = await openStripeInvoice(reader, first);
    expect(await terminateAll({ settle: true })).toBeGreaterThan(0);

    // Paid while the connections keep dropping: the webhook, the queueing and the worker's claim
    // are hit (Stripe retries a failed delivery). Then again while the worker provisions the line.
    const paid = stripe.pay(invoice);
    expect(await storm(1500)).toBeGreaterThan(0);
    await paid;
    await stripe.webhooksIdle();
    await waitUntil(async () => ['activating', 'active'].includes((await activationOf(reader, first)).status), {
      timeoutMs: 20_000,
      what: 'the worker to claim it',
    });
    await storm(1000);

    // No payment is lost: the activation completes, one line, one e-mail.
    await expectCompleted(first);

    // The next user's whole flow, after yet another drop.
    await terminateAll({ settle: true });
    expect((await activateEsim(client)).structured.status).toBe('active');
    const next = 'bo.fault@example.com';
    await buyAndPay(app, next);
    await expectCompleted(next);

    // The NOTIFY subscriptions came back (worker and outbox wake on them, not only on polling).
    const { rows } = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`,
    );
    expect(rows.length).toBeGreaterThan(0);
    // Still serving.
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });
});
