import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { createPgDatabase } from '../../src/db/pg.js';
import { createPgliteDatabase } from '../../src/db/pglite.js';

export interface TestDatabase {
  db: Database;
  /** Set when running on PostgreSQL: the connection string of this test's own database. */
  url?: string;
  /** A second, independent connection pool to the same database (PostgreSQL only). */
  connectAgain(): Database;
  drop(): Promise<void>;
}

export const onPostgres = () => inject('dbTemplate').kind === 'pg';

/** A freshly migrated database of its own for the calling test file (or test). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const t = inject('dbTemplate');
  if (t.kind === 'pglite') {
    const blob = new Blob([readFileSync(t.dumpFile)]);
    const db = await createPgliteDatabase({ loadDataDir: blob });
    return {
      db,
      connectAgain: () => {
        throw new Error('a second connection needs PostgreSQL (run with DATABASE_URL)');
      },
      drop: () => db.close(),
    };
  }
  const name = `${t.prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: t.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${t.template}`);
  } finally {
    await admin.end();
  }
  const u = new URL(t.adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const extra: Database[] = [];
  const db = createPgDatabase(url, { max: 10 });
  return {
    db,
    url,
    connectAgain() {
      const d = createPgDatabase(url, { max: 4 });
      extra.push(d);
      return d;
    },
    async drop() {
      await Promise.all([db.close(), ...extra.map((d) => d.close())]).catch(() => {});
      const a = new pg.Client({ connectionString: t.adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await a.end();
    },
  };
}
