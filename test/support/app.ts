// Starts the whole service on port 0 with its own freshly migrated database.
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import { createService, type Service, type ServiceOverrides } from '../../src/service.js';
import { mintEmulatorToken, type EmulatorTokenOptions } from '../../src/local/firebase/tokens.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestApp {
  service: Service;
  database: TestDatabase;
  url: string;
  mcpUrl: string;
  /** Every log line written, parsed. */
  logs: Array<Record<string, unknown>>;
  rawLogs(): string;
  token(email: string, o?: Partial<EmulatorTokenOptions>): string;
  /** An MCP SDK client connected over HTTP, optionally with a bearer token. */
  client(opts?: { token?: string; sse?: boolean }): Promise<Client>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Share a database between several app instances (multi-instance and restart tests). */
  database?: TestDatabase;
  /** Passed to createService: startWorkers, workerHooks, shared local stand-ins. */
  overrides?: Omit<ServiceOverrides, 'db' | 'logger' | 'skipMigrations'>;
}

export async function startTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const database = opts.database ?? (await createTestDatabase());
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ADMIN_TOKEN: 'test-admin-token-0123456789',
    WORKER_POLL_MS: '200',
    ...env,
  });
  const service = await createService(config, { ...opts.overrides, db: database.db, skipMigrations: true, logger: createLogger('info', sink) });
  const url = await service.listen();
  const mcpUrl = `${url}${MCP_PATH}`;
  const clients: Client[] = [];
  return {
    service,
    database,
    url,
    mcpUrl,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLogs: () => lines.join('\n'),
    token: (email, o = {}) => mintEmulatorToken({ projectId: config.firebaseProjectId, email, ...o }),
    async client({ token, sse = true } = {}) {
      const client = new Client({ name: 'dotm-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
        requestInit: {
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(sse ? {} : { accept: 'application/json' }),
          },
        },
      });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await service.shutdown();
      if (!opts.database) await database.drop();
    },
  };
}
