// One small query interface over pg.Pool (DATABASE_URL) and embedded PGlite (DATA_DIR), with the
// same SQL and the same result types on both: int8 as number, bytea as Buffer, timestamptz as Date.
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Database extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs several statements (migrations). */
  exec(sql: string): Promise<void>;
  /** Subscribes to NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Runs `fn` holding a session-level advisory lock (serialises migrations across instances). */
  withSessionLock<T>(key: number, fn: (conn: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Keys for pg_advisory_*; one place so that no two uses collide. */
export const AdvisoryLock = {
  migrations: 7_311_001,
  activationAdmission: 7_311_002,
} as const;
