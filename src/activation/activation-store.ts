// All SQL of the activation component. Times that decide anything come from the database clock
// (clock_timestamp(), not now(): a transaction that waited for the admission lock must not count
// with the time it started).
import { AdvisoryLock, type Queryable } from '../db/database.js';
import type { ActivationStatus } from './status.js';

export interface Activation {
  id: number;
  user_id: number;
  plan_id: string;
  status: ActivationStatus;
  paid_at: Date | null;
  queue_seq: number | null;
  started_at: Date | null;
  lease_until: Date | null;
  /** The attempt that holds the claim; a worker writes its outcome only while this is still its attempt. */
  attempts: number;
  /** This activation's key at the carrier (its line carries it). */
  carrier_ref: string;
  oxio_end_user_id: string | null;
  oxio_line_id: string | null;
  phone_number: string | null;
  last_error: string | null;
  activated_at: Date | null;
  failed_at: Date | null;
  created_at: Date;
}

const COLUMNS = `id, user_id, plan_id, status, paid_at, queue_seq, started_at, lease_until, attempts, carrier_ref, oxio_end_user_id,
  oxio_line_id, phone_number, last_error, activated_at, failed_at, created_at`;

export interface WindowState {
  now: Date;
  /** Start times in the last 60 minutes, oldest first. */
  starts: Date[];
  queueLength: number;
  admitted: number;
}

export const activationStore = {
  /** The user's current activation: the live one, else the latest failed one. */
  async currentForUser(db: Queryable, userId: number): Promise<Activation | undefined> {
    const { rows } = await db.query<Activation>(
      `SELECT ${COLUMNS} FROM activations WHERE user_id = $1 ORDER BY (status <> 'failed') DESC, id DESC LIMIT 1`,
      [userId],
    );
    return rows[0];
  },

  /** Creates the user's activation awaiting payment, unless one is live already (races resolve to one). */
  async createAwaitingPayment(db: Queryable, userId: number, planId: string): Promise<Activation> {
    await db.query(
      `INSERT INTO activations (user_id, plan_id, status) VALUES ($1, $2, 'awaiting_payment')
       ON CONFLICT (user_id) WHERE status <> 'failed' DO NOTHING`,
      [userId, planId],
    );
    const { rows } = await db.query<Activation>(`SELECT ${COLUMNS} FROM activations WHERE user_id = $1 AND status <> 'failed'`, [userId]);
    return rows[0]!;
  },

  async byId(db: Queryable, id: number): Promise<Activation | undefined> {
    const { rows } = await db.query<Activation>(`SELECT ${COLUMNS} FROM activations WHERE id = $1`, [id]);
    return rows[0];
  },

  /**
   * The payment moved this activation into the queue: takes the next queue number in the same
   * transaction as the payment. Returns false if it was queued already (a repeated payment event).
   */
  async enqueuePaid(tx: Queryable, activationId: number): Promise<boolean> {
    const { rows } = await tx.query<{ id: number }>(
      `SELECT id FROM activations WHERE id = $1 AND status = 'awaiting_payment' FOR UPDATE`,
      [activationId],
    );
    if (!rows[0]) return false;
    const seq = await tx.query<{ enqueued: number }>(
      'UPDATE activation_queue_counters SET enqueued = enqueued + 1 RETURNING enqueued',
    );
    await tx.query(
      `UPDATE activations SET status = 'queued', paid_at = clock_timestamp(), queue_seq = $2, updated_at = clock_timestamp()
       WHERE id = $1`,
      [activationId, seq.rows[0]!.enqueued],
    );
    await tx.query(`SELECT pg_notify('dotm_activation_queued', $1)`, [String(activationId)]);
    return true;
  },

  /**
   * An operator retries a failed activation: a new activation for the same user and payment joins
   * the end of the queue. The failed row keeps its start, which still counts in the window.
   * Returns undefined if `activationId` is not a failed activation; throws on the unique index if
   * the user has a live activation already.
   */
  async requeueFailed(tx: Queryable, activationId: number): Promise<Activation | undefined> {
    const { rows: failed } = await tx.query<Activation>(`SELECT ${COLUMNS} FROM activations WHERE id = $1 AND status = 'failed' FOR UPDATE`, [
      activationId,
    ]);
    const old = failed[0];
    if (!old) return undefined;
    const seq = await tx.query<{ enqueued: number }>('UPDATE activation_queue_counters SET enqueued = enqueued + 1 RETURNING enqueued');
    const { rows } = await tx.query<Activation>(
      `INSERT INTO activations (user_id, plan_id, status, paid_at, queue_seq, oxio_end_user_id)
       VALUES ($1, $2, 'queued', $3, $4, $5)
       RETURNING ${COLUMNS}`,
      [old.user_id, old.plan_id, old.paid_at, seq.rows[0]!.enqueued, old.oxio_end_user_id],
    );
    await tx.query(`UPDATE activations SET last_error = left(coalesce(last_error, '') || ' (requeued as ' || $2 || ')', 500) WHERE id = $1`, [
      activationId,
      rows[0]!.id,
    ]);
    await tx.query(`SELECT pg_notify('dotm_activation_queued', $1)`, [String(rows[0]!.id)]);
    return rows[0];
  },

  /**
   * Admission under the hourly limit, exact across instances: one transaction takes the
   * admission lock, counts the starts in the last 60 minutes and claims the next queued activation
   * only while fewer than `limit` started.
   */
  async admitNext(db: { withTransaction: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T> }, limit: number, leaseSeconds: number) {
    return db.withTransaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.activationAdmission]);
      const { rows: c } = await tx.query<{ n: number }>(
        `SELECT count(*) AS n FROM activations WHERE started_at > clock_timestamp() - interval '1 hour'`,
      );
      const inWindow = c[0]!.n;
      if (inWindow >= limit) return { activation: undefined, inWindow };
      const { rows } = await tx.query<Activation>(
        `UPDATE activations
            SET status = 'activating', started_at = clock_timestamp(), attempts = attempts + 1,
                lease_until = clock_timestamp() + make_interval(secs => $1), updated_at = clock_timestamp()
          WHERE id = (SELECT id FROM activations WHERE status = 'queued' ORDER BY queue_seq LIMIT 1)
          RETURNING ${COLUMNS}`,
        [leaseSeconds],
      );
      if (rows[0]) await tx.query('UPDATE activation_queue_counters SET admitted = admitted + 1');
      return { activation: rows[0], inWindow: inWindow + (rows[0] ? 1 : 0) };
    });
  },

  /** An activation whose worker died (lease expired) or whose retry is due: resumed, not started again. */
  async claimExpired(db: Queryable, leaseSeconds: number): Promise<Activation | undefined> {
    const { rows } = await db.query<Activation>(
      `UPDATE activations
          SET lease_until = clock_timestamp() + make_interval(secs => $1), attempts = attempts + 1, updated_at = clock_timestamp()
        WHERE id = (SELECT id FROM activations
                     WHERE status = 'activating' AND lease_until < clock_timestamp()
                     ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [leaseSeconds],
    );
    return rows[0];
  },

  /**
   * The heartbeat of attempt `attempt`. False once the claim is no longer its own (its lease ran out
   * while the database was out of reach and another worker resumed the activation, or it ended).
   */
  async extendLease(db: Queryable, id: number, attempt: number, leaseSeconds: number): Promise<boolean> {
    const r = await db.query(
      `UPDATE activations SET lease_until = clock_timestamp() + make_interval(secs => $3)
        WHERE id = $1 AND status = 'activating' AND attempts = $2`,
      [id, attempt, leaseSeconds],
    );
    return r.rowCount === 1;
  },

  /**
   * Stores the line and makes the activation active. Any attempt may: the line was found or made
   * under this activation's own carrier key, so it is the right one whichever attempt got it first.
   * A `failed` activation takes it too (an attempt that lost its claim may finish after a later one
   * gave up): a line that exists is delivered, not left behind a failure. Not if the user has
   * another live activation (an operator requeued this one already).
   */
  async recordLine(
    tx: Queryable,
    id: number,
    line: { endUserId: string; lineId: string; iccid: string; phoneNumber: string; activationCode: string },
  ): Promise<boolean> {
    const r = await tx.query(
      `UPDATE activations a
          SET status = 'active', oxio_end_user_id = $2, oxio_line_id = $3, iccid = $4, phone_number = $5, lpa_code = $6,
              activated_at = clock_timestamp(), failed_at = NULL, lease_until = NULL, last_error = NULL, updated_at = clock_timestamp()
        WHERE a.id = $1 AND a.status IN ('activating', 'failed')
          AND NOT EXISTS (SELECT 1 FROM activations o WHERE o.user_id = a.user_id AND o.id <> a.id AND o.status <> 'failed')`,
      [id, line.endUserId, line.lineId, line.iccid, line.phoneNumber, line.activationCode],
    );
    return r.rowCount === 1;
  },

  /**
   * A retryable failure of attempt `attempt`: try again after `retryInSeconds` (the start already
   * counted once). Ignored if the attempt no longer holds the claim.
   */
  async scheduleRetry(db: Queryable, id: number, attempt: number, error: string, retryInSeconds: number): Promise<boolean> {
    const r = await db.query(
      `UPDATE activations SET last_error = $3, lease_until = clock_timestamp() + make_interval(secs => $4), updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'activating' AND attempts = $2`,
      [id, attempt, error.slice(0, 500), retryInSeconds],
    );
    return r.rowCount === 1;
  },

  /** Attempt `attempt` gives up. Ignored if the attempt no longer holds the claim. */
  async markFailed(db: Queryable, id: number, attempt: number, error: string): Promise<boolean> {
    const r = await db.query(
      `UPDATE activations SET status = 'failed', last_error = $3, failed_at = clock_timestamp(), lease_until = NULL, updated_at = clock_timestamp()
        WHERE id = $1 AND status = 'activating' AND attempts = $2`,
      [id, attempt, error.slice(0, 500)],
    );
    return r.rowCount === 1;
  },

  /** Everything position, ETA and statistics need, in one round trip, independent of queue size. */
  async windowState(db: Queryable, limit: number): Promise<WindowState> {
    const { rows } = await db.query<{ now: Date; starts: Date[] | null; enqueued: number; admitted: number }>(
      `SELECT clock_timestamp() AS now,
              (SELECT array_agg(started_at ORDER BY started_at)
                 FROM (SELECT started_at FROM activations
                        WHERE started_at > clock_timestamp() - interval '1 hour'
                        ORDER BY started_at DESC LIMIT $1) w) AS starts,
              q.enqueued, q.admitted
         FROM activation_queue_counters q`,
      [limit],
    );
    const r = rows[0]!;
    return { now: r.now, starts: (r.starts ?? []).map((d) => new Date(d)), queueLength: r.enqueued - r.admitted, admitted: r.admitted };
  },
};
