// The embedded database in a data folder, as `npm start` opens it without DATABASE_URL: the first
// start creates the database (in a process of its own), later starts find what was written.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createPgliteDatabase } from '../../src/db/pglite.js';
import { onPostgres } from '../support/db.js';

describe.skipIf(onPostgres())('embedded database in a data folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'dotm-data-dir-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is created on the first start and keeps its data across starts', async () => {
    const dataDir = join(root, 'data');
    const first = await createPgliteDatabase({ dataDir });
    try {
      await migrate(first);
      await first.query(`INSERT INTO users (firebase_uid, email) VALUES ('kept-uid', 'kept@example.com')`);
    } finally {
      await first.close();
    }
    expect(readFileSync(join(dataDir, 'postgresql.conf'), 'utf8')).toMatch(/^shared_buffers = 16MB/m);

    const again = await createPgliteDatabase({ dataDir });
    try {
      const { rows } = await again.query<{ email: string }>(`SELECT email FROM users WHERE firebase_uid = 'kept-uid'`);
      expect(rows).toEqual([{ email: 'kept@example.com' }]);
      expect(await migrate(again)).toEqual({ applied: [] });
      const { rows: settings } = await again.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(settings[0]!.shared_buffers).toBe('16MB');
    } finally {
      await again.close();
    }
  });
});
