// The composition root: config → database → services → HTTP + workers, and an orderly shutdown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { loadCatalog, type Catalog } from './catalog/catalog.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { createFirebaseVerifier, type TokenVerifier } from './identity/firebase-verifier.js';
import { createRegistrationService } from './identity/registration.js';
import { sharedLocalFirebase, type LocalFirebase } from './local/firebase/server.js';
import { createLogger, type Logger } from './logger.js';
import type { ActivationFacade } from './mcp/activation-facade.js';
import { AppError } from './errors.js';

export interface Service {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly catalog: Catalog;
  readonly metrics: Metrics;
  readonly server: Server;
  readonly local: { firebase?: LocalFirebase };
  /** http://host:port once listening (or PUBLIC_BASE_URL). */
  baseUrl(): string;
  listen(): Promise<string>;
  /** Stop accepting, finish in-flight requests and the current jobs, close everything. */
  shutdown(): Promise<void>;
}

export interface ServiceOverrides {
  db?: Database;
  logger?: Logger;
  /** Skip migrations (the test database is migrated already). */
  skipMigrations?: boolean;
}

export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const catalog = loadCatalog(config.CATALOG_FILE);
  const db = overrides.db ?? (await openDatabase(config));
  if (!overrides.skipMigrations) {
    const { applied } = await migrate(db);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  }
  const metrics = createMetrics();
  const local: { firebase?: LocalFirebase } = {};
  const closers: Array<() => Promise<void>> = [];

  let listeningUrl: string | undefined;
  const baseUrl = () => (config.PUBLIC_BASE_URL ?? listeningUrl ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');

  if (config.local.firebase && !config.FIREBASE_AUTH_EMULATOR_HOST) {
    local.firebase = await sharedLocalFirebase();
  } else if (config.FIREBASE_AUTH_EMULATOR_HOST) {
    process.env.FIREBASE_AUTH_EMULATOR_HOST = config.FIREBASE_AUTH_EMULATOR_HOST;
  }
  const firebaseVerifier = createFirebaseVerifier({ projectId: config.firebaseProjectId });
  closers.push(async () => firebaseVerifier.close?.());
  const verifier: TokenVerifier = firebaseVerifier;

  const registration = createRegistrationService({ db, logger, callsPerMinute: config.USER_CALLS_PER_MINUTE });
  const activation: ActivationFacade = {
    async activateEsim(caller) {
      await registration.register(caller);
      throw new AppError('upstream_unavailable', 'Payment is not enabled on this server yet, so no invoice was sent. Your account is registered; please try again later.');
    },
  };

  const app = createApp({
    logger,
    db,
    catalog,
    metrics,
    verifier,
    activation,
    baseUrl,
    allowedOrigins: config.ALLOWED_ORIGINS,
    trustProxy: config.TRUST_PROXY,
    authorizationServers: () => [`https://securetoken.google.com/${config.firebaseProjectId}`],
  });
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  let stopping: Promise<void> | undefined;
  return {
    config,
    logger,
    db,
    catalog,
    metrics,
    server,
    local,
    baseUrl,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.PORT, config.HOST, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      listeningUrl = `http://localhost:${port}`;
      logger.info({ port, baseUrl: baseUrl(), local: config.local }, 'DOTM listening');
      return baseUrl();
    },
    shutdown() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        for (const close of closers.reverse()) await close().catch((err) => logger.warn({ err }, 'close failed'));
        if (!overrides.db) await db.close();
      })();
      return stopping;
    },
  };
}
