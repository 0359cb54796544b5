// The Express app: middleware order, routes, one error handler.
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import type { Catalog } from './catalog/catalog.js';
import type { Database } from './db/database.js';
import { AppError, publicMessage, requestBodyError } from './errors.js';
import { createAuthenticator, wwwAuthenticate } from './http/auth.js';
import type { Metrics } from './http/metrics.js';
import { requestLog, type OnRequestEnd } from './http/request-log.js';
import { InvalidTokenError, type TokenVerifier } from './identity/firebase-verifier.js';
import type { Logger } from './logger.js';
import type { McpDispatcher } from './mcp/dispatcher.js';
import { createMcpPostHandler, jsonRpcError, MCP_PATH, MCP_PATHS } from './mcp/endpoint.js';

export const BODY_LIMIT = '1mb';

export interface AppDeps {
  logger: Logger;
  db: Database;
  catalog: Catalog;
  metrics: Metrics;
  verifier: TokenVerifier;
  /** The process's MCP server behind its multiplexing transport. */
  mcp: McpDispatcher;
  /** The public origin of this service, e.g. https://api.dotm.example (no trailing slash). */
  baseUrl(): string;
  /** Origins besides our own that may call the MCP endpoint from a browser. */
  allowedOrigins: readonly string[];
  /** Proxies in front that append to X-Forwarded-For (0: none); the client's own entries are never trusted. */
  trustProxy: number;
  /** Issuers named in the protected-resource metadata. */
  authorizationServers(): string[];
  /** Routes that need the raw body (Stripe webhook): mounted before any JSON parser. */
  mountRaw?(app: Express): void;
  /** Further routes (OAuth, admin, local stand-in pages). */
  mount?(app: Express): void;
}

export const resourceMetadataPath = `/.well-known/oauth-protected-resource${MCP_PATH}`;

function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: string | string[] } }).route?.path;
  if (Array.isArray(route)) return route.includes(req.path) ? req.path : String(route[0]);
  return typeof route === 'string' ? route : req.baseUrl || 'unmatched';
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are JSON made per request (and the landing pages tiny): hashing each body for an ETag
  // cost more than the 304 it could save.
  app.set('etag', false);
  // A hop count, never `true`: `true` would take the left-most X-Forwarded-For, which the client writes.
  if (deps.trustProxy > 0) app.set('trust proxy', deps.trustProxy);

  app.use(requestLog(app, deps.logger, httpMetrics(deps.metrics)));

  // The MCP endpoint first: it takes nearly all the traffic, and no other route shares its paths.
  mountMcp(app, deps);
  mountHealthAndMetrics(app, deps);
  mountProtectedResourceMetadata(app, deps);

  deps.mountRaw?.(app);

  deps.mount?.(app);

  app.get('/', (_req, res) => {
    res.json({
      service: 'DOTM Global Data eSIM',
      mcp_endpoint: `${deps.baseUrl()}${MCP_PATH}`,
      health: '/healthz',
      docs: 'Connect an MCP client (ChatGPT connector, Gemini CLI, MCP Inspector) to the mcp_endpoint.',
    });
  });

  app.use((req, res) => {
    res.status(404).json({ error: 'not_found', message: `No route for ${req.method} ${req.path}` });
  });

  app.use(errorHandler(deps));
  return app;
}

/** Request duration and count per method, route and status, for every request that was answered. */
function httpMetrics(metrics: Metrics): OnRequestEnd {
  // Label objects made once per route: prom-client reads them on every observation.
  const durationLabels = new Map<string, { method: string; route: string }>();
  const countLabels = new Map<string, { method: string; route: string; status: string }>();
  return (req, res, startedAt) => {
    // Called at 'close': a request whose answer never finished (the caller went away) is not counted.
    if (!res.writableFinished) return;
    const route = routeLabel(req);
    const key = `${req.method} ${route}`;
    let labels = durationLabels.get(key);
    if (!labels) durationLabels.set(key, (labels = { method: req.method, route }));
    metrics.httpDuration.observe(labels, (performance.now() - startedAt) / 1000);
    const statusKey = `${key} ${res.statusCode}`;
    let counted = countLabels.get(statusKey);
    if (!counted) countLabels.set(statusKey, (counted = { method: req.method, route, status: String(res.statusCode) }));
    metrics.httpRequests.inc(counted);
  };
}

function mountMcp(app: Express, deps: AppDeps): void {
  const ownOrigin = () => new URL(deps.baseUrl()).origin;
  const originCheck: RequestHandler = (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && origin !== ownOrigin() && !deps.allowedOrigins.includes(origin)) {
      return jsonRpcError(res, 403, -32000, `Forbidden: origin ${origin} is not allowed`);
    }
    next();
  };
  const authenticate = createAuthenticator(deps.verifier);
  app.post(
    MCP_PATHS,
    originCheck,
    express.json({ limit: BODY_LIMIT, type: () => true, strict: false }),
    createMcpPostHandler({ dispatcher: deps.mcp, authenticate }),
  );
  app.all(MCP_PATHS, originCheck, (req, res) => {
    res.setHeader('allow', 'POST');
    jsonRpcError(res, 405, -32000, `Method not allowed: ${req.method}. This endpoint is stateless; send JSON-RPC with POST.`);
  });
}

function mountHealthAndMetrics(app: Express, deps: AppDeps): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.db.query('SELECT 1');
      res.json({ status: 'ready', database: 'ok' });
    } catch {
      res.status(503).json({ status: 'not_ready', database: 'unreachable' });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  });
}

function mountProtectedResourceMetadata(app: Express, deps: AppDeps): void {
  const protectedResource = (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'public, max-age=300');
    res.json({
      resource: `${deps.baseUrl()}${MCP_PATH}`,
      authorization_servers: deps.authorizationServers(),
      bearer_methods_supported: ['header'],
      resource_name: 'DOTM Global Data eSIM',
      resource_documentation: `${deps.baseUrl()}/`,
    });
  };
  app.get('/.well-known/oauth-protected-resource', protectedResource);
  app.get(resourceMetadataPath, protectedResource);
}

/** One error handler: JSON-RPC errors on the MCP paths, plain JSON elsewhere. */
function errorHandler(deps: AppDeps): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const isMcp = MCP_PATHS.includes(req.path);
    if (res.headersSent) {
      req.log?.error({ err }, 'error after response started');
      res.end();
      return;
    }
    const bodyError = requestBodyError(err);
    if (bodyError) {
      // The caller's fault (a corrupt gzip stream, an unknown Content-Encoding, bad JSON): a warning.
      req.log?.warn({ status: bodyError.status, type: bodyError.type, reason: (err as Error).message }, 'request body could not be read');
      if (bodyError.type === 'entity.too.large') {
        return isMcp
          ? jsonRpcError(res, 413, -32600, `Request body too large: the limit is ${BODY_LIMIT.toUpperCase()}`)
          : void res.status(413).json({ error: 'payload_too_large', message: `The limit is ${BODY_LIMIT.toUpperCase()}` });
      }
      if (bodyError.type === 'entity.parse.failed') {
        return isMcp
          ? jsonRpcError(res, 400, -32700, 'Parse error: the body is not valid JSON')
          : void res.status(400).json({ error: 'invalid_json', message: 'The body is not valid JSON' });
      }
      const error = bodyError.status === 415 ? 'unsupported_media_type' : 'bad_request';
      return isMcp
        ? jsonRpcError(res, bodyError.status, -32700, `Parse error: ${bodyError.message}`)
        : void res.status(bodyError.status).json({ error, message: bodyError.message });
    }
    if (err instanceof InvalidTokenError) {
      const metadata = `${deps.baseUrl()}${resourceMetadataPath}`;
      res.setHeader('www-authenticate', wwwAuthenticate(metadata, err.message));
      return void res.status(401).json({ error: 'invalid_token', error_description: err.message });
    }
    if (err instanceof AppError && err.userFault) {
      if (err.httpStatus >= 500) req.log?.warn({ err }, 'request failed upstream');
      return isMcp
        ? jsonRpcError(res, err.httpStatus, -32000, err.message)
        : void res.status(err.httpStatus).json({ error: err.code, message: err.message });
    }
    req.log?.error({ err }, 'request failed');
    return isMcp ? jsonRpcError(res, 500, -32603, publicMessage(err)) : void res.status(500).json({ error: 'internal', message: publicMessage(err) });
  };
}
