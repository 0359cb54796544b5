import pg from 'pg';
import { backoffDelay } from '../backoff.js';
import type { Logger } from '../logger.js';
import type { Database, Queryable, QueryResult } from './database.js';

const INT8 = 20;
const NUMERIC = 1700;

const parseInt8 = (v: string) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
};

/** First reconnect of the LISTEN connection after this long, doubling up to the cap. */
const LISTEN_RETRY_MIN_MS = 100;
const LISTEN_RETRY_MAX_MS = 10_000;

export interface PgDatabaseOptions {
  max?: number;
  /** Where lost and restored connections are reported; silent without one. */
  logger?: Logger;
}

type Types = NonNullable<pg.ClientConfig['types']>;

/**
 * One connection that LISTENs on every subscribed channel. A NOTIFY only reaches a live session, so
 * when the connection drops (failover, restart, pg_terminate_backend) it is opened again with
 * backoff and LISTEN re-issued; notifications sent in the gap are lost, so every subscriber is then
 * called once with an empty payload to look for work it may have missed.
 */
class PgListener {
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly log: Logger | undefined,
  ) {}

  async subscribe(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    let subscribers = this.channels.get(channel);
    if (!subscribers) this.channels.set(channel, (subscribers = new Set()));
    subscribers.add(onNotify);
    // The first subscriber opens the connection; while it is down and a retry is scheduled, the
    // retry LISTENs on this channel too.
    if (!this.client && !this.retryTimer) await (this.connecting ?? this.connect(false));
    // LISTEN is idempotent; a failure means the connection is going, and the reconnect re-issues it.
    await this.client?.query(`LISTEN ${channel}`).catch(() => {});
    return async () => {
      subscribers.delete(onNotify);
      if (subscribers.size > 0 || this.channels.get(channel) !== subscribers) return;
      this.channels.delete(channel);
      if (this.channels.size === 0) await this.close(false);
      else await this.client?.query(`UNLISTEN ${channel}`).catch(() => {});
    };
  }

  async close(final = true): Promise<void> {
    if (final) this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private connect(reconnecting: boolean): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const attempt = (async () => {
      const client = new pg.Client(this.config);
      // Errors of this connection only mean "reconnect"; never let one reach the process.
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client, undefined));
      client.on('notification', (m) => this.dispatch(m.channel, m.payload ?? ''));
      try {
        await client.connect();
        for (const channel of this.channels.keys()) await client.query(`LISTEN ${channel}`);
      } catch (err) {
        client.removeAllListeners('end');
        await client.end().catch(() => {});
        this.scheduleReconnect(err);
        return;
      }
      if (this.closed || this.channels.size === 0) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      if (reconnecting || this.failures > 0) {
        this.log?.info({ failures: this.failures }, 'LISTEN connection restored');
        this.failures = 0;
        // Anything notified while the connection was down was lost: look now.
        for (const channel of this.channels.keys()) this.dispatch(channel, '');
      }
    })().finally(() => {
      this.connecting = undefined;
    });
    this.connecting = attempt;
    return attempt;
  }

  private lost(client: pg.Client, err: Error | undefined): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => {});
    if (this.closed || this.channels.size === 0) return;
    this.log?.warn({ err: err?.message ?? 'connection ended' }, 'LISTEN connection lost; reconnecting');
    this.scheduleReconnect(undefined);
  }

  private scheduleReconnect(err: unknown): void {
    if (this.closed || this.channels.size === 0 || this.retryTimer) return;
    const delay = backoffDelay(this.failures, { base: LISTEN_RETRY_MIN_MS, max: LISTEN_RETRY_MAX_MS });
    this.failures += 1;
    if (err !== undefined) {
      this.log?.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'LISTEN connection failed; retrying');
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect(true);
    }, delay);
    this.retryTimer.unref();
  }

  private dispatch(channel: string, payload: string): void {
    for (const onNotify of this.channels.get(channel) ?? []) {
      try {
        onNotify(payload);
      } catch (err) {
        this.log?.error({ err, channel }, 'NOTIFY subscriber threw');
      }
    }
  }
}

/**
 * Runs `fn` on a client checked out of the pool. A checked-out client has no error listener of the
 * pool's; one whose connection is terminated between two statements would emit an unhandled
 * 'error' and end the process. Here it only fails `fn`, and the broken client is discarded.
 */
async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

// INT8 as a number while it fits exactly, NUMERIC as the exact string; the rest as pg parses them.
const TYPES: Types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return parseInt8;
    if (oid === NUMERIC) return (v: string) => v;
    return pg.types.getTypeParser(oid, format);
  },
} as Types;

async function run<T>(c: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<T>> {
  const r = await c.query(sql, params as unknown[]);
  return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
}

/** `fn` between BEGIN and COMMIT on one client, rolled back if it throws. */
async function inTransaction<T>(client: pg.PoolClient, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn({ query: (sql, params) => run(client, sql, params) });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export function createPgDatabase(connectionString: string, opts: PgDatabaseOptions = {}): Database {
  // TCP keepalive: a connection whose peer vanished without a reset is noticed, not kept forever.
  const connection = { connectionString, types: TYPES, keepAlive: true, keepAliveInitialDelayMillis: 10_000 };
  const pool = new pg.Pool({
    ...connection,
    max: opts.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const listener = new PgListener({ ...connection, connectionTimeoutMillis: 10_000 }, opts.logger?.child({ component: 'db' }));

  const db: Database = {
    kind: 'pg',
    query: (sql, params) => run(pool, sql, params),
    async exec(sql) {
      await pool.query(sql);
    },
    withTransaction: (fn) =>
      withClient(pool, (client) => inTransaction(client, fn)),
    async listen(channel, onNotify) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
      return listener.subscribe(channel, onNotify);
    },
    withSessionLock: (key, fn) =>
      withClient(pool, async (client) => {
        await client.query('SELECT pg_advisory_lock($1)', [key]);
        try {
          const conn: Database = {
            ...db,
            query: (sql, params) => run(client, sql, params),
            async exec(sql) {
              await client.query(sql);
            },
            withTransaction: (inner) => inTransaction(client, inner),
          };
          return await fn(conn);
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
        }
      }),
    async close() {
      await listener.close();
      await pool.end();
    },
  };
  return db;
}
