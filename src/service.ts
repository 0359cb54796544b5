// The composition root: config → database → services → HTTP + workers, and an orderly shutdown.
// Each external service is decided on its own: configured → the real one; not configured → its
// local stand-in, started here on a free port (or mounted in the app).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActivationService, type RateLimitStats } from './activation/activation-service.js';
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
import { sharedLocalFirebase, type LocalFirebase } from './local/firebase/server.js';
import { startLocalOxio, type LocalOxio } from './local/oxio/index.js';
import { createMailboxRouter } from './local/smtp/mailbox.js';
import { startLocalSmtp, type LocalSmtp } from './local/smtp/server.js';
import { startLocalStripe, type LocalStripe } from './local/stripe/index.js';
import { createLogger, type Logger } from './logger.js';
import { createMcpDispatcher, type McpDispatcher } from './mcp/dispatcher.js';
import { createMcpServer } from './mcp/server.js';
import { createMailer } from './notify/mailer.js';
import { EmailOutbox } from './notify/outbox.js';
import { createOAuthModule } from './oauth/index.js';
import { OxioClient } from './telecom/oxio-client.js';

export interface LocalStandIns {
  firebase?: LocalFirebase;
  stripe?: LocalStripe;
  oxio?: LocalOxio;
  smtp?: LocalSmtp;
}

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
  const local: LocalStandIns = { ...overrides.local };
  const ownedStandIns: Array<{ close(): Promise<void> }> = [];
  const closers: Array<() => Promise<void>> = [];

  let listeningUrl: string | undefined;
  const baseUrl = () => (config.PUBLIC_BASE_URL ?? listeningUrl ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');

  // Firebase Auth
  if (config.local.firebase && !config.FIREBASE_AUTH_EMULATOR_HOST) {
    local.firebase ??= await sharedLocalFirebase();
  } else if (config.FIREBASE_AUTH_EMULATOR_HOST) {
    process.env.FIREBASE_AUTH_EMULATOR_HOST = config.FIREBASE_AUTH_EMULATOR_HOST;
  }
  const firebaseVerifier = createFirebaseVerifier({ projectId: config.firebaseProjectId });
  closers.push(async () => firebaseVerifier.close?.());
  // The OAuth authorization server in front of Firebase: its access tokens first, Firebase ID tokens after.
  const oauth = await createOAuthModule({ db, config, logger, baseUrl, firebaseVerifier });
  closers.push(() => oauth.close());
  const verifier: TokenVerifier = firstMatchingVerifier([oauth.verifier, firebaseVerifier]);

  // Stripe
  let stripeKey = config.STRIPE_SECRET_KEY;
  let webhookSecret = config.STRIPE_WEBHOOK_SECRET;
  let stripeEndpoint: { host: string; port: number; protocol: 'http' } | undefined;
  if (config.local.stripe) {
    if (!local.stripe) {
      local.stripe = await startLocalStripe({
        port: config.LOCAL_STRIPE_PORT,
        webhookSecret: config.STRIPE_WEBHOOK_SECRET,
        logger,
      });
      ownedStandIns.push(local.stripe);
    }
    stripeKey = local.stripe.secretKey;
    webhookSecret = local.stripe.webhookSecret;
    stripeEndpoint = { host: local.stripe.host, port: local.stripe.port, protocol: 'http' };
  }
  const gateway = new StripeGateway(createStripeClient({ secretKey: stripeKey!, endpoint: stripeEndpoint, timeoutMs: config.STRIPE_TIMEOUT_MS }));

  // OXIO
  if (config.local.oxio && !local.oxio) {
    local.oxio = await startLocalOxio({
      port: config.LOCAL_OXIO_PORT,
      latencyMs: config.LOCAL_OXIO_LATENCY_MS,
      failureRate: config.LOCAL_OXIO_FAILURE_RATE,
      initiatingMs: config.LOCAL_OXIO_INITIATING_MS,
      logger,
    });
    ownedStandIns.push(local.oxio);
  }
  const oxio = new OxioClient({
    baseUrl: local.oxio?.url ?? config.OXIO_BASE_URL!,
    apiKey: local.oxio?.apiKey ?? config.OXIO_API_KEY!,
    authToken: local.oxio?.authToken ?? config.OXIO_AUTH_TOKEN!,
    brandId: config.OXIO_BRAND_ID,
    timeoutMs: config.OXIO_TIMEOUT_MS,
    maxRetries: config.OXIO_MAX_RETRIES,
    pollIntervalMs: config.OXIO_POLL_INTERVAL_MS,
    pollTimeoutMs: config.OXIO_POLL_TIMEOUT_MS,
    logger,
  });

  // E-mail
  if (config.local.smtp && !local.smtp) {
    local.smtp = await startLocalSmtp({ port: config.LOCAL_SMTP_PORT, logger });
    ownedStandIns.push(local.smtp);
  }
  const mailer = createMailer({
    smtpUrl: local.smtp?.url ?? config.SMTP_URL!,
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
  const registration = createRegistrationService({ db, logger, callsPerMinute: config.USER_CALLS_PER_MINUTE });
  const billing = new BillingService({
    db,
    gateway,
    logger,
    daysUntilDue: config.STRIPE_INVOICE_DUE_DAYS,
    priceCents: (planId) => catalog.byId(planId)!.price_cents,
    stripeCallMaxMs: stripeCallMaxMs(config.STRIPE_TIMEOUT_MS),
    lookUpIntervalSeconds: config.STRIPE_INVOICE_LOOKUP_INTERVAL_SECONDS,
    onQueued: () => worker.wake(),
    onSecondPayment: () => metrics.duplicatePayments.inc(),
  });
  const activation = new ActivationService({ db, registration, billing, limit: config.ACTIVATIONS_PER_HOUR, logger });

  // One statistics query per scrape, shared by the five gauges.
  let scrape: Promise<RateLimitStats> | undefined;
  const stats = () => {
    scrape ??= activation.stats().finally(() => setTimeout(() => (scrape = undefined), 0));
    return scrape;
  };
  metrics.gauge('dotm_activations_current_hour', 'Activations started in the last 60 minutes', async () => (await stats()).current_hour_activations);
  metrics.gauge('dotm_activations_max_per_hour', 'ACTIVATIONS_PER_HOUR', () => config.ACTIVATIONS_PER_HOUR);
  metrics.gauge('dotm_activation_slots_available', 'Activations that may start now', async () => (await stats()).slots_available);
  metrics.gauge('dotm_activation_queue_length', 'Paid activations waiting for a slot', async () => (await stats()).queue_length);
  metrics.gauge(
    'dotm_activation_estimated_wait_minutes',
    'Wait for a payment made now, in whole minutes',
    async () => (await stats()).estimated_wait_minutes,
  );

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
      mountStripeWebhook(a, { billing, gateway, secret: webhookSecret!, toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS, logger }),
    mount: (a) => {
      oauth.mount(a);
      mountAdminRoutes(a, { activation, adminToken: config.ADMIN_TOKEN, db, onQueued: () => worker.wake() });
      mountRefundRoutes(a, { adminToken: config.ADMIN_TOKEN, db });
      if (local.smtp) a.use('/local/mailbox', createMailboxRouter(local.smtp));
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
    local,
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
      if (local.stripe && ownedStandIns.includes(local.stripe)) local.stripe.setWebhookUrl(`http://127.0.0.1:${port}${STRIPE_WEBHOOK_PATH}`);
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
          ...(local.stripe ? { localStripe: local.stripe.url } : {}),
          ...(local.oxio ? { localOxio: local.oxio.url } : {}),
          ...(local.smtp ? { localSmtp: local.smtp.url, mailbox: `${baseUrl()}/local/mailbox` } : {}),
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
        for (const s of ownedStandIns) await s.close().catch(() => {});
        if (!overrides.db) await db.close();
      })();
      return stopping;
    },
  };
}


