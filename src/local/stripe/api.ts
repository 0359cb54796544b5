// The `/v1` API: Stripe's wire protocol for the calls the app makes. Request flow:
// injected latency → API key → injected failure → form body → idempotency → injected hang → route.
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { StripeApiError, invalidRequest, noSuchResource } from './errors.js';
import type { FailureInjector, InjectedFailure } from './failures.js';
import { type IdempotencyCache, fingerprint } from './idempotency.js';
import { Params, type RawParams } from './params.js';
import { type RenderContext, renderCustomer, renderInvoice, renderInvoiceItem } from './render.js';
import type { CollectionMethod, InvoiceStatus, PageRequest, RequestOrigin } from './store.js';
import type { StripeEventObject } from './webhooks.js';

export interface ApiDeps {
  render: RenderContext;
  idempotency: IdempotencyCache;
  failures: FailureInjector;
  events: { byId(id: string): StripeEventObject | undefined; newestFirst(): StripeEventObject[] };
  latencyMs: number;
  /** Told of every API request as it arrives (before any latency), for tests that count calls. */
  onRequest(method: string, path: string): void;
  logger: Logger;
  /** Adds to the time the stats must not count (injected latency and hangs). */
  excludeFromStats(res: Response, ms: number): void;
}

interface ApiContext {
  requestId: string;
  params: RawParams;
  origin: RequestOrigin;
  injected: InjectedFailure | null;
  /** Set while this request holds an idempotency key reservation. */
  reservedKey: string | null;
}

type Handler = (ctx: ApiContext, req: Request) => unknown;

const INVOICE_STATUSES: readonly InvoiceStatus[] = ['draft', 'open', 'paid', 'uncollectible', 'void'];
const COLLECTION_METHODS: readonly CollectionMethod[] = ['send_invoice', 'charge_automatically'];

export function createApiRouter(deps: ApiDeps): Router {
  const { render, idempotency, failures, logger } = deps;
  const store = render.store;
  const api = express.Router();

  // ── pipeline ────────────────────────────────────────────────────────────────────────────────

  api.use(async (req, res, next) => {
    deps.onRequest(req.method, req.baseUrl + req.path);
    if (deps.latencyMs > 0) {
      await sleep(deps.latencyMs);
      deps.excludeFromStats(res, deps.latencyMs);
    }
    next();
  });

  api.use((req, res, next) => {
    const requestId = `req_${randomBytes(7).toString('hex')}`;
    res.locals.requestId = requestId;
    res.setHeader('Request-Id', requestId);
    const version = req.get('stripe-version');
    if (version) res.setHeader('Stripe-Version', version);
    const key = apiKeyOf(req);
    if (key === null) {
      return sendError(res, new StripeApiError(401, 'invalid_request_error', 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').'));
    }
    if (!key.startsWith('sk_test_')) {
      return sendError(res, new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${redactKey(key)}`, { code: 'api_key_invalid' }));
    }
    next();
  });

  api.use((req, res, next) => {
    const injected = failures.take(req.method, req.baseUrl + req.path);
    res.locals.injected = injected;
    if (injected?.mode === 'error') {
      logger.debug({ method: req.method, path: req.originalUrl }, 'local Stripe: injected 500');
      return sendError(res, injectedError());
    }
    next();
  });

  api.use(express.urlencoded({ extended: true, limit: '1mb', parameterLimit: 1000 }));

  api.use((req, res, next) => {
    const params = (req.method === 'GET' ? req.query : req.body) as RawParams | undefined;
    const idempotencyKey = req.method === 'POST' ? (req.get('idempotency-key') ?? null) : null;
    const ctx: ApiContext = {
      requestId: res.locals.requestId as string,
      params: params ?? {},
      origin: { id: res.locals.requestId as string, idempotencyKey },
      injected: (res.locals.injected as InjectedFailure | null) ?? null,
      reservedKey: null,
    };
    res.locals.api = ctx;
    if (idempotencyKey === null) return next();
    res.setHeader('Idempotency-Key', idempotencyKey);
    if (idempotencyKey.length > 255) {
      return sendError(res, invalidRequest('Idempotency keys can be at most 255 characters long.'));
    }
    const path = req.baseUrl + req.path;
    const lookup = idempotency.begin(idempotencyKey, req.method, path, fingerprint(ctx.params));
    if (lookup.kind === 'error') return sendError(res, lookup.error);
    if (lookup.kind === 'replay') {
      res.setHeader('Idempotent-Replayed', 'true');
      res.setHeader('Original-Request', lookup.answer.requestId);
      return sendJson(res, lookup.answer.status, lookup.answer.body);
    }
    // Held until the request is carried out (route, 404 or error handler below) — not when the
    // client hangs up: a retry under the same key while the first is still running gets 409.
    ctx.reservedKey = idempotencyKey;
    next();
  });

  api.use(async (_req, res, next) => {
    const injected = (res.locals.api as ApiContext).injected;
    if (injected?.mode === 'timeout') {
      await sleep(injected.delayMs);
      deps.excludeFromStats(res, injected.delayMs);
    }
    next();
  });

  /** Ends a reservation that produced no answer worth keeping, so the key may be used again. */
  function releaseKey(ctx: ApiContext): void {
    if (ctx.reservedKey === null) return;
    idempotency.settle(ctx.reservedKey, null);
    ctx.reservedKey = null;
  }

  function route(handler: Handler) {
    return (req: Request, res: Response) => {
      const ctx = res.locals.api as ApiContext;
      let status = 200;
      let body: unknown;
      try {
        body = handler(ctx, req);
      } catch (err) {
        if (!(err instanceof StripeApiError)) throw err;
        status = err.status;
        body = err.toBody();
      }
      const json = JSON.stringify(body);
      if (ctx.reservedKey !== null) {
        const path = req.baseUrl + req.path;
        const key = ctx.reservedKey;
        ctx.reservedKey = null;
        idempotency.settle(key, { method: req.method, path, paramsFingerprint: fingerprint(ctx.params), status, body: json, requestId: ctx.requestId });
      }
      if (ctx.injected?.mode === 'error-after-commit') {
        logger.debug({ method: req.method, path: req.originalUrl, status }, 'local Stripe: injected 500 after commit');
        return sendError(res, injectedError());
      }
      sendJson(res, status, json);
    };
  }

  // ── customers ───────────────────────────────────────────────────────────────────────────────

  api.post(
    '/customers',
    route((ctx) => {
      const p = new Params(ctx.params, ['email', 'name', 'description', 'phone', 'metadata']);
      const customer = store.createCustomer({
        email: p.email('email') ?? null,
        name: p.nullableString('name', { maxLength: 256 }) ?? null,
        description: p.nullableString('description', { maxLength: 350 }) ?? null,
        phone: p.nullableString('phone', { maxLength: 20 }) ?? null,
        metadata: p.metadata() ?? {},
      });
      return expand(renderCustomer(customer), p.expand());
    }),
  );

  api.get(
    '/customers',
    route((ctx) => {
      const p = new Params(ctx.params, ['email', 'limit', 'starting_after', 'ending_before']);
      const page = store.listCustomers({ email: p.string('email') }, pageOf(p));
      return expand(list('/v1/customers', page.data.map(renderCustomer), page.hasMore), p.expand());
    }),
  );

  api.get(
    '/customers/:id',
    route((ctx, req) => {
      const p = new Params(ctx.params, []);
      return expand(renderCustomer(store.customer(String(req.params.id))), p.expand());
    }),
  );

  // ── invoices ────────────────────────────────────────────────────────────────────────────────

  api.post(
    '/invoices',
    route((ctx) => {
      const p = new Params(ctx.params, [
        'customer',
        'collection_method',
        'days_until_due',
        'due_date',
        'description',
        'footer',
        'statement_descriptor',
        'currency',
        'auto_advance',
        'pending_invoice_items_behavior',
        'metadata',
      ]);
      const invoice = store.createInvoice(
        {
          customer: p.string('customer', { required: true })!,
          collectionMethod: p.oneOf('collection_method', COLLECTION_METHODS) ?? 'charge_automatically',
          daysUntilDue: p.integer('days_until_due', { min: 0, max: 730 }) ?? null,
          dueDate: p.integer('due_date', { min: 0 }) ?? null,
          description: p.nullableString('description', { maxLength: 1500 }) ?? null,
          footer: p.nullableString('footer', { maxLength: 5000 }) ?? null,
          statementDescriptor: p.nullableString('statement_descriptor', { maxLength: 22 }) ?? null,
          currency: p.currency('currency', 'usd'),
          autoAdvance: p.boolean('auto_advance') ?? false,
          includePendingItems: p.oneOf('pending_invoice_items_behavior', ['include', 'exclude'] as const) === 'include',
          metadata: p.metadata() ?? {},
        },
        ctx.origin,
      );
      return expand(renderInvoice(render, invoice), p.expand());
    }),
  );

  api.get(
    '/invoices',
    route((ctx) => {
      const p = new Params(ctx.params, ['customer', 'status', 'collection_method', 'limit', 'starting_after', 'ending_before']);
      const page = store.listInvoices(
        { customer: p.string('customer'), status: p.oneOf('status', INVOICE_STATUSES), collectionMethod: p.oneOf('collection_method', COLLECTION_METHODS) },
        pageOf(p),
      );
      return expand(
        list(
          '/v1/invoices',
          page.data.map((invoice) => renderInvoice(render, invoice)),
          page.hasMore,
        ),
        p.expand(),
      );
    }),
  );

  api.get(
    '/invoices/:id',
    route((ctx, req) => {
      const p = new Params(ctx.params, []);
      return expand(renderInvoice(render, store.invoice(String(req.params.id))), p.expand());
    }),
  );

  api.delete(
    '/invoices/:id',
    route((ctx, req) => {
      new Params(ctx.params, []);
      const invoice = store.deleteDraft(String(req.params.id));
      return { id: invoice.id, object: 'invoice', deleted: true };
    }),
  );

  api.post(
    '/invoices/:id/finalize',
    route((ctx, req) => {
      const p = new Params(ctx.params, ['auto_advance']);
      const invoice = store.finalize(String(req.params.id), { autoAdvance: p.boolean('auto_advance') }, ctx.origin);
      return expand(renderInvoice(render, invoice), p.expand());
    }),
  );

  api.post(
    '/invoices/:id/send',
    route((ctx, req) => {
      const p = new Params(ctx.params, []);
      return expand(renderInvoice(render, store.send(String(req.params.id), ctx.origin)), p.expand());
    }),
  );

  api.post(
    '/invoices/:id/void',
    route((ctx, req) => {
      const p = new Params(ctx.params, []);
      return expand(renderInvoice(render, store.void(String(req.params.id), ctx.origin)), p.expand());
    }),
  );

  api.post(
    '/invoices/:id/mark_uncollectible',
    route((ctx, req) => {
      const p = new Params(ctx.params, []);
      return expand(renderInvoice(render, store.markUncollectible(String(req.params.id), ctx.origin)), p.expand());
    }),
  );

  api.post(
    '/invoices/:id/pay',
    route((ctx, req) => {
      const p = new Params(ctx.params, ['paid_out_of_band']);
      const invoice = store.payViaApi(String(req.params.id), { paidOutOfBand: p.boolean('paid_out_of_band') ?? false }, ctx.origin);
      return expand(renderInvoice(render, invoice), p.expand());
    }),
  );

  // ── invoice items ───────────────────────────────────────────────────────────────────────────

  api.post(
    '/invoiceitems',
    route((ctx) => {
      const p = new Params(ctx.params, ['customer', 'invoice', 'amount', 'currency', 'description', 'metadata']);
      const item = store.addInvoiceItem({
        customer: p.string('customer', { required: true })!,
        invoice: p.string('invoice') ?? null,
        amount: p.integer('amount', { required: true, min: -99_999_999, max: 99_999_999 })!,
        currency: p.has('currency') ? p.currency('currency', 'usd') : null,
        description: p.nullableString('description', { maxLength: 500 }) ?? null,
        metadata: p.metadata() ?? {},
      });
      return expand(renderInvoiceItem(item), p.expand());
    }),
  );

  // ── events ──────────────────────────────────────────────────────────────────────────────────

  api.get(
    '/events',
    route((ctx) => {
      const p = new Params(ctx.params, ['type', 'limit', 'starting_after', 'ending_before']);
      const type = p.string('type');
      const all = deps.events.newestFirst().filter((e) => type === undefined || e.type === type);
      const { limit, startingAfter } = pageOf(p);
      const from = startingAfter === undefined ? 0 : all.findIndex((e) => e.id === startingAfter) + 1;
      return list('/v1/events', all.slice(from, from + limit), all.length > from + limit);
    }),
  );

  api.get(
    '/events/:id',
    route((ctx, req) => {
      new Params(ctx.params, []);
      const event = deps.events.byId(String(req.params.id));
      if (!event) throw noSuchResource('event', String(req.params.id));
      return event;
    }),
  );

  // ── the rest ────────────────────────────────────────────────────────────────────────────────

  api.use((req, res) => {
    const ctx = res.locals.api as ApiContext | undefined;
    if (ctx) releaseKey(ctx);
    sendError(
      res,
      new StripeApiError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${req.originalUrl.split('?')[0]}). The local Stripe stand-in serves only the calls the app makes.`),
    );
  });

  api.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const ctx = res.locals.api as ApiContext | undefined;
    if (ctx) releaseKey(ctx);
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Body parser errors: malformed or too large bodies.
      return sendError(res, new StripeApiError(status, 'invalid_request_error', (err as Error).message));
    }
    logger.error({ err, method: req.method, path: req.originalUrl }, 'local Stripe failed on a request');
    sendError(res, new StripeApiError(500, 'api_error', 'An unexpected error occurred in the local Stripe stand-in.'));
  });

  // ── helpers bound to the store ──────────────────────────────────────────────────────────────

  function expand<T extends object>(object: T, paths: string[]): T {
    for (const path of paths) expandPath(object as Record<string, unknown>, path.split('.'), path);
    return object;
  }

  function expandPath(target: Record<string, unknown>, segments: string[], fullPath: string): void {
    const [head, ...rest] = segments;
    if (head === undefined || head === 'id' || !(head in target)) throw cannotExpand(fullPath);
    let value = target[head];
    if (typeof value === 'string') {
      const resolved = resolveId(value);
      if (!resolved) throw cannotExpand(fullPath);
      target[head] = resolved;
      value = resolved;
    }
    if (rest.length === 0) {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw cannotExpand(fullPath);
      return;
    }
    if (Array.isArray(value)) {
      for (const element of value) if (element && typeof element === 'object') expandPath(element as Record<string, unknown>, rest, fullPath);
    } else if (value && typeof value === 'object') {
      expandPath(value as Record<string, unknown>, rest, fullPath);
    }
  }

  function resolveId(id: string): object | null {
    if (id.startsWith('cus_')) {
      const customer = store.findCustomer(id);
      return customer ? renderCustomer(customer) : null;
    }
    if (id.startsWith('in_')) {
      const invoice = store.findInvoice(id);
      return invoice ? renderInvoice(render, invoice) : null;
    }
    return null;
  }

  return api;
}

function cannotExpand(path: string) {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
}

function pageOf(p: Params): PageRequest {
  return {
    limit: p.integer('limit', { min: 1, max: 100 }) ?? 10,
    startingAfter: p.string('starting_after'),
    endingBefore: p.string('ending_before'),
  };
}

function list<T>(url: string, data: T[], hasMore: boolean) {
  return { object: 'list' as const, data, has_more: hasMore, url };
}

function apiKeyOf(req: Request): string | null {
  const header = req.get('authorization');
  if (!header) return null;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return null;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() === 'basic') {
    // curl -u sk_test_…: → the key is the user name.
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.split(':')[0] || null;
  }
  return null;
}

function redactKey(key: string): string {
  return key.length <= 8 ? '***' : `${key.slice(0, 7)}${'*'.repeat(Math.max(0, key.length - 11))}${key.slice(-4)}`;
}

function injectedError() {
  return new StripeApiError(500, 'api_error', 'An unknown error occurred (injected by the local Stripe stand-in).');
}

function sendJson(res: Response, status: number, json: string): void {
  res.status(status).type('application/json').send(json);
}

function sendError(res: Response, err: StripeApiError): void {
  sendJson(res, err.status, JSON.stringify(err.toBody()));
}

/** Unref'd, so a hanging request never keeps the process alive after the server is closed. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
