// Failure injection for the local stand-ins (Stripe, OXIO): the next N requests matching a method
// and path fail in a chosen way. What each mode answers is the stand-in's own (its error shape).
export type FailureMode = 'error' | 'timeout' | 'error-after-commit';

export interface FailureRule {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Exact request path (e.g. '/v1/invoices') or a pattern tested against it. */
  path: string | RegExp;
  /**
   * 'error': an error answer, the request not carried out.
   * 'timeout': the request is held for `delayMs` and still carried out (the client has usually
   *   given up by then, so the operation takes effect unseen).
   * 'error-after-commit': the request is carried out, then answered with an error.
   */
  mode: FailureMode;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** For 'timeout': how long the answer is held (default 30 s). */
  delayMs?: number;
}

export interface InjectedFailure {
  mode: FailureMode;
  delayMs: number;
}

export const DEFAULT_TIMEOUT_DELAY_MS = 30_000;

export class FailureInjector {
  private rules: Array<FailureRule & { remaining: number }> = [];

  add(rule: FailureRule): void {
    const times = rule.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error('injectFailure: times must be a positive integer');
    this.rules.push({ ...rule, remaining: times });
  }

  clear(): void {
    this.rules = [];
  }

  /** The failure this request gets, if any; consumes one use of the first matching rule. */
  take(method: string, path: string): InjectedFailure | undefined {
    const rule = this.rules.find((r) => (r.method === undefined || r.method.toUpperCase() === method.toUpperCase()) && matches(r.path, path));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return { mode: rule.mode, delayMs: Math.max(0, rule.delayMs ?? DEFAULT_TIMEOUT_DELAY_MS) };
  }
}

function matches(pattern: string | RegExp, path: string): boolean {
  if (typeof pattern === 'string') return pattern === path;
  pattern.lastIndex = 0; // a /g pattern keeps state between test() calls
  return pattern.test(path);
}
