import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  it('are recorded once and re-running applies nothing', async () => {
    const { rows } = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(readMigrations().map((m) => m.version));
    expect(await migrate(t.db)).toEqual({ applied: [] });
  });

  it('normalise types across drivers: int8 and count as numbers, bytea as Buffer, timestamptz as Date', async () => {
    const { rows } = await t.db.query<{ n: number; c: number; b: Buffer; ts: Date }>(
      `SELECT 42::int8 AS n, (SELECT count(*) FROM schema_migrations) AS c, '\\x0102'::bytea AS b, now() AS ts`,
    );
    expect(rows[0]!.n).toBe(42);
    expect(typeof rows[0]!.c).toBe('number');
    expect(Buffer.isBuffer(rows[0]!.b)).toBe(true);
    expect([...rows[0]!.b]).toEqual([1, 2]);
    expect(rows[0]!.ts).toBeInstanceOf(Date);
  });

  it('withTransaction rolls back on error', async () => {
    await expect(
      t.db.withTransaction(async (tx) => {
        await tx.query(`INSERT INTO users (firebase_uid, email) VALUES ('rollback-uid', 'r@example.com')`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await t.db.query(`SELECT 1 FROM users WHERE firebase_uid = 'rollback-uid'`);
    expect(rows).toHaveLength(0);
  });

  it.runIf(onPostgres())('are applied once when several instances start together', async () => {
    await t.db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    const pools = Array.from({ length: 5 }, () => t.connectAgain());
    const results = await Promise.all(pools.map((p) => migrate(p)));
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts.filter((n) => n > 0)).toHaveLength(1);
    expect(appliedCounts.at(-1)).toBe(readMigrations().length);
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
    expect(rows[0]!.n).toBe(readMigrations().length);
  });
});
