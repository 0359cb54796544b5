// The composition root: config → database → services → HTTP + workers, and an orderly shutdown.
// Each external service is the real one or its local stand-in, as the config says (src/local/index.ts
// starts the stand-ins and answers where each service is reached).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActivationService } from './activation/activation-service.js';
import { registerActivationGauges } from './activation/metrics.js';
import { mountAdminRoutes } from './activation/admin-route.js';
import { ActivationWorker, type WorkerHooks } from './activation/worker.js';
import { createApp } from './app.js';
import { BillingService } from './billing/billing-service.js';
import { mountRefundRoutes } from './billing/refunds-route.js';
import { createStripeClient, StripeGateway, stripeCallMaxMs } from './billing/stripe-gateway.js';
import { mountStripeWebhook, STRIPE_WEBHOOK_PATH } from './billing/webhook-route.js';
import { loadCatalog, type Catalog } from './catalog/catalog.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { createFirebaseVerifier, firstMatchingVerifier, type TokenVerifier } from './identity/firebase-verifier.js';
import { createRegistrationService } from './identity/registration.js';
import { userStore } from './identity/user-store.js';
import { mintEmulatorToken } from './local/firebase/tokens.js';
import { startLocalStandIns, type LocalStandIns } from './local/index.js';
import { createLogger, type Logger } from './logger.js';
import { createMcpDispatcher, type McpDispatcher } from './mcp/dispatcher.js';
import { createMcpServer } from './mcp/server.js';
import { createMailer } from './notify/mailer.js';
import { EmailOutbox } from './notify/outbox.js';
import { createOAuthModule } from './oauth/index.js';
import { OxioClient } from './telecom/oxio-client.js';

export interface Service {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly catalog: Catalog;
  readonly metrics: Metrics;
  readonly server: Server;
  readonly local: LocalStandIns;
  readonly activation: ActivationService;
  readonly billing: BillingService;
  readonly worker: ActivationWorker;
  readonly outbox: EmailOutbox;
  /** The MCP server behind its multiplexing transport (requests in flight, shutdown). */
  readonly mcp: McpDispatcher;
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
  /** Do not start the background workers (tests drive them by hand). */
  startWorkers?: boolean;
  workerHooks?: WorkerHooks;
  /** Share stand-ins between several service instances (multi-instance tests). */
  local?: LocalStandIns;
}

export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const catalog = loadCatalog(config.CATALOG_FILE);
  const db = overrides.db ?? (await openDatabase(config, logger));
  if (!overrides.skipMigrations) {
    const { applied } = await migrate(db);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  }
  const metrics = createMetrics();
  // The stand-ins keep their state beside the database's; a database handed in (tests, benchmarks)
  // is not the one in DATA_DIR, so then only a LOCAL_STATE_DIR set explicitly is used.
  const standIns = await startLocalStandIns(config.integrations, {
    logger,
    shared: overrides.local,
    stateDir: overrides.db ? config.LOCAL_STATE_DIR : config.localStateDir,
  });
  const { endpoints } = standIns;
  const closers: Array<() => Promise<void>> = [];

  let listeningUrl: string | undefined;
  const baseUrl = () => (config.PUBLIC_BASE_URL ?? listeningUrl ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');

  // Firebase Auth
  const firebaseVerifier = createFirebaseVerifier({ projectId: config.firebaseProjectId });
  closers.push(async () => firebaseVerifier.close?.());
  // The OAuth authorization server in front of Firebase: its access tokens first, Firebase ID tokens after.
  const oauth = await createOAuthModule({
    db,
    config,
    logger,
    baseUrl,
    firebaseVerifier,
    localIdTokenFor: (email) => mintEmulatorToken({ projectId: config.firebaseProjectId, email }),
  });
  closers.push(() => oauth.close());
  const verifier: TokenVerifier = firstMatchingVerifier([oauth.verifier, firebaseVerifier]);

  // Stripe
  const gateway = new StripeGateway(createStripeClient({ secretKey: endpoints.stripe.secretKey, endpoint: endpoints.stripe.endpoint, timeoutMs: config.STRIPE_TIMEOUT_MS }));

  // OXIO
  const oxio = new OxioClient({
    ...endpoints.oxio,
    brandId: config.OXIO_BRAND_ID,
    timeoutMs: config.OXIO_TIMEOUT_MS,
    maxRetries: config.OXIO_MAX_RETRIES,
    pollIntervalMs: config.OXIO_POLL_INTERVAL_MS,
    pollTimeoutMs: config.OXIO_POLL_TIMEOUT_MS,
    logger,
  });

  // E-mail
  const mailer = createMailer({
    smtpUrl: endpoints.smtpUrl,
    logger,
    timeouts: {
      dnsMs: config.SMTP_DNS_TIMEOUT_MS,
      connectionMs: config.SMTP_CONNECTION_TIMEOUT_MS,
      greetingMs: config.SMTP_GREETING_TIMEOUT_MS,
      socketMs: config.SMTP_SOCKET_TIMEOUT_MS,
      sendMs: config.SMTP_SEND_TIMEOUT_MS,
    },
  });
  closers.push(async () => mailer.close());
  const outbox = new EmailOutbox({
    db,
    mailer,
    from: config.MAIL_FROM,
    logger,
    maxAttempts: config.MAIL_MAX_ATTEMPTS,
    pollMs: Math.min(config.WORKER_POLL_MS, 2000),
  });

  // Activation
  const worker = new ActivationWorker({
    db,
    oxio,
    logger,
    limit: config.ACTIVATIONS_PER_HOUR,
    pollMs: config.WORKER_POLL_MS,
    concurrency: config.WORKER_CONCURRENCY,
    leaseSeconds: config.ACTIVATION_LEASE_SECONDS,
    maxAttempts: config.ACTIVATION_MAX_ATTEMPTS,
    retryBaseSeconds: config.ACTIVATION_RETRY_BASE_SECONDS,
    onActivated: () => outbox.wake(),
    hooks: overrides.workerHooks,
  });
  const priceCents = (planId: string) => {
    const plan = catalog.byId(planId);
    if (!plan) throw new Error(`plan ${planId} is not in the catalogue`);
    return plan.price_cents;
  };
  const registration = createRegistrationService({ db, logger, callsPerMinute: config.USER_CALLS_PER_MINUTE });
  const billing = new BillingService({
    db,
    gateway,
    logger,
    daysUntilDue: config.STRIPE_INVOICE_DUE_DAYS,
    priceCents,
    stripeCallMaxMs: stripeCallMaxMs(config.STRIPE_TIMEOUT_MS),
    lookUpIntervalSeconds: config.STRIPE_INVOICE_LOOKUP_INTERVAL_SECONDS,
    onQueued: () => worker.wake(),
    onSecondPayment: () => metrics.duplicatePayments.inc(),
  });
  const activation = new ActivationService({
    db,
    registration,
    billing,
    limit: config.ACTIVATIONS_PER_HOUR,
    priceCents,
    onQueued: () => worker.wake(),
    logger,
  });

  registerActivationGauges(metrics, activation, config.ACTIVATIONS_PER_HOUR);

  const mcp = await createMcpDispatcher(createMcpServer({ catalog, logger, activation }, metrics), {
    timeoutMs: config.MCP_REQUEST_TIMEOUT_MS,
    logger,
  });
  metrics.gauge('dotm_mcp_requests_in_flight', 'MCP requests waiting for their answer', () => mcp.inFlight());
  closers.push(() => mcp.close());

  const app = createApp({
    logger,
    db,
    catalog,
    metrics,
    verifier,
    mcp,
    baseUrl,
    allowedOrigins: config.ALLOWED_ORIGINS,
    trustProxy: config.TRUST_PROXY,
    authorizationServers: () => [oauth.issuer()],
    mountRaw: (a) =>
      mountStripeWebhook(a, { billing, gateway, secret: endpoints.stripe.webhookSecret, toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS, logger }),
    mount: (a) => {
      oauth.mount(a);
      mountAdminRoutes(a, { activation, adminToken: config.ADMIN_TOKEN });
      mountRefundRoutes(a, { adminToken: config.ADMIN_TOKEN, db });
      standIns.mount(a);
    },
  });
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  let housekeeping: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  return {
    config,
    logger,
    db,
    catalog,
    metrics,
    server,
    local: standIns.running,
    activation,
    billing,
    worker,
    outbox,
    mcp,
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
      standIns.listening({ webhookUrl: `http://127.0.0.1:${port}${STRIPE_WEBHOOK_PATH}`, baseUrl: baseUrl() });
      if (overrides.startWorkers !== false) {
        await worker.start();
        outbox.start();
        housekeeping = setInterval(() => void userStore.pruneCallBuckets(db).catch(() => {}), 60_000);
        housekeeping.unref();
      }
      logger.info(
        {
          port,
          baseUrl: baseUrl(),
          local: config.local,
          ...standIns.describe(baseUrl()),
        },
        'DOTM listening',
      );
      return baseUrl();
    },
    shutdown() {
      stopping ??= (async () => {
        clearInterval(housekeeping);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // A keep-alive connection busy at close() would otherwise stay open after its response
        // until keepAliveTimeout (65 s): close each one as soon as it falls idle.
        const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
        // MCP requests in flight may finish within the grace; the rest are answered with an error,
        // so every caller hears back. A moment for the last answers to go out, then connections
        // still open are closed: Node never counts one that has not sent a request yet as idle.
        const within = (ms: number) => {
          let timer: NodeJS.Timeout | undefined;
          return Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
        };
        const requestsEnded = (async () => {
          const graceEnds = Date.now() + config.SHUTDOWN_GRACE_MS;
          while (mcp.inFlight() > 0 && Date.now() < graceEnds) await new Promise((resolve) => setTimeout(resolve, 50));
          await mcp.close();
          await within(1000);
          server.closeAllConnections();
          await closed;
        })();
        await Promise.all([requestsEnded.finally(() => clearInterval(idleSweep)), worker.stop(), outbox.stop()]);
        for (const close of closers.reverse()) await close().catch((err) => logger.warn({ err }, 'close failed'));
        await standIns.close();
        if (!overrides.db) await db.close();
      })();
      return stopping;
    },
  };
}


