import type { Queryable } from '../db/database.js';

export interface User {
  id: number;
  firebase_uid: string;
  email: string;
  email_verified: boolean;
  stripe_customer_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export const userStore = {
  /** Insert on first sight, refresh e-mail on later sight; one row per uid however many race. */
  async upsertFromToken(db: Queryable, u: { uid: string; email: string; emailVerified: boolean }): Promise<User & { inserted: boolean }> {
    const { rows } = await db.query<User & { inserted: boolean }>(
      `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, $3)
       ON CONFLICT (firebase_uid) DO UPDATE
         SET email = EXCLUDED.email,
             email_verified = EXCLUDED.email_verified,
             updated_at = CASE WHEN users.email IS DISTINCT FROM EXCLUDED.email
                                 OR users.email_verified IS DISTINCT FROM EXCLUDED.email_verified
                               THEN now() ELSE users.updated_at END,
             last_seen_at = now()
       RETURNING id, firebase_uid, email, email_verified, stripe_customer_id, created_at, updated_at, (xmax = 0) AS inserted`,
      [u.uid, u.email, u.emailVerified],
    );
    return rows[0]!;
  },

  async byUid(db: Queryable, uid: string): Promise<User | undefined> {
    const { rows } = await db.query<User>(
      'SELECT id, firebase_uid, email, email_verified, stripe_customer_id, created_at, updated_at FROM users WHERE firebase_uid = $1',
      [uid],
    );
    return rows[0];
  },

  async byId(db: Queryable, id: number): Promise<User | undefined> {
    const { rows } = await db.query<User>(
      'SELECT id, firebase_uid, email, email_verified, stripe_customer_id, created_at, updated_at FROM users WHERE id = $1',
      [id],
    );
    return rows[0];
  },

  async setStripeCustomer(db: Queryable, userId: number, customerId: string): Promise<void> {
    await db.query('UPDATE users SET stripe_customer_id = $2, updated_at = now() WHERE id = $1 AND stripe_customer_id IS NULL', [
      userId,
      customerId,
    ]);
  },

  /** Counts one call in the current minute; returns the calls made this minute including this one. */
  async countCall(db: Queryable, userId: number): Promise<number> {
    const { rows } = await db.query<{ calls: number }>(
      `INSERT INTO user_call_buckets (user_id, bucket_start, calls) VALUES ($1, date_trunc('minute', clock_timestamp()), 1)
       ON CONFLICT (user_id, bucket_start) DO UPDATE SET calls = user_call_buckets.calls + 1
       RETURNING calls`,
      [userId],
    );
    return rows[0]!.calls;
  },

  async pruneCallBuckets(db: Queryable): Promise<void> {
    await db.query(`DELETE FROM user_call_buckets WHERE bucket_start < now() - interval '10 minutes'`);
  },
};
