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
}

const COLUMNS = `id, user_id, activation_id, plan_id, status, amount_cents, currency, stripe_invoice_id, hosted_invoice_url,
  creation_attempts, lease_until, last_error, paid_at`;

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

  async setStripeId(db: Queryable, id: number, stripeInvoiceId: string): Promise<void> {
    await db.query(`UPDATE invoices SET stripe_invoice_id = $2, updated_at = clock_timestamp() WHERE id = $1`, [id, stripeInvoiceId]);
  },

  async markOpen(db: Queryable, id: number, hostedUrl: string): Promise<void> {
    await db.query(
      `UPDATE invoices SET status = 'open', hosted_invoice_url = $2, lease_until = NULL, last_error = NULL, updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'creating'`,
      [id, hostedUrl],
    );
  },

  async creationFailed(db: Queryable, id: number, error: string): Promise<void> {
    await db.query(`UPDATE invoices SET lease_until = NULL, last_error = $2, updated_at = clock_timestamp() WHERE id = $1`, [
      id,
      error.slice(0, 500),
    ]);
  },

  /** Voided or uncollectible at Stripe: the next request replaces it. */
  async markClosed(db: Queryable, match: { stripeInvoiceId: string; rowId?: number }, status: 'void' | 'uncollectible'): Promise<number> {
    const r = await db.query(
      `UPDATE invoices SET status = $3, lease_until = NULL, updated_at = clock_timestamp()
        WHERE (stripe_invoice_id = $1 OR id = $2) AND status IN ('creating', 'open')`,
      [match.stripeInvoiceId, match.rowId ?? null, status],
    );
    return r.rowCount;
  },

  /**
   * Records a payment. Returns the paid row the first time, undefined if it was recorded already,
   * is not ours, or its activation was paid by another invoice already (see markPaidTwice).
   * Matches by Stripe id, or by our row id from the invoice metadata.
   */
  async markPaid(tx: Queryable, match: { stripeInvoiceId: string; rowId?: number }): Promise<InvoiceRow | undefined> {
    const { rows } = await tx.query<InvoiceRow>(
      `UPDATE invoices SET status = 'paid', paid_at = clock_timestamp(), stripe_invoice_id = $1, lease_until = NULL,
              updated_at = clock_timestamp()
        WHERE id = (SELECT id FROM invoices i WHERE (stripe_invoice_id = $1 OR id = $2) AND status <> 'paid'
                       AND NOT EXISTS (SELECT 1 FROM invoices p WHERE p.activation_id = i.activation_id AND p.status = 'paid')
                     ORDER BY (stripe_invoice_id = $1) DESC LIMIT 1 FOR UPDATE)
        RETURNING ${COLUMNS}`,
      [match.stripeInvoiceId, match.rowId ?? null],
    );
    return rows[0];
  },

  /**
   * A payment for an invoice whose activation another invoice paid already (a replaced invoice paid
   * after all): one payment per activation stands, so this one is noted on its row for a refund.
   * Returns the row the first time it is noted.
   */
  async markPaidTwice(tx: Queryable, match: { stripeInvoiceId: string; rowId?: number }): Promise<InvoiceRow | undefined> {
    const { rows } = await tx.query<InvoiceRow>(
      `UPDATE invoices SET last_error = $3, lease_until = NULL, updated_at = clock_timestamp()
        WHERE id = (SELECT id FROM invoices i WHERE (stripe_invoice_id = $1 OR id = $2) AND status <> 'paid'
                       AND EXISTS (SELECT 1 FROM invoices p WHERE p.activation_id = i.activation_id AND p.status = 'paid')
                     ORDER BY (stripe_invoice_id = $1) DESC LIMIT 1 FOR UPDATE)
          AND last_error IS DISTINCT FROM $3
        RETURNING ${COLUMNS}`,
      [match.stripeInvoiceId, match.rowId ?? null, `paid twice: ${match.stripeInvoiceId} needs a refund`],
    );
    return rows[0];
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
