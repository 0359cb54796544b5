// How the `/v1` API answers: the per-request context the pipeline builds, the wrapper that turns a
// route's result or StripeApiError into JSON and settles the idempotency key, and Stripe's error shape.
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { InjectedFailure } from '../../failures.js';
import { StripeApiError } from '../errors.js';
import { type IdempotencyCache, fingerprint } from '../idempotency.js';
import type { RawParams } from '../params.js';
import type { RequestOrigin } from '../records.js';

export interface ApiContext {
  requestId: string;
  params: RawParams;
  origin: RequestOrigin;
  injected: InjectedFailure | null;
  /** Set while this request holds an idempotency key reservation. */
  reservedKey: string | null;
}

/** A route's work: returns the answer's body or throws a StripeApiError. */
export type Handler = (ctx: ApiContext, req: Request) => unknown;

export type Route = (handler: Handler) => RequestHandler;

/**
 * Wraps handlers: answers, stores the answer under the request's idempotency key, injects a late
 * 500. A request that changed the state is answered once the change is saved, as Stripe answers
 * once it has committed: a restart never forgets an invoice the caller was told about.
 */
export function createRoute(idempotency: IdempotencyCache, logger: Logger, state: { generation(): number; saved(): Promise<void> }): Route {
  return (handler) => async (req: Request, res: Response) => {
    const ctx = res.locals.api as ApiContext;
    let status = 200;
    let body: unknown;
    const before = state.generation();
    try {
      body = handler(ctx, req);
    } catch (err) {
      if (!(err instanceof StripeApiError)) throw err;
      status = err.status;
      body = err.toBody();
    }
    const json = JSON.stringify(body);
    if (state.generation() !== before) await state.saved();
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

/** Ends a reservation that produced no answer worth keeping, so the key may be used again. */
export function releaseKey(idempotency: IdempotencyCache, ctx: ApiContext | undefined): void {
  if (!ctx || ctx.reservedKey === null) return;
  idempotency.settle(ctx.reservedKey, null);
  ctx.reservedKey = null;
}

export function injectedError() {
  return new StripeApiError(500, 'api_error', 'An unknown error occurred (injected by the local Stripe stand-in).');
}

export function sendJson(res: Response, status: number, json: string): void {
  res.status(status).type('application/json').send(json);
}

export function sendError(res: Response, err: StripeApiError): void {
  sendJson(res, err.status, JSON.stringify(err.toBody()));
}
