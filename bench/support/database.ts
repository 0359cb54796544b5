// A throw-away, freshly migrated database for one benchmark: a new PostgreSQL database on the
// server named by DATABASE_URL (created here, dropped by `drop()`), else an in-memory PGlite.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createPgDatabase } from '../../src/db/pg.js';
import { createPgliteDatabase } from '../../src/db/pglite.js';

export interface BenchDatabase {
  db: Database;
  /** 'pglite (in memory)' or 'postgresql <host>/<database>', for the printed header. */
  label: string;
  /** The connection string of the throw-away database (PostgreSQL only). */
  url?: string;
  drop(): Promise<void>;
}

/** DATABASE_URL as given to the bench (a server we may create databases on), or undefined. */
export const adminDatabaseUrl = (): string | undefined => process.env.DATABASE_URL || undefined;

export async function createBenchDatabase(opts: { poolSize?: number } = {}): Promise<BenchDatabase> {
  const adminUrl = adminDatabaseUrl();
  if (!adminUrl) {
    const db = await createPgliteDatabase();
    await migrate(db);
    return { db, label: 'pglite (in memory)', drop: () => db.close() };
  }
  const name = `dotm_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = createPgDatabase(url, { max: opts.poolSize ?? 10 });
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= (async () => {
      await db.close().catch(() => {});
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
    })());
  try {
    await migrate(db);
  } catch (err) {
    await drop();
    throw err;
  }
  return { db, url, label: `postgresql ${u.hostname}:${u.port || 5432}/${name}`, drop };
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end().catch(() => {});
  }
}
