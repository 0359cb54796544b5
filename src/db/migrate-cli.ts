// `npm run migrate`: apply pending migrations to DATABASE_URL (or the PGlite folder) and exit.
import { loadConfig, ConfigError } from '../config.js';
import { openDatabase } from './index.js';
import { migrate } from './migrate.js';

try {
  const config = loadConfig();
  const db = await openDatabase(config);
  const { applied } = await migrate(db);
  await db.close();
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).message)}\n`);
  process.exitCode = 1;
}
