import { mkdirSync } from 'node:fs';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

const parsers = {
  [types.INT8]: (v: string) => {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  },
  [types.NUMERIC]: (v: string) => v,
};

function normalise(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value;
}

async function run<T>(c: PGlite | Transaction, sql: string, params?: unknown[]): Promise<QueryResult<T>> {
  const r = await c.query<Record<string, unknown>>(sql, params);
  const rows = r.rows.map((row) => {
    for (const k of Object.keys(row)) row[k] = normalise(row[k]);
    return row;
  }) as T[];
  return { rows, rowCount: r.affectedRows ?? rows.length };
}

/** `dataDir` undefined → in memory. `loadDataDir` starts from a dump (tests: migrate once, copy many). */
export async function createPgliteDatabase(opts: { dataDir?: string; loadDataDir?: Blob } = {}): Promise<Database> {
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    parsers,
  });

  const db: Database & { dump(): Promise<Blob> } = {
    kind: 'pglite',
    query: (sql, params) => run(pglite, sql, params),
    async exec(sql) {
      await pglite.exec(sql);
    },
    withTransaction(fn) {
      return pglite.transaction((tx) => fn({ query: (sql, params) => run(tx, sql, params) } satisfies Queryable));
    },
    async listen(channel, onNotify) {
      const unsubscribe = await pglite.listen(channel, onNotify);
      return async () => {
        if (!pglite.closed) await unsubscribe();
      };
    },
    // One connection: nothing else can interleave, so the lock is the connection itself.
    withSessionLock: (_key, fn) => fn(db),
    async close() {
      if (!pglite.closed) await pglite.close();
    },
    async dump() {
      return pglite.dumpDataDir('none');
    },
  };
  return db;
}
