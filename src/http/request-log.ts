// One log line per request with its request id (given in X-Request-Id or made here, and echoed
// back), and `req.log` for the handlers: a logger bound to the request. pino-http does this; at a
// level above `info` the line of a successful request is not written, but pino-http would still
// build two child loggers, its serializers' output and three listeners per request — about a tenth
// of the MCP endpoint's CPU time (`npm run bench -- mcp --profile`). There, `req.log` is made on
// first use, and only failed and aborted requests get their line (the levels pino-http gives them).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';

const UNLOGGED = new Set(['/healthz', '/metrics']);
const GIVEN_ID = /^[\w.-]{1,100}$/;

function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

type Level = 'info' | 'warn' | 'error';
const levelOf = (res: ServerResponse, err?: unknown): Level => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info');

const serializers = {
  // The path only: query strings can carry OAuth codes, e-mail-link codes and other secrets.
  req: (req: { id: unknown; method: string; originalUrl?: string; url: string }) => ({
    id: req.id,
    method: req.method,
    url: (req.originalUrl ?? req.url).split('?')[0],
  }),
  res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
};

/** Called once per request when its connection is done with it, with its start (performance.now()). */
export type OnRequestEnd = (req: Request, res: ServerResponse, startedAt: number) => void;

/**
 * Mount first: every later handler finds `req.id` and `req.log`. `onEnd` (the request metrics) is
 * called from the same listener as the log line, so a request carries one listener for both.
 */
export function requestLog(app: Express, logger: Logger, onEnd?: OnRequestEnd): RequestHandler {
  if (logger.isLevelEnabled('info')) {
    const log = pinoHttp({
      logger,
      genReqId: requestId,
      customLogLevel: (_req, res, err) => levelOf(res, err),
      // Our serializers read the raw objects: pino's wrapped request copies every header first.
      wrapSerializers: false,
      serializers,
      autoLogging: { ignore: (req) => UNLOGGED.has(req.url ?? '') },
    });
    if (!onEnd) return log;
    return (req, res, next) => {
      const startedAt = performance.now();
      res.once('close', () => onEnd(req, res, startedAt));
      log(req, res, next);
    };
  }

  // The logger pino-http would bind to each request: the same serializers, `req` as a binding.
  const base = logger.child({}, { serializers });
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request) {
      const log = base.child({ req: this });
      Object.defineProperty(this, 'log', { value: log, writable: true, configurable: true, enumerable: true });
      return log;
    },
  });
  return (req, res, next) => {
    req.id = requestId(req, res);
    const logged = !UNLOGGED.has(req.url);
    if (logged || onEnd) {
      const startedAt = performance.now();
      res.once('close', () => {
        onEnd?.(req, res, startedAt);
        if (logged) logFailure(req, res, startedAt);
      });
    }
    next();
  };
}

/** pino-http's line and level for a request that failed or was aborted; a success is `info`, not written here. */
function logFailure(req: Request, res: ServerResponse, startedAt: number): void {
  // An abort before any status was set is `info` too.
  const level = levelOf(res);
  if (level === 'info') return;
  const responseTime = Math.round(performance.now() - startedAt);
  if (level === 'error') {
    req.log.error({ res, err: new Error(`failed with status code ${res.statusCode}`), responseTime }, 'request errored');
  } else {
    req.log[level]({ res, responseTime }, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
  }
}
