// Requests served and the time spent inside the stand-in (arrival → response end), without the
// latency and hangs it injects on purpose, so benchmarks see the stand-in's own cost.
import type { RequestHandler, Response } from 'express';

export class RequestStats {
  private requests = 0;
  private handlerMs = 0;
  private readonly excluded = new WeakMap<Response, number>();

  /** Counts each request once, whether it finished or the client hung up. */
  readonly middleware: RequestHandler = (_req, res, next) => {
    const started = performance.now();
    let counted = false;
    const count = () => {
      if (counted) return;
      counted = true;
      this.requests += 1;
      this.handlerMs += Math.max(0, performance.now() - started - (this.excluded.get(res) ?? 0));
    };
    res.once('finish', count);
    res.once('close', count);
    next();
  };

  /** Time of this response that is not the stand-in's own (injected latency, hangs). */
  exclude(res: Response, ms: number): void {
    this.excluded.set(res, (this.excluded.get(res) ?? 0) + ms);
  }

  totals(): { requests: number; handlerMs: number } {
    return { requests: this.requests, handlerMs: this.handlerMs };
  }
}
