// Stripe's idempotency layer for POST requests: the first successful answer under a key is kept and
// replayed for the same request; the same key with another endpoint or other parameters is refused.
import { StripeApiError } from './errors.js';

export interface StoredAnswer {
  method: string;
  path: string;
  paramsFingerprint: string;
  status: number;
  body: string;
  requestId: string;
}

export type IdempotencyLookup =
  | { kind: 'new' }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'error'; error: StripeApiError };

/** Bounded, oldest first out: a long benchmark must not grow memory without end. */
const MAX_KEYS = 20_000;

export class IdempotencyCache {
  private readonly answers = new Map<string, StoredAnswer>();
  private readonly inFlight = new Set<string>();

  /** Looks the key up and, when it is new, reserves it until `settle` is called. */
  begin(key: string, method: string, path: string, paramsFingerprint: string): IdempotencyLookup {
    const stored = this.answers.get(key);
    if (stored) {
      if (stored.method !== method || stored.path !== path) {
        return {
          kind: 'error',
          error: new StripeApiError(
            400,
            'idempotency_error',
            `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${stored.method} ${stored.path}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
          ),
        };
      }
      if (stored.paramsFingerprint !== paramsFingerprint) {
        return {
          kind: 'error',
          error: new StripeApiError(
            400,
            'idempotency_error',
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          ),
        };
      }
      return { kind: 'replay', answer: stored };
    }
    if (this.inFlight.has(key)) {
      return {
        kind: 'error',
        error: new StripeApiError(
          409,
          'invalid_request_error',
          `There is currently another in-progress request using this Stripe API key (that either has the same idempotency key ('${key}') or is modifying the same resource). Please retry your request.`,
          { code: 'idempotency_key_in_use' },
        ),
      };
    }
    this.inFlight.add(key);
    return { kind: 'new' };
  }

  /** Releases the reservation; a 2xx answer is kept for replay, anything else may be retried under the key. */
  settle(key: string, answer: StoredAnswer | null): void {
    this.inFlight.delete(key);
    if (!answer || answer.status < 200 || answer.status >= 300) return;
    this.answers.set(key, answer);
    if (this.answers.size > MAX_KEYS) {
      const oldest = this.answers.keys().next().value;
      if (oldest !== undefined) this.answers.delete(oldest);
    }
  }
}

/** Parameters compared by meaning, not by encoding order. */
export function fingerprint(params: unknown): string {
  return JSON.stringify(sortKeys(params));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
