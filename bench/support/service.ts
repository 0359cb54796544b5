// Starts the whole service for a benchmark: its own database (see ./database.ts), port 0 on the
// loopback interface, every integration on its local stand-in, LOG_LEVEL=warn unless overridden.
import { loadConfig } from '../../src/config.js';
import { sharedLocalFirebase } from '../../src/local/firebase/server.js';
import { mintEmulatorToken } from '../../src/local/firebase/tokens.js';
import { createService, type Service, type ServiceOverrides } from '../../src/service.js';
import { createBenchDatabase, type BenchDatabase } from './database.js';
import { timedDatabase, type QueryStats } from './timed-database.js';

export const MCP_PATH = '/mcp/v2/messages';

export interface BenchService {
  service: Service;
  database: BenchDatabase;
  url: string;
  mcpUrl: string;
  /** Statements the service ran so far, and the time it waited for them. */
  queryStats(): QueryStats;
  /** A Firebase emulator ID token for this e-mail (one uid per e-mail). */
  token(email: string): string;
  close(): Promise<void>;
}

export async function startBenchService(
  env: Record<string, string> = {},
  overrides: Omit<ServiceOverrides, 'db' | 'skipMigrations'> = {},
): Promise<BenchService> {
  const database = await createBenchDatabase();
  try {
    const config = loadConfig({
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    });
    const timed = timedDatabase(database.db);
    const service = await createService(config, { ...overrides, db: timed.db, skipMigrations: true });
    const url = await service.listen();
    return {
      service,
      database,
      url,
      mcpUrl: `${url.replace('localhost', '127.0.0.1')}${MCP_PATH}`,
      queryStats: timed.stats,
      token: (email) => mintEmulatorToken({ projectId: config.firebaseProjectId, email }),
      async close() {
        await service.shutdown();
        await database.drop();
        // The Firebase stand-in is per process (firebase-admin reads its address from the
        // environment) and outlives the service; close it so that the process can end.
        if (config.local.firebase) await (await sharedLocalFirebase()).close();
      },
    };
  } catch (err) {
    await database.drop();
    throw err;
  }
}
