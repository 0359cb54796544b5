// When will the activation at queue position p start? From the start times in the rolling window,
// not an average. Start number n (1-based, counting the k starts already in the window) happens at
//   T(n) = s_n                      for n ≤ k          (already started)
//   T(n) = now                      for k < n ≤ limit  (a free slot)
//   T(n) = T(n − limit) + 1 hour    for n > limit      (when start n − limit leaves the window)
// and position p is start number k + p.
export const WINDOW_MS = 60 * 60 * 1000;

export interface EtaInput {
  /** ACTIVATIONS_PER_HOUR. */
  limit: number;
  /** Start times inside the current window (any order); at most `limit` of them matter. */
  startsInWindow: readonly Date[];
  now: Date;
  /** 1-based queue position. */
  position: number;
}

/** Milliseconds from `now` until position `position` may start (0 = now). */
export function waitMs({ limit, startsInWindow, now, position }: EtaInput): number {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  if (!Number.isInteger(position) || position < 1) throw new RangeError('position must be a positive integer');
  const nowMs = now.getTime();
  const starts = startsInWindow
    .map((d) => d.getTime())
    .filter((t) => t > nowMs - WINDOW_MS)
    .sort((a, b) => a - b)
    .slice(-limit);
  const k = starts.length;
  const free = limit - k;
  if (position <= free) return 0;
  // Reduce p to the first lap: every `limit` positions further costs one more hour.
  const laps = Math.floor((position - free - 1) / limit);
  const n = position - free - laps * limit; // 1..limit: the start whose expiry frees the slot
  const base = n <= k ? starts[n - 1]! + WINDOW_MS : nowMs + WINDOW_MS;
  return Math.max(0, base + laps * WINDOW_MS - nowMs);
}

/** Whole minutes, rounded up: a wait of 10 seconds is 1 minute, never "0 minutes" while waiting. */
export function estimatedWaitMinutes(input: EtaInput): number {
  return Math.ceil(waitMs(input) / 60_000);
}
