// Migrates one database per test run: a PostgreSQL template database when DATABASE_URL is given,
// a PGlite dump otherwise. Each test file then starts from its own copy (see ./db.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createPgliteDatabase } from '../../src/db/pglite.js';
import { createPgDatabase } from '../../src/db/pg.js';
import { migrate } from '../../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dbTemplate: { kind: 'pg'; adminUrl: string; template: string; prefix: string } | { kind: 'pglite'; dumpFile: string };
  }
}

export function databaseUrlFor(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const url = process.env.DATABASE_URL;
  if (url) {
    const prefix = `dotm_t${randomBytes(4).toString('hex')}`;
    const template = `${prefix}_tpl`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${template}`);
    const db = createPgDatabase(databaseUrlFor(url, template), { max: 2 });
    await migrate(db);
    await db.close();
    project.provide('dbTemplate', { kind: 'pg', adminUrl: url, template, prefix });
    return async () => {
      const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${prefix}%`]);
      for (const r of rows) await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`).catch(() => {});
      await admin.end();
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dotm-pglite-'));
  const db = await createPgliteDatabase();
  await migrate(db);
  const dump = await (db as unknown as { dump(): Promise<Blob> }).dump();
  const dumpFile = join(dir, 'migrated.tar');
  writeFileSync(dumpFile, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  project.provide('dbTemplate', { kind: 'pglite', dumpFile });
  return () => rmSync(dir, { recursive: true, force: true });
}
