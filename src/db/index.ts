import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import { createPgDatabase } from './pg.js';
import { createPgliteDatabase } from './pglite.js';

export * from './database.js';

export async function openDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'DATABASE_POOL_SIZE'>,
  logger?: Logger,
): Promise<Database> {
  if (config.DATABASE_URL) return createPgDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, logger });
  return createPgliteDatabase({ dataDir: config.DATA_DIR });
}
