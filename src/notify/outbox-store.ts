// All SQL of the e-mail outbox. Leases and due times come from the database clock, so that senders
// in several instances agree on them. A row's outcome is written only while it is still pending or
// unknown: a row already sent or given up is never changed again.
import type { Queryable } from '../db/database.js';

/** NOTIFY channel: an enqueued row wakes the outbox of every instance (after the commit). */
export const OUTBOX_CHANNEL = 'email_outbox';

export interface OutboxRow {
  id: number;
  kind: string;
  activation_id: number | null;
  recipient: string;
  payload: unknown;
  /** Claims so far, this one included. */
  attempts: number;
}

export const outboxStore = {
  /** Idempotent (UNIQUE kind + activation_id); wakes the outboxes once the transaction commits. */
  async enqueue(tx: Queryable, row: { kind: string; activationId: number; recipient: string; payload: unknown }): Promise<void> {
    await tx.query(
      `INSERT INTO email_outbox (kind, activation_id, recipient, payload)
       VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (kind, activation_id) DO NOTHING`,
      [row.kind, row.activationId, row.recipient, JSON.stringify(row.payload)],
    );
    await tx.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
  },

  /**
   * Leases the next due row, in a statement of its own (FOR UPDATE SKIP LOCKED: concurrent senders
   * take different rows), and counts the attempt. Rows in `exclude` are not taken again.
   */
  async claimNext(db: Queryable, exclude: number[], leaseSeconds: number): Promise<OutboxRow | undefined> {
    const { rows } = await db.query<OutboxRow>(
      `UPDATE email_outbox o
          SET lease_until = now() + make_interval(secs => $2), attempts = o.attempts + 1
        WHERE o.id = (
          SELECT id FROM email_outbox
           WHERE status IN ('pending', 'unknown')
             AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now())
             AND NOT (id = ANY($1::bigint[]))
           ORDER BY next_attempt_at, id
           LIMIT 1
           FOR UPDATE SKIP LOCKED)
       RETURNING o.id, o.kind, o.activation_id, o.recipient, o.payload, o.attempts`,
      [exclude, leaseSeconds],
    );
    return rows[0];
  },

  async markSent(db: Queryable, id: number, messageId: string): Promise<void> {
    await db.query(
      `UPDATE email_outbox
          SET status = 'sent', message_id = $2, sent_at = now(), lease_until = NULL, last_error = NULL
        WHERE id = $1 AND status IN ('pending', 'unknown')`,
      [id, messageId],
    );
  },

  /** Not sent this time: due again after `delayMs`, `unknown` when the relay may have taken it. */
  async scheduleRetry(db: Queryable, id: number, r: { lastError: string; delayMs: number; outcomeUnknown: boolean }): Promise<void> {
    await db.query(
      `UPDATE email_outbox
          SET status = $4, last_error = $2, lease_until = NULL,
              next_attempt_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND status IN ('pending', 'unknown')`,
      [id, r.lastError, r.delayMs / 1000, r.outcomeUnknown ? 'unknown' : 'pending'],
    );
  },

  async markDead(db: Queryable, id: number, lastError: string): Promise<void> {
    await db.query(
      `UPDATE email_outbox SET status = 'dead', last_error = $2, lease_until = NULL
        WHERE id = $1 AND status IN ('pending', 'unknown')`,
      [id, lastError],
    );
  },
};
