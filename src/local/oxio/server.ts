// A local OXIO-compatible server: the paths and shapes of /work/shared/OXIO.md, Basic auth,
// idempotent line creation, INITIATING → ACTIVE lines, configurable latency and failure injection.
// It lets the real client (and the whole activation flow) run without OXIO credentials.
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { FailureInjector, type FailureRule } from '../failures.js';
import {
  endUserRoutes,
  errorBody,
  inventoryRoutes,
  LINE_CREATE_PATH,
  lineRoutes,
  sendError,
  type LocalOxioSettings,
  type RouteDeps,
} from './routes.js';
import { readStateFile, SnapshotFile } from '../state.js';
import { OXIO_STATE_FILE, oxioStateFile, oxioStateSchema } from './state-file.js';
import { LocalOxioStore, lineStatus } from './store.js';

export type { FailureMode, FailureRule } from '../failures.js';

export interface LocalOxioOptions {
  port?: number;
  host?: string;
  apiKey?: string;
  authToken?: string;
  /** Added to every request; default 20 ms. */
  latencyMs?: number;
  /** 0..1: share of requests answered 503 without doing anything; default 0. */
  failureRate?: number;
  /** > 0: new lines start INITIATING and turn ACTIVE after this long; default 0. */
  initiatingMs?: number;
  logger?: Logger;
  /** A folder (the caller holds it: see ../state.ts) where end users and lines are kept in oxio.json across restarts. Unset: in memory only. */
  stateDir?: string;
}

export interface LocalOxioSearchOptions {
  /** Searches ignore their filters: every end user, every line, whoever asked (a client must not trust them). */
  ignoreFilters: boolean;
}

export interface LocalOxioLine {
  lineId: string;
  endUserId: string;
  /** The end user's external id, if the client sent one. */
  endUserExternalId?: string;
  externalReference?: string;
  email: string;
  status: string;
  phoneNumber: string;
  iccid: string;
  activationCode: string;
}

export interface LocalOxioStats {
  requests: number;
  lineCreates: number;
  endUserCreates: number;
  /** Every `POST /v3/lines/line` received, whatever its outcome. */
  lineCreateRequests: number;
}

export interface LocalOxio {
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  readonly authToken: string;
  setLatency(ms: number): void;
  setFailureRate(rate: number): void;
  setInitiatingMs(ms: number): void;
  /** How loosely searches answer (for tests of what a client trusts). */
  setSearch(o: LocalOxioSearchOptions): void;
  /** Lines created from now on carry this activation code, as a carrier with a broken record would; undefined: a valid one each. */
  setActivationCode(code: string | undefined): void;
  /**
   * The next `times` (default 1) matching requests: 'error' → 503 without doing anything;
   * 'timeout' → the request is carried out but its answer is held for delayMs (default 30 s);
   * 'error-after-commit' → the request is carried out (e.g. the line created), then answered 503.
   */
  injectFailure(f: FailureRule): void;
  clearFailures(): void;
  lines(): LocalOxioLine[];
  stats(): LocalOxioStats;
  close(): Promise<void>;
}

export async function startLocalOxio(opts: LocalOxioOptions = {}): Promise<LocalOxio> {
  const apiKey = opts.apiKey ?? 'local-oxio-key';
  const authToken = opts.authToken ?? 'local-oxio-token';
  const settings: LocalOxioSettings = {
    latencyMs: Math.max(0, opts.latencyMs ?? 20),
    failureRate: clampRate(opts.failureRate ?? 0),
    initiatingMs: Math.max(0, opts.initiatingMs ?? 0),
    ignoreSearchFilters: false,
    activationCode: undefined,
  };
  const log = opts.logger?.child({ component: 'local-oxio' });
  let saving: SnapshotFile | null = null;
  const store = new LocalOxioStore(() => saving?.changed());
  if (opts.stateDir) {
    const stateFile = join(opts.stateDir, OXIO_STATE_FILE);
    const kept = readStateFile(stateFile, oxioStateSchema, log);
    if (kept) {
      store.restore(kept);
      log?.info({ stateFile, endUsers: kept.endUsers.length, lines: kept.lines.length }, 'local OXIO: state restored');
    }
    saving = new SnapshotFile(stateFile, () => oxioStateFile(store.snapshot()), log);
  }
  const saved = () => saving?.flushed() ?? Promise.resolve();
  const failures = new FailureInjector();
  const counters = { requests: 0, lineCreateRequests: 0 };
  const heldAnswers = new Set<NodeJS.Timeout>();

  const app = oxioApp({ store, settings, log, saved }, { counters, failures, heldAnswers, credentials: Buffer.from(`${apiKey}:${authToken}`, 'utf8') });

  const host = opts.host ?? '127.0.0.1';
  const server = createServer(app);
  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;
  log?.info({ url, initiatingMs: settings.initiatingMs, failureRate: settings.failureRate }, 'local OXIO listening');

  return {
    url,
    port,
    apiKey,
    authToken,
    setLatency: (ms) => {
      settings.latencyMs = Math.max(0, ms);
    },
    setFailureRate: (rate) => {
      settings.failureRate = clampRate(rate);
    },
    setInitiatingMs: (ms) => {
      settings.initiatingMs = Math.max(0, ms);
    },
    setSearch: (search) => {
      settings.ignoreSearchFilters = search.ignoreFilters;
    },
    setActivationCode: (code) => {
      settings.activationCode = code;
    },
    injectFailure: (rule) => failures.add(rule),
    clearFailures: () => failures.clear(),
    lines: () => linesOf(store),
    stats: () => ({
      requests: counters.requests,
      lineCreates: store.lineCreates,
      endUserCreates: store.endUserCreates,
      lineCreateRequests: counters.lineCreateRequests,
    }),
    close: async () => {
      for (const timer of heldAnswers) clearTimeout(timer);
      heldAnswers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await saved();
    },
  };
}

interface Gate {
  counters: { requests: number; lineCreateRequests: number };
  failures: FailureInjector;
  heldAnswers: Set<NodeJS.Timeout>;
  /** `apiKey:authToken`, as Basic auth carries them. */
  credentials: Buffer;
}

/** Request flow: count → latency → Basic auth → injected failure → JSON body → route → 404 or error. */
function oxioApp(routeDeps: RouteDeps, gate: Gate): express.Express {
  const { settings, log } = routeDeps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(countRequests(gate.counters, log));
  app.use(async (_req, _res, next) => {
    if (settings.latencyMs > 0) await sleep(settings.latencyMs);
    next();
  });
  app.use(authenticate(gate.credentials));
  app.use(injectFailures(gate.failures, settings, gate.heldAnswers, log));
  app.use(express.json({ limit: '100kb' }));
  endUserRoutes(app, routeDeps);
  lineRoutes(app, routeDeps);
  inventoryRoutes(app, routeDeps);
  app.use((req: Request, res: Response) => sendError(res, 404, `No route for ${req.method} ${req.path}`));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    if (status === 400 || status === 413) return sendError(res, status, status === 413 ? 'Request body too large' : 'Malformed JSON body');
    log?.error({ err }, 'local OXIO: unexpected error');
    sendError(res, 500, 'Internal server error');
  });
  return app;
}

function countRequests(counters: { requests: number; lineCreateRequests: number }, log: Logger | undefined): RequestHandler {
  return (req, res, next) => {
    counters.requests++;
    if (req.method === 'POST' && req.path === LINE_CREATE_PATH) counters.lineCreateRequests++;
    const started = Date.now();
    // The route pattern, not the path: paths may carry an ICCID.
    res.on('finish', () =>
      log?.debug(
        { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? '(none)', status: res.statusCode, ms: Date.now() - started },
        'local OXIO request',
      ),
    );
    next();
  };
}

function authenticate(expectedCredentials: Buffer): RequestHandler {
  return (req, res, next) => {
    if (credentialsMatch(req.get('authorization'), expectedCredentials)) return next();
    res.set('WWW-Authenticate', 'Basic realm="local-oxio"');
    sendError(res, 401, 'Invalid API key or auth token');
  };
}

/** Injected failures first, then the random failure rate; a held answer's timer is kept for close(). */
function injectFailures(failures: FailureInjector, settings: LocalOxioSettings, heldAnswers: Set<NodeJS.Timeout>, log: Logger | undefined): RequestHandler {
  return (req, res, next) => {
    const injected = failures.take(req.method, req.path);
    if (!injected) {
      if (settings.failureRate > 0 && Math.random() < settings.failureRate) return sendError(res, 503, 'Service temporarily unavailable');
      return next();
    }
    log?.info({ method: req.method, mode: injected.mode }, 'local OXIO: injected failure');
    const answer = res.json.bind(res);
    switch (injected.mode) {
      case 'error':
        return sendError(res, 503, 'Service temporarily unavailable');
      case 'error-after-commit':
        res.json = ((_body: unknown) => answer(errorBody(res.status(503).statusCode, 'Service temporarily unavailable'))) as Response['json'];
        return next();
      case 'timeout':
        res.json = ((body: unknown) => {
          const timer = setTimeout(() => {
            heldAnswers.delete(timer);
            if (!res.socket?.destroyed) answer(body);
          }, injected.delayMs);
          heldAnswers.add(timer);
          return res;
        }) as Response['json'];
        return next();
    }
  };
}

function linesOf(store: LocalOxioStore): LocalOxioLine[] {
  const now = Date.now();
  return store.lines().map((line) => ({
    lineId: line.lineId,
    endUserId: line.endUserId,
    endUserExternalId: store.endUser(line.endUserId)?.externalId,
    externalReference: line.externalReference,
    email: store.endUser(line.endUserId)?.email ?? '',
    status: lineStatus(line, now),
    phoneNumber: line.phoneNumber,
    iccid: line.iccid,
    activationCode: line.activationCode,
  }));
}

function credentialsMatch(header: string | undefined, expected: Buffer): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function clampRate(rate: number): number {
  return Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
