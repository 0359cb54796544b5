// OXIO's transport: one authenticated HTTP exchange at a time, every failure turned into an
// `OxioError` whose message names the operation and the upstream reason but never a credential or a
// full e-mail address, and retries with backoff for the failures that may pass.
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { backoffDelay } from '../backoff.js';
import { AppError } from '../errors.js';
import { maskEmail } from '../logger.js';
import { errorBodyFields } from './oxio-api.js';

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

export interface OxioHttpOptions {
  baseUrl: string;
  apiKey: string;
  authToken: string;
  /** Per HTTP request. */
  timeoutMs: number;
  /** Retries on timeouts, network errors, 408, 409, 429 and 5xx, with exponential backoff and jitter. */
  maxRetries: number;
  /** First backoff step; default 500 ms. */
  retryBaseMs?: number;
}

/** One request to OXIO and the schema its 2xx answer must match. */
export interface OxioCall<T> {
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

export class OxioHttp {
  private readonly http: AxiosInstance;
  private readonly retryBaseMs: number;
  private readonly secrets: string[];

  constructor(
    private readonly opts: OxioHttpOptions,
    private readonly log: Logger,
  ) {
    const basic = Buffer.from(`${opts.apiKey}:${opts.authToken}`, 'utf8').toString('base64');
    // Strings that must never appear in an error message, even if OXIO echoes them back.
    this.secrets = [basic, opts.apiKey, opts.authToken].filter((s) => s.length >= 4);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
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

  /** One call, retried as the transport allows. */
  call<T>(call: OxioCall<T>): Promise<T> {
    return this.withRetries(call.operation, () => this.once(call));
  }

  /**
   * Runs `attempt`, retrying retryable failures with backoff. `beforeRetry` runs after each backoff
   * and may return the result directly (the earlier attempt turned out to have worked).
   */
  async withRetries<T>(operation: string, attempt: () => Promise<T>, beforeRetry?: () => Promise<T | undefined>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof OxioError) || !err.retryable) throw err;
        if (retry >= this.opts.maxRetries) {
          this.log.error({ operation, attempts: retry + 1, status: err.status }, 'OXIO call failed; giving up');
          throw new OxioError(`${err.message} (gave up after ${retry + 1} attempts)`, {
            retryable: true,
            operation,
            status: err.status,
          });
        }
        const delayMs = this.backoffMs(retry, err.retryAfterMs);
        this.log.warn({ operation, attempt: retry + 1, status: err.status, delayMs, err: err.message }, 'OXIO call failed; retrying');
        await sleep(delayMs);
        if (beforeRetry) {
          const done = await beforeRetry();
          if (done !== undefined) return done;
        }
      }
    }
  }

  /** One HTTP exchange; every failure becomes an OxioError. */
  async once<T>(call: OxioCall<T>): Promise<T> {
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
      throw this.noAnswer(call, err, Date.now() - started);
    }
    const { status } = response;
    this.log.debug({ operation: call.operation, method: call.method, path: call.path, status, ms: Date.now() - started }, 'OXIO request');
    if (status >= 200 && status < 300) return this.parseAnswer(call, response);
    throw this.failedStatus(call.operation, response);
  }

  private noAnswer(call: OxioCall<unknown>, err: unknown, ms: number): OxioError {
    const { operation } = call;
    const code = axios.isAxiosError(err) ? err.code : undefined;
    const timedOut = code === 'ETIMEDOUT' || code === 'ECONNABORTED' || code === 'ERR_CANCELED';
    this.log.warn({ operation, method: call.method, path: call.path, ms, code }, 'OXIO request got no answer');
    return new OxioError(
      timedOut ? `OXIO ${operation}: no answer within ${this.opts.timeoutMs} ms` : `OXIO ${operation}: network error (${code ?? 'unknown'})`,
      { retryable: true, operation },
    );
  }

  private parseAnswer<T>(call: OxioCall<T>, response: AxiosResponse<unknown>): T {
    const { operation } = call;
    const { status } = response;
    const parsed = call.answer.safeParse(response.data);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    this.log.error({ operation, status, issues }, 'OXIO answer has an unexpected shape');
    throw new OxioError(`OXIO ${operation}: unexpected answer (${issues})`, { retryable: false, operation, status });
  }

  private failedStatus(operation: string, response: AxiosResponse<unknown>): OxioError {
    const { status } = response;
    const upstream = this.redact(upstreamMessage(response.data));
    const reason = upstream ? ` (${upstream})` : '';
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    if (status === 401 || status === 403) {
      return new OxioError(`OXIO ${operation}: credentials rejected, HTTP ${status}${reason}`, { retryable: false, operation, status });
    }
    return new OxioError(
      retryable ? `OXIO ${operation}: HTTP ${status}${reason}` : `OXIO ${operation} rejected, HTTP ${status}${reason}`,
      { retryable, operation, status, retryAfterMs: retryable ? retryAfterMs(response.headers['retry-after']) : undefined },
    );
  }

  /** Exponential backoff with "equal jitter": half fixed, half random; a Retry-After wins if longer. */
  private backoffMs(retry: number, retryAfterMs?: number): number {
    const jittered = backoffDelay(retry, { base: this.retryBaseMs, max: MAX_BACKOFF_MS, jitter: true });
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }

  /** OXIO echoes request fields in its errors; these end up in logs and in `last_error`. */
  private redact(text: string | undefined): string | undefined {
    if (!text) return text;
    const withoutSecrets = this.secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
    return withoutSecrets.replace(EMAIL_IN_TEXT, (email) => maskEmail(email));
  }
}

/** A request body checked against its schema before it is sent: a bad one is our bug, not OXIO's. */
export function requestBody<S extends z.ZodType>(schema: S, operation: string, value: z.input<S>): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
  throw new OxioError(`OXIO ${operation}: invalid request (${fields})`, { retryable: false, operation });
}

/** Anything shaped like an address (local part, @, domain), wherever it appears in a message. */
const EMAIL_IN_TEXT = /[^\s@"'<>()[\]{},;:]+@[^\s@"'<>()[\]{},;:]+/g;

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
