import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

// PostgreSQL's default of 128 MB of shared buffers is one allocation in PGlite's WebAssembly heap,
// zeroed (so resident) at every start, and that heap never shrinks: it was more than half of what
// the embedded database held. 16 MB holds a new local database with its catalogue (about 8 MB)
// twice over; pages beyond that are read again from the data folder (the OS caches them).
const SETTINGS = ['-c', 'shared_buffers=16MB'];
const START_PARAMS = [...PGlite.defaultStartParams, ...SETTINGS];

/** `dataDir` undefined → in memory. `loadDataDir` starts from a dump (tests: migrate once, copy many). */
export async function createPgliteDatabase(opts: { dataDir?: string; loadDataDir?: Blob } = {}): Promise<Database> {
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    if (!opts.loadDataDir && !existsSync(join(opts.dataDir, 'PG_VERSION'))) await initialiseDataDir(opts.dataDir);
  }
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    parsers,
    startParams: START_PARAMS,
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

// PGlite's initdb runs a second PostgreSQL instance next to the first (each with a WebAssembly heap
// of at least 128 MB, plus a copy of one to reset it between initdb's steps) and copies the new
// folder over as a tar: about 700 MB at its peak, which this process would otherwise keep long
// after (freed heaps wait for a major GC, malloc arenas stay). A short-lived process of its own
// gives all of it back when it exits; this process then opens the folder like on every later start.
const INITDB_SCRIPT = `
const [moduleUrl, dataDir, settings] = process.argv.slice(1);
const { PGlite } = await import(moduleUrl);
const extra = JSON.parse(settings);
const pglite = await PGlite.create({ dataDir, initDbStartParams: extra, startParams: [...PGlite.defaultStartParams, ...extra] });
await pglite.close();
`;

async function initialiseDataDir(dataDir: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', INITDB_SCRIPT, import.meta.resolve('@electric-sql/pglite'), dataDir, JSON.stringify(SETTINGS)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`creating the embedded database in ${dataDir} failed (exit ${code}): ${stderr.trim().slice(-2000)}`);
}
