// A local OXIO-compatible server: the paths and shapes of /work/shared/OXIO.md, Basic auth,
// idempotent line creation, INITIATING → ACTIVE lines, configurable latency and failure injection.
// It lets the real client (and the whole activation flow) run without OXIO credentials.
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { OxioErrorBody } from '../../telecom/oxio-api.js';
import { FailureInjector, type FailureRule } from './failures.js';
import { endUserView, LocalOxioStore, lineStatus, lineView, simView } from './store.js';

export type { FailureMode, FailureRule } from './failures.js';

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

const LINE_CREATE_PATH = '/v3/lines/line';

export async function startLocalOxio(opts: LocalOxioOptions = {}): Promise<LocalOxio> {
  const apiKey = opts.apiKey ?? 'local-oxio-key';
  const authToken = opts.authToken ?? 'local-oxio-token';
  const settings = {
    latencyMs: Math.max(0, opts.latencyMs ?? 20),
    failureRate: clampRate(opts.failureRate ?? 0),
    initiatingMs: Math.max(0, opts.initiatingMs ?? 0),
    ignoreSearchFilters: false,
  };
  const log = opts.logger?.child({ component: 'local-oxio' });
  const store = new LocalOxioStore();
  const failures = new FailureInjector();
  const counters = { requests: 0, lineCreateRequests: 0 };
  const heldAnswers = new Set<NodeJS.Timeout>();
  const expectedCredentials = Buffer.from(`${apiKey}:${authToken}`, 'utf8');

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
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
  });

  app.use(async (_req, _res, next) => {
    if (settings.latencyMs > 0) await sleep(settings.latencyMs);
    next();
  });

  app.use((req, res, next) => {
    if (credentialsMatch(req.get('authorization'), expectedCredentials)) return next();
    res.set('WWW-Authenticate', 'Basic realm="local-oxio"');
    sendError(res, 401, 'Invalid API key or auth token');
  });

  app.use((req, res, next) => {
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
  });

  app.use(express.json({ limit: '100kb' }));

  app.get('/v2/end-users', (req, res) => {
    const filter = {
      email: typeof req.query.email === 'string' ? req.query.email : undefined,
      externalId: typeof req.query.externalId === 'string' ? req.query.externalId : undefined,
    };
    res.json({ endUsers: store.findEndUsers(settings.ignoreSearchFilters ? {} : filter).map(endUserView) });
  });

  app.post('/v2/end-users', (req, res) => {
    const body = record(req.body);
    const problems: string[] = [];
    if (typeof body.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email.trim())) {
      // Echoes the value, as many APIs do: a client must not copy such messages into its logs as-is.
      problems.push(`email must be a valid e-mail address, got ${JSON.stringify(body.email ?? null)}`);
    }
    if (body.externalId !== undefined && (typeof body.externalId !== 'string' || !body.externalId.trim())) {
      problems.push('externalId must be a non-empty string');
    }
    for (const name of ['firstName', 'lastName'] as const) {
      const value = body[name];
      if (typeof value !== 'string' || !value.trim()) problems.push(`${name} is required`);
    }
    const sex = body.sex ?? 'UNSPECIFIED';
    if (typeof sex !== 'string' || !['UNSPECIFIED', 'MALE', 'FEMALE'].includes(sex)) problems.push('sex must be UNSPECIFIED, MALE or FEMALE');
    if (problems.length) return sendValidationError(res, problems);
    const email = String(body.email);
    // The customer's key is unique; an e-mail address is not (two accounts may share one).
    const externalId = typeof body.externalId === 'string' ? body.externalId.trim() : undefined;
    if (externalId && store.findEndUsers({ externalId }).length) {
      return sendError(res, 409, `An end user with externalId ${externalId} already exists`);
    }
    const user = store.createEndUser({
      email,
      firstName: String(body.firstName),
      lastName: String(body.lastName),
      sex: String(sex),
      ...(externalId ? { externalId } : {}),
    });
    res.status(201).json(endUserView(user));
  });

  app.post(LINE_CREATE_PATH, (req, res) => {
    const body = record(req.body);
    const problems: string[] = [];
    if (body.lineType !== 'LINE_TYPE_MOBILITY') problems.push('lineType must be LINE_TYPE_MOBILITY');
    if (body.countryCode !== 'US') problems.push('countryCode must be US');
    if (record(body.sim).simType !== 'EMBEDDED') problems.push('sim.simType must be EMBEDDED');
    if (typeof body.endUserId !== 'string' || !body.endUserId) problems.push('endUserId is required');
    const areaCode = record(body.phoneNumberRequirements).preferredAreaCode;
    if (areaCode !== undefined && (typeof areaCode !== 'string' || !/^[2-9]\d{2}$/.test(areaCode))) {
      problems.push('phoneNumberRequirements.preferredAreaCode must be a 3-digit US area code');
    }
    if (body.activateOnAttach !== undefined && typeof body.activateOnAttach !== 'boolean') problems.push('activateOnAttach must be a boolean');
    if (body.planId !== undefined && (typeof body.planId !== 'string' || !body.planId)) problems.push('planId must be a non-empty string');
    if (body.externalReference !== undefined && (typeof body.externalReference !== 'string' || !body.externalReference)) {
      problems.push('externalReference must be a non-empty string');
    }
    if (problems.length) return sendValidationError(res, problems);

    const endUserId = String(body.endUserId);
    if (!store.endUser(endUserId)) return sendError(res, 404, `End user ${endUserId} not found`);
    const idempotencyKey = req.get('idempotency-key')?.trim() || undefined;
    const prior = idempotencyKey ? store.replay(idempotencyKey) : undefined;
    if (prior) {
      const line = store.line(prior.lineId);
      if (prior.endUserId !== endUserId || !line) {
        return sendError(res, 422, 'Idempotency-Key was already used for a different request');
      }
      res.set('Idempotent-Replayed', 'true');
      return res.status(200).json(lineView(line));
    }
    const line = store.createLine({
      endUserId,
      activateOnAttach: body.activateOnAttach === true,
      planId: typeof body.planId === 'string' ? body.planId : undefined,
      externalReference: typeof body.externalReference === 'string' ? body.externalReference : undefined,
      initiatingMs: settings.initiatingMs,
      idempotencyKey,
    });
    log?.info({ lineId: line.lineId, endUserId, status: lineStatus(line) }, 'local OXIO: line created');
    res.status(201).json(lineView(line));
  });

  app.get('/v3/end-users/:endUserId/lines', (req, res) => {
    const { endUserId } = req.params;
    if (!store.endUser(endUserId)) return sendError(res, 404, `End user ${endUserId} not found`);
    const now = Date.now();
    const lines = settings.ignoreSearchFilters ? store.lines() : store.linesOf(endUserId);
    res.json({ lines: lines.map((l) => lineView(l, now)) });
  });

  app.get('/v3/lines/:lineId', (req, res) => {
    const line = store.line(req.params.lineId);
    if (!line) return sendError(res, 404, `Line ${req.params.lineId} not found`);
    res.json(lineView(line));
  });

  app.get('/v3/sims/:iccid', (req, res) => {
    const line = store.lineByIccid(req.params.iccid);
    if (!line) return sendError(res, 404, 'SIM not found');
    res.json(simView(line));
  });

  app.get('/v3/phone-numbers/available', (req, res) => {
    const countryCode = typeof req.query.countryCode === 'string' ? req.query.countryCode : 'US';
    const areaCode = typeof req.query.areaCode === 'string' ? req.query.areaCode : undefined;
    const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : 10;
    const problems: string[] = [];
    if (countryCode !== 'US') problems.push('countryCode must be US');
    if (areaCode !== undefined && !/^[2-9]\d{2}$/.test(areaCode)) problems.push('areaCode must be a 3-digit US area code');
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) problems.push('limit must be an integer from 1 to 100');
    if (problems.length) return sendValidationError(res, problems);
    // The local inventory is the fictional 555 range only.
    const numbers = areaCode && areaCode !== '555' ? [] : store.availablePhoneNumbers(limit);
    res.json({ phoneNumbers: numbers.map((phoneNumber) => ({ phoneNumber, countryCode: 'US', areaCode: '555' })) });
  });

  app.use((req: Request, res: Response) => sendError(res, 404, `No route for ${req.method} ${req.path}`));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    if (status === 400 || status === 413) return sendError(res, status, status === 413 ? 'Request body too large' : 'Malformed JSON body');
    log?.error({ err }, 'local OXIO: unexpected error');
    sendError(res, 500, 'Internal server error');
  });

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
    setSearch: (o) => {
      settings.ignoreSearchFilters = o.ignoreFilters;
    },
    injectFailure: (f) => failures.add(f),
    clearFailures: () => failures.clear(),
    lines: () => {
      const now = Date.now();
      return store.lines().map((l) => ({
        lineId: l.lineId,
        endUserId: l.endUserId,
        endUserExternalId: store.endUser(l.endUserId)?.externalId,
        externalReference: l.externalReference,
        email: store.endUser(l.endUserId)?.email ?? '',
        status: lineStatus(l, now),
        phoneNumber: l.phoneNumber,
        iccid: l.iccid,
        activationCode: l.activationCode,
      }));
    },
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
    },
  };
}

function credentialsMatch(header: string | undefined, expected: Buffer): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function errorBody(status: number, message: string): OxioErrorBody {
  return { message, error: STATUS_CODES[status] ?? 'Error' };
}

function sendError(res: Response, status: number, message: string): void {
  res.status(status).json(errorBody(status, message));
}

function sendValidationError(res: Response, problems: string[]): void {
  res.status(400).json({ ...errorBody(400, problems.join('; ')), validation_errors: problems } satisfies OxioErrorBody);
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function clampRate(rate: number): number {
  return Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
