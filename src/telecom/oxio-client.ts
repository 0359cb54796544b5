// The OXIO client: finds or creates the account's end user (by our key, never by e-mail: two
// accounts may share an address), then adopts or creates the activation's one eSIM line (by the
// activation's key) and waits until it is ACTIVE. Every step is safe to repeat, so an activation that
// crashed or failed at any point resumes with the same call and never ends up with a second line —
// nor with another activation's line: search answers count only when they carry the key asked for.
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { maskEmail } from '../logger.js';
import { lastFour, toLpaActivationCode } from './activation-code.js';
import {
  createEndUserRequestSchema,
  createEndUserResponseSchema,
  createLineRequestSchema,
  deadLineStatuses,
  endUserExternalId,
  endUserKeyParam,
  errorBodyFields,
  findEndUsersResponseSchema,
  idempotencyKeyHeader,
  isLiveLine,
  lineExternalReference,
  lineIdempotencyKey,
  lineListResponseSchema,
  lineResponseSchema,
  oxioPaths,
  type OxioLine,
} from './oxio-api.js';

export type { OxioLine } from './oxio-api.js';

export interface OxioClientOptions {
  baseUrl: string;
  apiKey: string;
  authToken: string;
  brandId?: string;
  /** Per HTTP request. */
  timeoutMs: number;
  /** Retries on timeouts, network errors, 408, 409, 429 and 5xx, with exponential backoff and jitter. */
  maxRetries: number;
  /** First backoff step; default 500 ms. */
  retryBaseMs?: number;
  /** Polling an INITIATING line until ACTIVE. */
  pollIntervalMs: number;
  pollTimeoutMs: number;
  logger: Logger;
}

export interface ProvisionedLine {
  endUserId: string;
  lineId: string;
  iccid: string;
  phoneNumber: string;
  /** Always `LPA:1$<SM-DP+>$<matching id>`, as given by OXIO. */
  activationCode: string;
  status: 'ACTIVE';
}

/** Which line to look for: the activation's own, under its account's end user. */
export interface LineLookupRequest {
  /** For log lines only. */
  activationId: number;
  /** Our stable key of the account: one OXIO end user per account, whatever its e-mail. */
  customerKey: string;
  /** This activation's own random key: its line carries it. */
  activationKey: string;
  /** From an earlier attempt, if it got that far. */
  knownEndUserId?: string | null;
}

export interface ProvisionEsimRequest extends LineLookupRequest {
  email: string;
  firstName?: string;
  lastName?: string;
  preferredAreaCode?: string;
  knownLineId?: string | null;
}

/** What the carrier holds for an activation: nothing, a line still being provisioned, or a usable line. */
export type ExistingLine =
  | { state: 'none' }
  | { state: 'provisioning'; lineId: string }
  | { state: 'active'; line: ProvisionedLine };

/**
 * An OXIO call that did not succeed. `retryable` means the same call may succeed later (timeouts,
 * network errors, 408/409/429/5xx, a line still provisioning). Messages name the operation and the
 * upstream reason, never credentials; callers see a generic message (`userFault` is false).
 */
export class OxioError extends AppError {
  readonly retryable: boolean;
  readonly status?: number;
  readonly operation: string;
  /** From a `Retry-After` header. */
  readonly retryAfterMs?: number;

  constructor(message: string, opts: { retryable: boolean; operation: string; status?: number; retryAfterMs?: number }) {
    super(opts.retryable ? 'upstream_unavailable' : 'internal', message, { userFault: false });
    this.name = 'OxioError';
    this.retryable = opts.retryable;
    this.operation = opts.operation;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

interface Call<T> {
  operation: string;
  method: 'GET' | 'POST';
  path: string;
  params?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
  answer: z.ZodType<T>;
}

const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 60_000;

export class OxioClient {
  private readonly http: AxiosInstance;
  private readonly log: Logger;
  private readonly retryBaseMs: number;
  private readonly secrets: string[];

  constructor(private readonly opts: OxioClientOptions) {
    const basic = Buffer.from(`${opts.apiKey}:${opts.authToken}`, 'utf8').toString('base64');
    // Strings that must never appear in an error message, even if OXIO echoes them back.
    this.secrets = [basic, opts.apiKey, opts.authToken].filter((s) => s.length >= 4);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.log = opts.logger.child({ component: 'oxio' });
    this.http = axios.create({
      baseURL: opts.baseUrl,
      timeout: opts.timeoutMs,
      headers: { Authorization: `Basic ${basic}`, Accept: 'application/json', 'User-Agent': 'dotm-activation' },
      // Statuses are classified here, not thrown by axios (its errors carry the request config).
      validateStatus: () => true,
      // Credentials are for OXIO only; a redirect is reported, not followed.
      maxRedirects: 0,
      transitional: { clarifyTimeoutError: true },
    });
  }

  async provisionEsim(req: ProvisionEsimRequest): Promise<ProvisionedLine> {
    const log = this.log.child({ activationId: req.activationId });
    const names = { firstName: req.firstName, lastName: req.lastName };
    const reference = lineExternalReference(req.activationKey);
    let endUserId = req.knownEndUserId ?? (await this.findOrCreateEndUser(req.customerKey, req.email, names));

    let line = req.knownLineId ? await this.knownLine(req.knownLineId, endUserId, reference, log) : undefined;
    if (!line) {
      let lines: OxioLine[];
      try {
        lines = await this.listLines(endUserId);
      } catch (err) {
        if (!(req.knownEndUserId && err instanceof OxioError && err.status === 404)) throw err;
        log.warn({ endUserId }, 'stored OXIO end user not found; looking it up by the account key');
        endUserId = await this.findOrCreateEndUser(req.customerKey, req.email, names);
        lines = await this.listLines(endUserId);
      }
      line = ownLine(lines, endUserId, reference, log);
      if (line) log.info({ endUserId, lineId: line.lineId, status: line.status }, 'adopting the existing OXIO line');
      else line = await this.createLine(req, endUserId, reference, log);
    }

    if (deadLineStatuses.has(line.status)) {
      throw new OxioError(`OXIO line ${line.lineId} is ${line.status}`, { retryable: false, operation: 'create line' });
    }
    if (line.status !== 'ACTIVE') line = await this.waitUntilActive(line, log);
    return this.toProvisioned(endUserId, line, log);
  }

  /**
   * Looks up, without creating anything, the line the carrier holds for this activation. Used
   * before an activation is given up: a line made by an earlier (or a still running) attempt must
   * be delivered, not declared failed.
   */
  async findExistingLine(req: LineLookupRequest): Promise<ExistingLine> {
    const log = this.log.child({ activationId: req.activationId });
    const reference = lineExternalReference(req.activationKey);
    const endUserIds = new Set<string>();
    if (req.knownEndUserId) endUserIds.add(req.knownEndUserId);
    const found = await this.findEndUser(req.customerKey);
    if (found) endUserIds.add(found);
    for (const endUserId of endUserIds) {
      let lines: OxioLine[];
      try {
        lines = await this.listLines(endUserId);
      } catch (err) {
        if (err instanceof OxioError && err.status === 404) continue;
        throw err;
      }
      const line = ownLine(lines, endUserId, reference, log);
      if (!line) continue;
      if (line.status !== 'ACTIVE') return { state: 'provisioning', lineId: line.lineId };
      try {
        return { state: 'active', line: this.toProvisioned(endUserId, line, log) };
      } catch (err) {
        // Active but not complete yet (no code or number): it exists, a later attempt reads it again.
        if (err instanceof OxioError && err.retryable) return { state: 'provisioning', lineId: line.lineId };
        throw err;
      }
    }
    return { state: 'none' };
  }

  async findOrCreateEndUser(customerKey: string, email: string, names?: { firstName?: string; lastName?: string }): Promise<string> {
    const existing = await this.findEndUser(customerKey);
    if (existing) return existing;
    const body = requestBody(createEndUserRequestSchema, 'create end user', {
      sex: 'UNSPECIFIED',
      firstName: names?.firstName?.trim() || 'DOTM',
      lastName: names?.lastName?.trim() || 'Customer',
      email: email.trim(),
      externalId: endUserExternalId(customerKey),
      ...(this.opts.brandId ? { brandId: this.opts.brandId } : {}),
    });
    // Before a retry, look again: the failed attempt (or a concurrent one, answered 409) may have
    // created the user.
    return this.withRetries(
      'create end user',
      async () => {
        const { endUserId } = await this.once({
          operation: 'create end user',
          method: 'POST',
          path: oxioPaths.endUsers,
          body,
          answer: createEndUserResponseSchema,
        });
        this.log.info({ endUserId, email: maskEmail(email) }, 'OXIO end user created');
        return endUserId;
      },
      () => this.findEndUser(customerKey),
    );
  }

  listLines(endUserId: string): Promise<OxioLine[]> {
    return this.withRetries('list lines', () =>
      this.once({ operation: 'list lines', method: 'GET', path: oxioPaths.endUserLines(endUserId), answer: lineListResponseSchema }),
    );
  }

  getLine(lineId: string): Promise<OxioLine> {
    return this.withRetries('get line', () =>
      this.once({ operation: 'get line', method: 'GET', path: oxioPaths.line(lineId), answer: lineResponseSchema }),
    );
  }

  // --- steps of provisionEsim ------------------------------------------------------------------

  private async findEndUser(customerKey: string): Promise<string | undefined> {
    const externalId = endUserExternalId(customerKey);
    const found = await this.withRetries('find end user', () =>
      this.once({
        operation: 'find end user',
        method: 'GET',
        path: oxioPaths.endUsers,
        params: { [endUserKeyParam]: externalId },
        answer: findEndUsersResponseSchema,
      }),
    );
    // The server-side filter is not trusted: an end user counts only if it carries our key (a
    // filter OXIO ignored would otherwise hand us someone else's end user, and their lines).
    const own = found.endUsers.filter((u) => u.externalId === externalId);
    if (own.length < found.endUsers.length) {
      this.log.warn({ returned: found.endUsers.length, matching: own.length }, 'OXIO end-user search returned end users of other accounts; ignoring them');
    }
    return own[0]?.endUserId;
  }

  private async knownLine(lineId: string, endUserId: string, reference: string, log: Logger): Promise<OxioLine | undefined> {
    let line: OxioLine;
    try {
      line = await this.getLine(lineId);
    } catch (err) {
      if (err instanceof OxioError && err.status === 404) {
        log.warn({ lineId }, 'stored OXIO line not found; checking the end user’s lines');
        return undefined;
      }
      throw err;
    }
    if (line.endUserId && line.endUserId !== endUserId) {
      log.warn({ lineId, endUserId, lineEndUserId: line.endUserId }, 'stored OXIO line belongs to another end user; ignoring it');
      return undefined;
    }
    if (line.externalReference && line.externalReference !== reference) {
      log.warn({ lineId }, 'stored OXIO line was made for another activation; ignoring it');
      return undefined;
    }
    if (!isLiveLine(line)) {
      log.warn({ lineId, status: line.status }, 'stored OXIO line is no longer live; checking the end user’s lines');
      return undefined;
    }
    log.info({ endUserId, lineId, status: line.status }, 'resuming with the stored OXIO line');
    return line;
  }

  private createLine(req: ProvisionEsimRequest, endUserId: string, reference: string, log: Logger): Promise<OxioLine> {
    const operation = 'create line';
    const body = requestBody(createLineRequestSchema, operation, {
      lineType: 'LINE_TYPE_MOBILITY',
      countryCode: 'US',
      sim: { simType: 'EMBEDDED' },
      endUserId,
      phoneNumberRequirements: { preferredAreaCode: req.preferredAreaCode },
      activateOnAttach: false,
      externalReference: reference,
    });
    const headers = { [idempotencyKeyHeader]: lineIdempotencyKey(req.activationKey) };
    log.info({ endUserId }, 'creating the OXIO line');
    // A timeout or 5xx may come after OXIO committed the line: list the lines before every retry
    // and adopt this activation's line if it is there, so the POST is not repeated once it exists.
    return this.withRetries(
      operation,
      async () => {
        const line = await this.once({ operation, method: 'POST', path: oxioPaths.createLine, body, headers, answer: lineResponseSchema });
        if ((line.externalReference && line.externalReference !== reference) || (line.endUserId && line.endUserId !== endUserId)) {
          throw new OxioError(`OXIO ${operation}: answered with line ${line.lineId} of another activation`, { retryable: false, operation });
        }
        return line;
      },
      async () => {
        const line = ownLine(await this.listLines(endUserId), endUserId, reference, log);
        if (line) log.info({ endUserId, lineId: line.lineId, status: line.status }, 'the OXIO line exists after all; adopting it');
        return line;
      },
    );
  }

  private async waitUntilActive(line: OxioLine, log: Logger): Promise<OxioLine> {
    const { lineId } = line;
    const deadline = Date.now() + this.opts.pollTimeoutMs;
    let current = line;
    log.info({ lineId, status: current.status }, 'waiting for the OXIO line to become active');
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new OxioError(`OXIO line ${lineId} still ${current.status} after ${this.opts.pollTimeoutMs} ms`, {
          retryable: true,
          operation: 'wait for line',
        });
      }
      await sleep(Math.min(this.opts.pollIntervalMs, remaining));
      try {
        current = await this.getLine(lineId);
      } catch (err) {
        if (!(err instanceof OxioError && err.retryable)) throw err;
        log.warn({ lineId, err: err.message }, 'polling the OXIO line failed; polling on');
        continue;
      }
      if (current.status === 'ACTIVE') return current;
      if (deadLineStatuses.has(current.status)) {
        throw new OxioError(`OXIO line ${lineId} became ${current.status} while provisioning`, {
          retryable: false,
          operation: 'wait for line',
        });
      }
      log.debug({ lineId, status: current.status }, 'OXIO line not active yet');
    }
  }

  private toProvisioned(endUserId: string, line: OxioLine, log: Logger): ProvisionedLine {
    const operation = 'read line';
    const phoneNumber = line.phoneNumbers[0]?.phoneNumber;
    const iccid = line.sim?.iccid;
    const rawCode = line.sim?.activationCode;
    // Missing fields on an ACTIVE line may still be filled in by OXIO: a later attempt adopts the
    // same line and reads it again. A code that is present but malformed will not fix itself.
    if (!rawCode) {
      throw new OxioError(`OXIO line ${line.lineId} is ACTIVE but has no activation code`, { retryable: true, operation });
    }
    const activationCode = toLpaActivationCode(rawCode);
    if (!activationCode) {
      throw new OxioError(`OXIO line ${line.lineId} has a malformed activation code`, { retryable: false, operation });
    }
    if (!phoneNumber || !iccid) {
      const missing = [phoneNumber ? null : 'phone number', iccid ? null : 'ICCID'].filter(Boolean).join(' and ');
      throw new OxioError(`OXIO line ${line.lineId} is ACTIVE but has no ${missing}`, { retryable: true, operation });
    }
    log.info(
      { endUserId, lineId: line.lineId, iccidEnd: lastFour(iccid), phoneEnd: lastFour(phoneNumber) },
      'eSIM line provisioned',
    );
    return { endUserId, lineId: line.lineId, iccid, phoneNumber, activationCode, status: 'ACTIVE' };
  }

  // --- HTTP ------------------------------------------------------------------------------------

  /**
   * Runs `attempt`, retrying retryable failures with backoff. `beforeRetry` runs after each backoff
   * and may return the result directly (the earlier attempt turned out to have worked).
   */
  private async withRetries<T>(operation: string, attempt: () => Promise<T>, beforeRetry?: () => Promise<T | undefined>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof OxioError) || !err.retryable) throw err;
        if (n >= this.opts.maxRetries) {
          this.log.error({ operation, attempts: n + 1, status: err.status }, 'OXIO call failed; giving up');
          throw new OxioError(`${err.message} (gave up after ${n + 1} attempts)`, {
            retryable: true,
            operation,
            status: err.status,
          });
        }
        const delayMs = this.backoffMs(n, err.retryAfterMs);
        this.log.warn({ operation, attempt: n + 1, status: err.status, delayMs, err: err.message }, 'OXIO call failed; retrying');
        await sleep(delayMs);
        if (beforeRetry) {
          const done = await beforeRetry();
          if (done !== undefined) return done;
        }
      }
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random; a Retry-After wins if longer. */
  private backoffMs(retry: number, retryAfterMs?: number): number {
    const step = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** retry);
    const jittered = Math.round(step / 2 + (Math.random() * step) / 2);
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }

  /** One HTTP exchange; every failure becomes an OxioError. */
  private async once<T>(call: Call<T>): Promise<T> {
    const { operation } = call;
    const started = Date.now();
    let response: AxiosResponse<unknown>;
    try {
      response = await this.http.request<unknown>({
        method: call.method,
        url: call.path,
        params: call.params,
        data: call.body,
        headers: call.headers,
        // Bounds the whole exchange; axios' own timeout only watches an idle socket.
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      const code = axios.isAxiosError(err) ? err.code : undefined;
      const timedOut = code === 'ETIMEDOUT' || code === 'ECONNABORTED' || code === 'ERR_CANCELED';
      const ms = Date.now() - started;
      this.log.warn({ operation, method: call.method, path: call.path, ms, code }, 'OXIO request got no answer');
      throw new OxioError(
        timedOut ? `OXIO ${operation}: no answer within ${this.opts.timeoutMs} ms` : `OXIO ${operation}: network error (${code ?? 'unknown'})`,
        { retryable: true, operation },
      );
    }

    const { status } = response;
    this.log.debug({ operation, method: call.method, path: call.path, status, ms: Date.now() - started }, 'OXIO request');
    if (status >= 200 && status < 300) {
      const parsed = call.answer.safeParse(response.data);
      if (parsed.success) return parsed.data;
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      this.log.error({ operation, status, issues }, 'OXIO answer has an unexpected shape');
      throw new OxioError(`OXIO ${operation}: unexpected answer (${issues})`, { retryable: false, operation, status });
    }

    const upstream = this.redact(upstreamMessage(response.data));
    const reason = upstream ? ` (${upstream})` : '';
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    if (status === 401 || status === 403) {
      throw new OxioError(`OXIO ${operation}: credentials rejected, HTTP ${status}${reason}`, { retryable: false, operation, status });
    }
    throw new OxioError(
      retryable ? `OXIO ${operation}: HTTP ${status}${reason}` : `OXIO ${operation} rejected, HTTP ${status}${reason}`,
      { retryable, operation, status, retryAfterMs: retryable ? retryAfterMs(response.headers['retry-after']) : undefined },
    );
  }

  /** OXIO echoes request fields in its errors; these end up in logs and in `last_error`. */
  private redact(text: string | undefined): string | undefined {
    if (!text) return text;
    const withoutSecrets = this.secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
    return withoutSecrets.replace(EMAIL_IN_TEXT, (email) => maskEmail(email));
  }
}

/** Anything shaped like an address (local part, @, domain), wherever it appears in a message. */
const EMAIL_IN_TEXT = /[^\s@"'<>()[\]{},;:]+@[^\s@"'<>()[\]{},;:]+/g;

/**
 * This activation's line among a search answer: it must carry the activation's reference and
 * belong to the end user asked about. Anything else (a filter OXIO ignored, another activation's
 * line of the same end user) is never adopted.
 */
function ownLine(lines: OxioLine[], endUserId: string, reference: string, log: Logger): OxioLine | undefined {
  const own = lines.filter((l) => l.externalReference === reference && (!l.endUserId || l.endUserId === endUserId));
  if (own.length < lines.length) log.debug({ endUserId, returned: lines.length, own: own.length }, 'OXIO lines of other activations ignored');
  const live = own.filter(isLiveLine);
  return live.find((l) => l.status === 'ACTIVE') ?? live[0];
}

function requestBody<S extends z.ZodType>(schema: S, operation: string, value: z.input<S>): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
  throw new OxioError(`OXIO ${operation}: invalid request (${fields})`, { retryable: false, operation });
}

/** The readable part of an undocumented error body: `message`, `error`, `details`, `validation_errors`. */
function upstreamMessage(data: unknown): string | undefined {
  if (typeof data === 'string') {
    const text = data.trim();
    return text && !text.startsWith('<') ? text.slice(0, 300) : undefined;
  }
  if (!data || typeof data !== 'object') return undefined;
  const parts: string[] = [];
  for (const field of errorBodyFields) {
    const text = describe((data as Record<string, unknown>)[field]);
    if (text && !parts.includes(text)) parts.push(text);
  }
  const joined = parts.join('; ');
  return joined ? joined.slice(0, 500) : undefined;
}

function describe(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(describe).filter(Boolean).join(', ') || undefined;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const message = describe(o.message ?? o.msg ?? o.description);
    const field = [o.field, o.path, o.property].find((f): f is string => typeof f === 'string');
    if (message) return field && !message.includes(field) ? `${field}: ${message}` : message;
    return JSON.stringify(value).slice(0, 200);
  }
  return undefined;
}

function retryAfterMs(header: unknown): number | undefined {
  if (typeof header !== 'string' || !header.trim()) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
