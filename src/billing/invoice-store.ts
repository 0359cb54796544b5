// All SQL of billing: our invoice rows and the webhook events already applied.
import type { Queryable } from '../db/database.js';

export type InvoiceStatus = 'creating' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface InvoiceRow {
  id: number;
  user_id: number;
  activation_id: number;
  plan_id: string;
  status: InvoiceStatus;
  amount_cents: number;
  currency: string;
  stripe_invoice_id: string | null;
  hosted_invoice_url: string | null;
  creation_attempts: number;
  lease_until: Date | null;
  last_error: string | null;
  paid_at: Date | null;
  last_checked_at: Date | null;
}

/** A Stripe invoice beyond the one an activation needs (see migrations/006). */
export interface DuplicateInvoice {
  stripe_invoice_id: string;
  invoice_id: number;
  activation_id: number;
  reason: 'superseded' | 'second_payment';
  amount_paid_cents: number | null;
  currency: string | null;
  paid_at: Date | null;
  detected_at: Date;
}

/** A second payment, as the refund listing shows it. */
export interface RefundDue extends DuplicateInvoice {
  user_id: number;
  email: string;
  kept_stripe_invoice_id: string | null;
}

const COLUMNS = `id, user_id, activation_id, plan_id, status, amount_cents, currency, stripe_invoice_id, hosted_invoice_url,
  creation_attempts, lease_until, last_error, paid_at, last_checked_at`;
const DUPLICATE_COLUMNS = 'stripe_invoice_id, invoice_id, activation_id, reason, amount_paid_cents, currency, paid_at, detected_at';

export const invoiceStore = {
  /** The activation's latest invoice that is still usable (creating, open or paid). */
  async currentForActivation(db: Queryable, activationId: number): Promise<InvoiceRow | undefined> {
    const { rows } = await db.query<InvoiceRow>(
      `SELECT ${COLUMNS} FROM invoices WHERE activation_id = $1 AND status IN ('creating', 'open', 'paid')
        ORDER BY (status = 'paid') DESC, id DESC LIMIT 1`,
      [activationId],
    );
    return rows[0];
  },

  /** One open invoice per user: concurrent callers all get the same row. */
  async createOrGet(db: Queryable, r: { userId: number; activationId: number; planId: string; amountCents: number; currency: string }) {
    await db.query(
      `INSERT INTO invoices (user_id, activation_id, plan_id, status, amount_cents, currency)
       VALUES ($1, $2, $3, 'creating', $4, $5)
       ON CONFLICT (user_id) WHERE status IN ('creating', 'open') DO NOTHING`,
      [r.userId, r.activationId, r.planId, r.amountCents, r.currency],
    );
    const { rows } = await db.query<InvoiceRow>(
      `SELECT ${COLUMNS} FROM invoices WHERE user_id = $1 AND status IN ('creating', 'open')`,
      [r.userId],
    );
    return rows[0]!;
  },

  async byId(db: Queryable, id: number): Promise<InvoiceRow | undefined> {
    const { rows } = await db.query<InvoiceRow>(`SELECT ${COLUMNS} FROM invoices WHERE id = $1`, [id]);
    return rows[0];
  },

  /** Whether a `creating` row is still being worked on: its lease is held and has not run out. */
  async creationInProgress(db: Queryable, id: number): Promise<boolean> {
    const { rows } = await db.query<{ busy: boolean }>(
      `SELECT status = 'creating' AND lease_until IS NOT NULL AND lease_until >= clock_timestamp() AS busy FROM invoices WHERE id = $1`,
      [id],
    );
    return rows[0]?.busy ?? false;
  },

  /** Takes the right to talk to Stripe for a `creating` row; false if someone else holds it. */
  async takeCreationLease(db: Queryable, id: number, seconds: number): Promise<InvoiceRow | undefined> {
    const { rows } = await db.query<InvoiceRow>(
      `UPDATE invoices SET lease_until = clock_timestamp() + make_interval(secs => $2), creation_attempts = creation_attempts + 1,
              updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'creating' AND (lease_until IS NULL OR lease_until < clock_timestamp())
        RETURNING ${COLUMNS}`,
      [id, seconds],
    );
    return rows[0];
  },

  /**
   * Extends the lease of the attempt that holds it; false once another attempt took over (each
   * takeover counts an attempt). Renewed before every Stripe call, so the lease covers the call in
   * flight however slow Stripe is, and a holder that lost it changes nothing at Stripe any more.
   */
  async renewCreationLease(db: Queryable, id: number, attempt: number, seconds: number): Promise<boolean> {
    const r = await db.query(
      `UPDATE invoices SET lease_until = clock_timestamp() + make_interval(secs => $3), updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'creating' AND creation_attempts = $2`,
      [id, attempt, seconds],
    );
    return r.rowCount === 1;
  },

  /**
   * Stores the Stripe invoice of the row, never replacing another one. Returns whether this attempt
   * still holds the row, and the Stripe id stored now (ours, or the one that was there before).
   */
  async setStripeId(db: Queryable, id: number, attempt: number, stripeInvoiceId: string): Promise<{ holding: boolean; stored: string | null }> {
    const { rows } = await db.query<{ stripe_invoice_id: string | null; holding: boolean }>(
      `WITH set AS (
         UPDATE invoices SET stripe_invoice_id = COALESCE(stripe_invoice_id, $2), updated_at = clock_timestamp()
          WHERE id = $1 AND status = 'creating' AND creation_attempts = $3
          RETURNING stripe_invoice_id)
       SELECT stripe_invoice_id, true AS holding FROM set
       UNION ALL
       SELECT stripe_invoice_id, false AS holding FROM invoices WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM set)`,
      [id, stripeInvoiceId, attempt],
    );
    return { holding: rows[0]?.holding ?? false, stored: rows[0]?.stripe_invoice_id ?? null };
  },

  /** False when another attempt holds the row now (it finishes the invoice). */
  async markOpen(db: Queryable, id: number, attempt: number, hostedUrl: string): Promise<boolean> {
    const r = await db.query(
      `UPDATE invoices SET status = 'open', hosted_invoice_url = $2, lease_until = NULL, last_error = NULL, updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'creating' AND creation_attempts = $3`,
      [id, hostedUrl, attempt],
    );
    return r.rowCount === 1;
  },

  /** Frees the lease for the next caller, unless another attempt holds it already. */
  async creationFailed(db: Queryable, id: number, attempt: number, error: string): Promise<boolean> {
    const r = await db.query(
      `UPDATE invoices SET lease_until = NULL, last_error = $2, updated_at = clock_timestamp() WHERE id = $1 AND creation_attempts = $3`,
      [id, error.slice(0, 500), attempt],
    );
    return r.rowCount === 1;
  },

  /**
   * Voided or uncollectible at Stripe: the next request replaces it. Our row id from the metadata
   * counts only while the row has no Stripe invoice yet: a withdrawn second invoice names the row too.
   */
  async markClosed(db: Queryable, match: { stripeInvoiceId: string; rowId?: number }, status: 'void' | 'uncollectible'): Promise<number> {
    const r = await db.query(
      `UPDATE invoices SET status = $3, lease_until = NULL, updated_at = clock_timestamp()
        WHERE (stripe_invoice_id = $1 OR (id = $2 AND stripe_invoice_id IS NULL)) AND status IN ('creating', 'open')`,
      [match.stripeInvoiceId, match.rowId ?? null, status],
    );
    return r.rowCount;
  },

  /**
   * The right to ask Stripe about an open invoice now: at most once per interval, across instances.
   */
  async claimLookUp(db: Queryable, id: number, intervalSeconds: number): Promise<boolean> {
    const r = await db.query(
      `UPDATE invoices SET last_checked_at = clock_timestamp()
        WHERE id = $1 AND status = 'open'
          AND (last_checked_at IS NULL OR last_checked_at <= clock_timestamp() - make_interval(secs => $2))`,
      [id, intervalSeconds],
    );
    return r.rowCount === 1;
  },

  /**
   * The row a payment belongs to, locked: by its Stripe id, else by our row id from the invoice
   * metadata (a Stripe invoice that may not be the one stored for the row).
   */
  async forPayment(tx: Queryable, match: { stripeInvoiceId: string; rowId?: number }): Promise<InvoiceRow | undefined> {
    const { rows } = await tx.query<InvoiceRow>(
      `SELECT ${COLUMNS} FROM invoices WHERE stripe_invoice_id = $1 OR id = $2
        ORDER BY (stripe_invoice_id = $1) IS TRUE DESC LIMIT 1 FOR UPDATE`,
      [match.stripeInvoiceId, match.rowId ?? null],
    );
    return rows[0];
  },

  /** The activation's paid invoice, if any; locks the activation so its payments are decided one at a time. */
  async paidForActivation(tx: Queryable, activationId: number): Promise<InvoiceRow | undefined> {
    await tx.query('SELECT id FROM activations WHERE id = $1 FOR NO KEY UPDATE', [activationId]);
    const { rows } = await tx.query<InvoiceRow>(`SELECT ${COLUMNS} FROM invoices WHERE activation_id = $1 AND status = 'paid'`, [activationId]);
    return rows[0];
  },

  /** The activation's payment: the row is paid by this Stripe invoice. */
  async markPaid(tx: Queryable, id: number, stripeInvoiceId: string): Promise<InvoiceRow | undefined> {
    const { rows } = await tx.query<InvoiceRow>(
      `UPDATE invoices SET status = 'paid', paid_at = clock_timestamp(), stripe_invoice_id = $2, lease_until = NULL,
              updated_at = clock_timestamp()
        WHERE id = $1 AND status <> 'paid'
        RETURNING ${COLUMNS}`,
      [id, stripeInvoiceId],
    );
    return rows[0];
  },

  /** Notes on an invoice row of ours that its payment came second and needs a refund. */
  async notePaidTwice(tx: Queryable, id: number, stripeInvoiceId: string): Promise<void> {
    await tx.query(`UPDATE invoices SET last_error = $2, lease_until = NULL, updated_at = clock_timestamp() WHERE id = $1`, [
      id,
      `paid twice: ${stripeInvoiceId} needs a refund`,
    ]);
  },

  /** Records a Stripe invoice that is not the row's own (see migrations/006); nothing if known already. */
  async recordSuperseded(db: Queryable, d: { stripeInvoiceId: string; invoiceId: number; activationId: number }): Promise<void> {
    await db.query(
      `INSERT INTO duplicate_invoices (stripe_invoice_id, invoice_id, activation_id, reason) VALUES ($1, $2, $3, 'superseded')
       ON CONFLICT (stripe_invoice_id) DO NOTHING`,
      [d.stripeInvoiceId, d.invoiceId, d.activationId],
    );
  },

  /** Records a second payment for an activation; returns it the first time only (events are redelivered). */
  async recordSecondPayment(
    tx: Queryable,
    d: { stripeInvoiceId: string; invoiceId: number; activationId: number; amountPaidCents: number | null; currency: string | null },
  ): Promise<DuplicateInvoice | undefined> {
    const { rows } = await tx.query<DuplicateInvoice>(
      `INSERT INTO duplicate_invoices (stripe_invoice_id, invoice_id, activation_id, reason, amount_paid_cents, currency, paid_at)
       VALUES ($1, $2, $3, 'second_payment', $4, $5, clock_timestamp())
       ON CONFLICT (stripe_invoice_id) DO UPDATE
         SET reason = 'second_payment', amount_paid_cents = EXCLUDED.amount_paid_cents, currency = EXCLUDED.currency, paid_at = EXCLUDED.paid_at
         WHERE duplicate_invoices.paid_at IS NULL
       RETURNING ${DUPLICATE_COLUMNS}`,
      [d.stripeInvoiceId, d.invoiceId, d.activationId, d.amountPaidCents, d.currency],
    );
    return rows[0];
  },

  /** Second payments to refund, newest first, with the payment the activation keeps. */
  async refundsDue(db: Queryable, limit: number): Promise<RefundDue[]> {
    const { rows } = await db.query<RefundDue>(
      `SELECT ${DUPLICATE_COLUMNS.split(', ').map((c) => `d.${c}`).join(', ')}, i.user_id, u.email,
              (SELECT p.stripe_invoice_id FROM invoices p WHERE p.activation_id = d.activation_id AND p.status = 'paid') AS kept_stripe_invoice_id
         FROM duplicate_invoices d JOIN invoices i ON i.id = d.invoice_id JOIN users u ON u.id = i.user_id
        WHERE d.paid_at IS NOT NULL
        ORDER BY d.paid_at DESC LIMIT $1`,
      [limit],
    );
    return rows;
  },

  /** Uncollectible invoices of an activation that are still payable at Stripe. */
  async uncollectibleForActivation(db: Queryable, activationId: number): Promise<InvoiceRow[]> {
    const { rows } = await db.query<InvoiceRow>(
      `SELECT ${COLUMNS} FROM invoices WHERE activation_id = $1 AND status = 'uncollectible' AND stripe_invoice_id IS NOT NULL`,
      [activationId],
    );
    return rows;
  },

  async markVoided(db: Queryable, id: number): Promise<void> {
    await db.query(`UPDATE invoices SET status = 'void', updated_at = clock_timestamp() WHERE id = $1 AND status = 'uncollectible'`, [id]);
  },

  /** Remembers a webhook event; false if it was applied before. */
  async recordEvent(tx: Queryable, e: { id: string; type: string; stripeInvoiceId?: string }): Promise<boolean> {
    const r = await tx.query(
      `INSERT INTO stripe_events (event_id, type, stripe_invoice_id) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING`,
      [e.id, e.type, e.stripeInvoiceId ?? null],
    );
    return r.rowCount === 1;
  },
};
