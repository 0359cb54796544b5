// Shared steps for the activation tests: paid activations straight in the database (what a payment
// does), buying through the MCP client and local Stripe, and reading the QR code out of a received
// e-mail. Waiting, log capture and tool calls are in ../support/.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { expect } from 'vitest';
import { activationStore } from '../../src/activation/activation-store.js';
import type { Database, Queryable } from '../../src/db/database.js';
import type { StoredMail } from '../../src/local/smtp/server.js';
import type { TestApp } from '../support/app.js';
import { activateEsim, type ActivateAnswer } from '../support/tools.js';
import { decodeQrPng } from '../notify/qr-decode.js';

export interface ActivationRow {
  id: number;
  user_id: number;
  email: string;
  firebase_uid: string;
  status: string;
  queue_seq: number | null;
  started_at: Date | null;
  lease_until: Date | null;
  attempts: number;
  phone_number: string | null;
  lpa_code: string | null;
  iccid: string | null;
  oxio_line_id: string | null;
}

export async function activations(db: Queryable): Promise<ActivationRow[]> {
  const { rows } = await db.query<ActivationRow>(
    `SELECT a.id, a.user_id, u.email, u.firebase_uid, a.status, a.queue_seq, a.started_at, a.lease_until, a.attempts,
            a.phone_number, a.lpa_code, a.iccid, a.oxio_line_id
       FROM activations a JOIN users u ON u.id = a.user_id
      ORDER BY a.queue_seq NULLS LAST, a.id`,
  );
  return rows;
}

export async function activationOf(db: Queryable, email: string): Promise<ActivationRow> {
  const row = (await activations(db)).find((a) => a.email === email);
  if (!row) throw new Error(`no activation for ${email}`);
  return row;
}

/** Activations started in the last 60 minutes by the database clock (what the limit counts). */
export async function startsInWindow(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM activations WHERE started_at > clock_timestamp() - interval '1 hour'`,
  );
  return rows[0]!.n;
}

/** Moves every recorded start (and lease) back, as if `minutes` had passed. */
export async function slideWindow(db: Queryable, minutes: number): Promise<void> {
  await db.query(`UPDATE activations SET started_at = started_at - make_interval(mins => $1) WHERE started_at IS NOT NULL`, [minutes]);
}

/** As if every lease ran out: a claim held by a dead process becomes resumable. */
export async function expireLeases(db: Queryable): Promise<void> {
  await db.query(`UPDATE activations SET lease_until = clock_timestamp() - interval '1 second' WHERE status = 'activating'`);
}

/**
 * `n` users with a paid activation each, queued in this order: the same rows and the same
 * enqueuePaid a Stripe payment runs, without the Stripe round trip.
 */
export async function seedPaid(db: Database, n: number, prefix: string): Promise<Array<{ id: number; email: string; uid: string }>> {
  const seeded: Array<{ id: number; email: string; uid: string }> = [];
  for (let i = 1; i <= n; i++) {
    const email = `${prefix}${i}@example.com`;
    const uid = `uid-${prefix}-${i}`;
    const { rows: users } = await db.query<{ id: number }>(
      `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
      [uid, email],
    );
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO activations (user_id, plan_id, status) VALUES ($1, 'beta_esim_activation', 'awaiting_payment') RETURNING id`,
      [users[0]!.id],
    );
    const id = rows[0]!.id;
    const queued = await db.withTransaction((tx) => activationStore.enqueuePaid(tx, id));
    if (!queued) throw new Error(`activation ${id} was not queued`);
    seeded.push({ id, email, uid });
  }
  return seeded;
}

/** The user's open invoice at (local) Stripe. */
export async function openStripeInvoice(db: Queryable, email: string): Promise<string> {
  const { rows } = await db.query<{ stripe_invoice_id: string }>(
    `SELECT i.stripe_invoice_id FROM invoices i JOIN users u ON u.id = i.user_id WHERE u.email = $1 AND i.status = 'open'`,
    [email],
  );
  if (!rows[0]?.stripe_invoice_id) throw new Error(`no open invoice for ${email}`);
  return rows[0].stripe_invoice_id;
}

/** activate_esim (invoice), then the Pay button, then the signed webhook has been answered. */
export async function buyAndPay(app: TestApp, email: string): Promise<{ client: Client; first: ActivateAnswer }> {
  const client = await app.client({ token: app.token(email) });
  const first = await activateEsim(client);
  expect(first.structured.status).toBe('awaiting_payment');
  expect(first.structured.invoice_url).toMatch(/^https?:\/\//);
  const stripe = app.service.local.stripe!;
  await stripe.pay(await openStripeInvoice(app.service.db, email));
  await stripe.webhooksIdle();
  return { client, first };
}

/** The text inside the QR code image(s) of a received e-mail, as a phone camera reads it. */
export function qrTexts(mail: StoredMail): string[] {
  return mail.attachments.filter((a) => a.contentType === 'image/png').map((a) => decodeQrPng(a.content) ?? '(unreadable)');
}

export async function outboxRows(db: Queryable): Promise<Array<{ activation_id: number; status: string; attempts: number; last_error: string | null }>> {
  const { rows } = await db.query<{ activation_id: number; status: string; attempts: number; last_error: string | null }>(
    `SELECT activation_id, status, attempts, last_error FROM email_outbox ORDER BY activation_id`,
  );
  return rows;
}
