// Failure injection for the local OXIO: the next N matching requests fail in a chosen way.

export type FailureMode = 'error' | 'timeout' | 'error-after-commit';

export interface FailureRule {
  method?: string;
  path: string | RegExp;
  mode: FailureMode;
  /** Default 1. */
  times?: number;
  /** For 'timeout': how long the answer is held; default 30 s. */
  delayMs?: number;
}

interface ArmedRule {
  method?: string;
  path: string | RegExp;
  mode: FailureMode;
  remaining: number;
  delayMs: number;
}

export class FailureInjector {
  private rules: ArmedRule[] = [];

  add(rule: FailureRule): void {
    this.rules.push({
      method: rule.method?.toUpperCase(),
      path: rule.path,
      mode: rule.mode,
      remaining: Math.max(1, rule.times ?? 1),
      delayMs: Math.max(0, rule.delayMs ?? 30_000),
    });
  }

  clear(): void {
    this.rules = [];
  }

  /** The failure this request gets, if any; consumes one use of the first matching rule. */
  take(method: string, path: string): { mode: FailureMode; delayMs: number } | undefined {
    const rule = this.rules.find((r) => (!r.method || r.method === method.toUpperCase()) && matches(r.path, path));
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return { mode: rule.mode, delayMs: rule.delayMs };
  }
}

function matches(pattern: string | RegExp, path: string): boolean {
  if (typeof pattern === 'string') return pattern === path;
  pattern.lastIndex = 0; // a /g pattern keeps state between test() calls
  return pattern.test(path);
}
