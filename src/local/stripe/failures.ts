// Failure injection for tests: the next N requests matching a method and path fail in a chosen way.
export type FailureMode = 'error' | 'timeout' | 'error-after-commit';

export interface FailureSpec {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Exact request path (e.g. '/v1/invoices') or a pattern tested against it. */
  path: string | RegExp;
  /**
   * 'error': answer a Stripe-shaped 500 without doing anything.
   * 'timeout': wait `delayMs`, then carry out the request as usual (the client has usually given up
   *   by then, so the operation takes effect unseen — as with a slow Stripe).
   * 'error-after-commit': carry out the request, remember its real answer for its idempotency key,
   *   then answer 500 — a retry with the same key gets the real answer.
   */
  mode: FailureMode;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** For 'timeout': how long to hang (default 30 s). */
  delayMs?: number;
}

export interface InjectedFailure {
  mode: FailureMode;
  delayMs: number;
}

export const DEFAULT_TIMEOUT_DELAY_MS = 30_000;

export class FailureInjector {
  private rules: Array<FailureSpec & { remaining: number }> = [];

  add(spec: FailureSpec): void {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error('injectFailure: times must be a positive integer');
    this.rules.push({ ...spec, remaining: times });
  }

  clear(): void {
    this.rules = [];
  }

  /** The failure the request must suffer, if any; consumes one use of the first matching rule. */
  take(method: string, path: string): InjectedFailure | null {
    for (const rule of this.rules) {
      if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      const matches = typeof rule.path === 'string' ? rule.path === path : rule.path.test(path);
      if (!matches) continue;
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return { mode: rule.mode, delayMs: rule.delayMs ?? DEFAULT_TIMEOUT_DELAY_MS };
    }
    return null;
  }
}
