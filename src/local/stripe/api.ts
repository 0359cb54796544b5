// The `/v1` API: Stripe's wire protocol for the calls the app makes. Request flow:
// injected latency → API key → injected failure → form body → idempotency → injected hang → route
// (one module per resource under ./api/) → 404 or error handler.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { FailureInjector } from '../failures.js';
import { type ApiContext, createRoute, releaseKey, sendError } from './api/answer.js';
import { customerRoutes } from './api/customers.js';
import { type EventLog, eventRoutes } from './api/events.js';
import { createExpand } from './api/expand.js';
import { invoiceItemRoutes } from './api/invoice-items.js';
import { invoiceRoutes, invoiceTransitionRoutes } from './api/invoices.js';
import { pipeline } from './api/pipeline.js';
import type { Resources } from './api/resources.js';
import { StripeApiError } from './errors.js';
import type { IdempotencyCache } from './idempotency.js';
import type { RenderContext } from './render.js';

export interface ApiDeps {
  render: RenderContext;
  idempotency: IdempotencyCache;
  failures: FailureInjector;
  events: EventLog;
  latencyMs: number;
  /** Told of every API request as it arrives (before any latency), for tests that count calls. */
  onRequest(method: string, path: string): void;
  logger: Logger;
  /** Adds to the time the stats must not count (injected latency and hangs). */
  excludeFromStats(res: Response, ms: number): void;
}

export function createApiRouter(deps: ApiDeps): Router {
  const { render, idempotency, logger } = deps;
  const api = express.Router();
  api.use(pipeline(deps));

  const resources: Resources = {
    api,
    route: createRoute(idempotency, logger, { generation: () => render.store.generation, saved: () => render.saved() }),
    store: render.store,
    render,
    expand: createExpand(render),
  };
  customerRoutes(resources);
  invoiceRoutes(resources);
  invoiceTransitionRoutes(resources);
  invoiceItemRoutes(resources);
  eventRoutes(resources, deps.events);

  api.use((req, res) => {
    releaseKey(idempotency, res.locals.api as ApiContext | undefined);
    sendError(
      res,
      new StripeApiError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${req.originalUrl.split('?')[0]}). The local Stripe stand-in serves only the calls the app makes.`),
    );
  });

  api.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    releaseKey(idempotency, res.locals.api as ApiContext | undefined);
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Body parser errors: malformed or too large bodies.
      return sendError(res, new StripeApiError(status, 'invalid_request_error', (err as Error).message));
    }
    logger.error({ err, method: req.method, path: req.originalUrl }, 'local Stripe failed on a request');
    sendError(res, new StripeApiError(500, 'api_error', 'An unexpected error occurred in the local Stripe stand-in.'));
  });

  return api;
}
