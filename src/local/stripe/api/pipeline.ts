// The steps every `/v1` request passes before its route, in order: injected latency → API key →
// injected failure → form body → idempotency → injected hang.
import { randomBytes } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { FailureInjector, InjectedFailure } from '../../failures.js';
import { StripeApiError, invalidRequest } from '../errors.js';
import { type IdempotencyCache, fingerprint } from '../idempotency.js';
import type { RawParams } from '../params.js';
import { type ApiContext, injectedError, sendError, sendJson } from './answer.js';

export interface PipelineDeps {
  idempotency: IdempotencyCache;
  failures: FailureInjector;
  latencyMs: number;
  onRequest(method: string, path: string): void;
  logger: Logger;
  excludeFromStats(res: express.Response, ms: number): void;
}

export function pipeline(deps: PipelineDeps): RequestHandler[] {
  return [
    arrive(deps),
    authenticate,
    injectFailure(deps.failures, deps.logger),
    express.urlencoded({ extended: true, limit: '1mb', parameterLimit: 1000 }),
    reserveIdempotencyKey(deps.idempotency),
    hangIfInjected(deps),
  ];
}

function arrive(deps: PipelineDeps): RequestHandler {
  return async (req, res, next) => {
    deps.onRequest(req.method, req.baseUrl + req.path);
    if (deps.latencyMs > 0) {
      await sleep(deps.latencyMs);
      deps.excludeFromStats(res, deps.latencyMs);
    }
    next();
  };
}

const authenticate: RequestHandler = (req, res, next) => {
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
};

function injectFailure(failures: FailureInjector, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const injected = failures.take(req.method, req.baseUrl + req.path);
    res.locals.injected = injected;
    if (injected?.mode === 'error') {
      logger.debug({ method: req.method, path: req.originalUrl }, 'local Stripe: injected 500');
      return sendError(res, injectedError());
    }
    next();
  };
}

function reserveIdempotencyKey(idempotency: IdempotencyCache): RequestHandler {
  return (req, res, next) => {
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
    // Held until the request is carried out (route, 404 or error handler) — not when the client
    // hangs up: a retry under the same key while the first is still running gets 409.
    ctx.reservedKey = idempotencyKey;
    next();
  };
}

function hangIfInjected(deps: PipelineDeps): RequestHandler {
  return async (_req, res, next) => {
    const injected = (res.locals.api as ApiContext).injected;
    if (injected?.mode === 'timeout') {
      await sleep(injected.delayMs);
      deps.excludeFromStats(res, injected.delayMs);
    }
    next();
  };
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

/** Unref'd, so a hanging request never keeps the process alive after the server is closed. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
