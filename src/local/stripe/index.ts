// A local Stripe-compatible HTTP server for the subset of the API the app uses (customers, invoices,
// invoice items, the invoice state machine), with a hosted invoice page and signed webhooks. The
// real `stripe` SDK talks to it: new Stripe(local.secretKey, { host: local.host, port: local.port, protocol: 'http' }).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { pino, type Logger } from 'pino';
import { createApiRouter } from './api.js';
import { FailureInjector, type FailureRule } from '../failures.js';
import { createHostedPageRouter } from './hosted-page.js';
import { RequestStats } from './request-stats.js';
import { IdempotencyCache } from './idempotency.js';
import { type RenderContext, renderInvoice } from './render.js';
import { EventLog, invoiceEvent } from './event-log.js';
import { LocalStripeStore } from './store.js';
import { readStateFile, SnapshotFile } from '../state.js';
import { STRIPE_STATE_FILE, stripeStateFile, stripeStateSchema } from './state-file.js';
import { DEFAULT_RETRY_POLICY, WebhookDispatcher, type StripeEventObject, type WebhookRetryPolicy } from './webhooks.js';

export type { StripeEventObject, WebhookRetryPolicy, FailureRule };
export { signatureHeader } from './webhooks.js';

export interface LocalStripeOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  webhookUrl?: string;
  /** Default: a generated whsec_… */
  webhookSecret?: string;
  /** Added to every API request (not to the hosted page). Default 0. */
  latencyMs?: number;
  /** Base of hosted_invoice_url. Default http://<host>:<port>. */
  publicBaseUrl?: string;
  logger?: Logger;
  /** Shown on the hosted invoice page and as the invoice's account_name. Default 'DOTM'. */
  accountName?: string;
  /** Webhook retry schedule; defaults: 200 ms doubling to 30 s, 12 attempts, 10 s per attempt. */
  webhookRetry?: Partial<WebhookRetryPolicy>;
  /** How many past events `events()` and GET /v1/events keep (oldest dropped first). Default 10 000. */
  eventHistoryLimit?: number;
  /**
   * A folder (the caller holds it: see ../state.ts) where customers, invoices and undelivered
   * events are kept in stripe.json, so a restart finds them again. Unset: in memory only.
   */
  stateDir?: string;
}

export interface LocalStripe {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** A key the app can pass to the SDK; any key starting with sk_test_ is accepted. */
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** The state file, when the stand-in keeps one. */
  readonly stateFile: string | null;
  setWebhookUrl(url: string): void;
  /** Where hosted_invoice_url points from now on (no trailing slash); the pages are served there by whoever mounts `hostedPages`. */
  setPublicBaseUrl(url: string): void;
  /** The hosted invoice pages (`/i/:id`, its Pay form and PDF), to mount on another server as well. */
  readonly hostedPages: Router;
  /**
   * Failure injection for API requests (/v1/…): the next `times` requests matching method+path
   * answer a Stripe-shaped 500 ('error'), or hang for delayMs before being carried out ('timeout');
   * 'error-after-commit' performs the operation and then answers 500.
   */
  injectFailure(f: FailureRule): void;
  clearFailures(): void;
  /** While held, events queue up undelivered. */
  holdWebhooks(hold: boolean): void;
  /** Stops holding and resolves once everything queued has been delivered (or given up). */
  releaseWebhooks(): Promise<void>;
  /** Resolves once no webhook delivery is pending (nothing queued, in flight or waiting to retry). */
  webhooksIdle(): Promise<void>;
  /** Every event emitted (up to eventHistoryLimit), oldest first, for replay tests. */
  events(): StripeEventObject[];
  /** Redelivers one event now (signed afresh); resolves to the HTTP status the app answered. */
  deliverEvent(eventId: string): Promise<number>;
  /** Same effect as the Pay button on the hosted page. */
  pay(invoiceId: string): Promise<void>;
  voidInvoice(invoiceId: string): Promise<void>;
  markUncollectible(invoiceId: string): Promise<void>;
  counts(): { customers: number; invoices: number; openInvoices: number };
  /** API requests received (method and path, e.g. `GET /v1/invoices/in_…`), oldest first, up to eventHistoryLimit. */
  apiRequests(): Array<{ method: string; path: string }>;
  /** Requests served and milliseconds spent inside the stand-in (arrival → response end, excluding injected latency). */
  stats(): { requests: number; handlerMs: number };
  close(): Promise<void>;
}

export async function startLocalStripe(opts: LocalStripeOptions = {}): Promise<LocalStripe> {
  const bindHost = opts.host ?? '127.0.0.1';
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'local-stripe' });
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  const secretKey = `sk_test_local_${randomBytes(12).toString('hex')}`;
  const retry: WebhookRetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.webhookRetry };

  const stateFile = opts.stateDir ? join(opts.stateDir, STRIPE_STATE_FILE) : null;
  let saving: SnapshotFile | null = null;
  const webhooks = new WebhookDispatcher(opts.webhookUrl, webhookSecret, retry, logger, () => saving?.changed());
  const eventLog = new EventLog(opts.eventHistoryLimit ?? 10_000);
  let publicBaseUrl = opts.publicBaseUrl?.replace(/\/+$/, '') ?? '';

  // The store reports state changes; each becomes an event with a snapshot of the invoice.
  let render: RenderContext;
  const store = new LocalStripeStore(
    (type, invoice, origin) => {
      webhooks.enqueue(eventLog.record(invoiceEvent(type, renderInvoice(render, invoice), origin)), invoice.id);
      saving?.changed();
    },
    () => saving?.changed(),
  );
  render = {
    store,
    publicBaseUrl: () => publicBaseUrl,
    accountName: opts.accountName ?? 'DOTM',
    saved: () => saving?.flushed() ?? Promise.resolve(),
  };
  if (stateFile) {
    const kept = readStateFile(stateFile, stripeStateSchema, logger);
    if (kept) {
      store.restore(kept);
      // Events the last run had not delivered go out once a webhook URL is known.
      for (const event of kept.pendingEvents) webhooks.enqueue(eventLog.record(event), event.data.object.id);
      logger.info({ stateFile, ...store.counts(), pendingEvents: kept.pendingEvents.length }, 'local Stripe: state restored');
    }
    saving = new SnapshotFile(stateFile, () => stripeStateFile(store.snapshot(), webhooks.pending()), logger);
  }

  const stats = new RequestStats();
  const failures = new FailureInjector();
  const apiRequests: Array<{ method: string; path: string }> = [];
  const hostedPages = createHostedPageRouter(render, logger);
  const app = stripeApp({ logger, stats, render, failures, eventLog, apiRequests, hostedPages, latencyMs: opts.latencyMs ?? 0 });

  const server: Server = createServer(app);
  await listen(server, opts.port ?? 0, bindHost);
  const port = (server.address() as AddressInfo).port;
  // A wildcard bind is reachable on loopback; that is the address clients should use.
  const host = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!publicBaseUrl) publicBaseUrl = url;
  logger.info({ url, webhookUrl: opts.webhookUrl ?? null }, 'local Stripe listening');

  let closed: Promise<void> | null = null;

  return {
    url,
    host,
    port,
    secretKey,
    webhookSecret,
    stateFile,
    hostedPages,
    setWebhookUrl: (webhookUrl) => webhooks.setUrl(webhookUrl),
    setPublicBaseUrl: (base) => {
      publicBaseUrl = base.replace(/\/+$/, '');
    },
    injectFailure: (rule) => failures.add(rule),
    clearFailures: () => failures.clear(),
    holdWebhooks: (hold) => webhooks.hold(hold),
    releaseWebhooks: () => webhooks.release(),
    webhooksIdle: () => webhooks.idle(),
    events: () => eventLog.oldestFirst().map((event) => structuredClone(event)),
    deliverEvent: async (eventId) => {
      const event = eventLog.byId(eventId);
      if (!event) throw new Error(`local Stripe: no such event ${eventId}`);
      return webhooks.deliverNow(event);
    },
    pay: (invoiceId) =>
      asPromise(() => {
        const invoice = store.invoice(invoiceId);
        if (invoice.status === 'draft') throw new Error(`local Stripe: invoice ${invoiceId} is a draft; finalize it before paying`);
        if (invoice.status === 'void') throw new Error(`local Stripe: invoice ${invoiceId} is void`);
        store.payFromHostedPage(invoiceId);
      }).then(render.saved),
    voidInvoice: (invoiceId) => asPromise(() => store.void(invoiceId, null)).then(render.saved),
    markUncollectible: (invoiceId) => asPromise(() => store.markUncollectible(invoiceId, null)).then(render.saved),
    counts: () => store.counts(),
    apiRequests: () => apiRequests.map((request) => ({ ...request })),
    stats: () => stats.totals(),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        webhooks.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => saving?.flushed()); // events still queued are in the file since they were queued
      return closed;
    },
  };
}

interface StripeAppParts {
  logger: Logger;
  stats: RequestStats;
  render: RenderContext;
  failures: FailureInjector;
  eventLog: EventLog;
  /** Appended to as requests arrive, trimmed to the event log's limit. */
  apiRequests: Array<{ method: string; path: string }>;
  hostedPages: Router;
  latencyMs: number;
}

function stripeApp({ logger, stats, render, failures, eventLog, apiRequests, hostedPages, latencyMs }: StripeAppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Stripe's GET parameters use bracket notation too (expand[0]=…, created[gte]=…).
  app.set('query parser', 'extended');
  app.use(stats.middleware);
  const api = createApiRouter({
    render,
    idempotency: new IdempotencyCache(),
    failures,
    events: eventLog,
    latencyMs,
    onRequest: (method, path) => {
      apiRequests.push({ method, path });
      if (apiRequests.length > eventLog.limit) apiRequests.shift();
    },
    logger,
    excludeFromStats: (res, ms) => stats.exclude(res, ms),
  });
  app.use('/v1', api);
  app.use(hostedPages);
  app.use((_req, res) => {
    res.status(404).type('application/json').send(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Not found' } }));
  });
  return app;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A test's synchronous action as a promise: what it throws becomes the rejection. */
function asPromise(action: () => void): Promise<void> {
  try {
    action();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
