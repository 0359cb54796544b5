// The one retry schedule of the service: each wait doubles, up to a cap. Optional "equal jitter"
// (half fixed, half random) keeps many clients that failed together from retrying together.

export interface Backoff {
  /** The first wait (any unit; the result is in the same one). */
  base: number;
  /** No wait is longer. */
  max: number;
  /** Draw the wait between half of it and all of it. */
  jitter?: boolean;
}

/** The wait before retry `retry` (0 for the first): base·2^retry, capped at max. */
export function backoffDelay(retry: number, b: Backoff): number {
  const step = Math.min(b.max, b.base * 2 ** retry);
  return b.jitter ? Math.round(step / 2 + (Math.random() * step) / 2) : step;
}
