// A small migration runner: numbered SQL files, each applied once in its own transaction and
// recorded, under an advisory lock so that instances starting together apply each file once.
// (node-pg-migrate and friends speak only to `pg`; this one runs the same files on PGlite too.)
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AdvisoryLock, type Database } from './database.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => {
      const m = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(f);
      if (!m) throw new Error(`migration file name must look like 001_name.sql: ${f}`);
      return { version: Number(m[1]), name: m[2]!, sql: readFileSync(`${dir}/${f}`, 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
}

export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<{ applied: string[] }> {
  const files = readMigrations(dir);
  return db.withSessionLock(AdvisoryLock.migrations, async (conn) => {
    await conn.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await conn.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file.version)) continue;
      try {
        await conn.exec(
          `BEGIN;\n${file.sql}\n;\nINSERT INTO schema_migrations (version, name) VALUES (${file.version}, '${file.name}');\nCOMMIT;`,
        );
      } catch (err) {
        await conn.exec('ROLLBACK').catch(() => {});
        throw new Error(`migration ${file.version}_${file.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(`${file.version}_${file.name}`);
    }
    return { applied };
  });
}
