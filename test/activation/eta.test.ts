import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimatedWaitMinutes, waitMs, WINDOW_MS } from '../../src/activation/eta.js';

const now = new Date('2026-11-27T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

/** Reference model: simulate the admissions slot by slot. */
function simulate(limit: number, starts: number[], nowMs: number, position: number): number {
  const window = starts.filter((t) => t > nowMs - WINDOW_MS).sort((a, b) => a - b);
  const all = [...window];
  let t = nowMs;
  for (let p = 1; p <= position; p++) {
    // Earliest time ≥ t at which fewer than `limit` starts lie in (time − 1h, time].
    for (;;) {
      const inWindow = all.filter((s) => s > t - WINDOW_MS && s <= t);
      if (inWindow.length < limit) break;
      t = Math.min(...inWindow) + WINDOW_MS;
    }
    all.push(t);
    if (p === position) return t - nowMs;
  }
  throw new Error('unreachable');
}

describe('ETA', () => {
  it('positions within the free slots start now', () => {
    expect(estimatedWaitMinutes({ limit: 100, startsInWindow: [minutesAgo(5)], now, position: 99 })).toBe(0);
  });

  it('the brief\'s example: full window, position 12 waits until the 12th start leaves', () => {
    const starts = Array.from({ length: 100 }, (_, i) => minutesAgo(60 - 0.5 - i * 0.1));
    // start #12 was at 60 − 0.5 − 1.1 = 58.4 minutes ago → leaves in 1.6 min → 2 whole minutes
    expect(estimatedWaitMinutes({ limit: 100, startsInWindow: starts, now, position: 12 })).toBe(2);
  });

  it('rounds up: a wait of seconds is one minute', () => {
    const starts = [new Date(now.getTime() - WINDOW_MS + 5_000)];
    expect(estimatedWaitMinutes({ limit: 1, startsInWindow: starts, now, position: 1 })).toBe(1);
  });

  it('beyond the limit, one more hour per limit', () => {
    const starts = [minutesAgo(30), minutesAgo(10)];
    expect(estimatedWaitMinutes({ limit: 2, startsInWindow: starts, now, position: 1 })).toBe(30);
    expect(estimatedWaitMinutes({ limit: 2, startsInWindow: starts, now, position: 2 })).toBe(50);
    expect(estimatedWaitMinutes({ limit: 2, startsInWindow: starts, now, position: 3 })).toBe(90);
    expect(estimatedWaitMinutes({ limit: 2, startsInWindow: starts, now, position: 4 })).toBe(110);
  });

  it('matches a slot-by-slot simulation (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: WINDOW_MS - 1 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 30 }),
        (limit, agesMs, position) => {
          const starts = agesMs.slice(0, limit).map((a) => now.getTime() - a);
          const expected = simulate(limit, starts, now.getTime(), position);
          expect(waitMs({ limit, startsInWindow: starts.map((s) => new Date(s)), now, position })).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never decreases with position and is never negative (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 0, max: WINDOW_MS + 60_000 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 1000 }),
        (limit, agesMs, position) => {
          const starts = agesMs.map((a) => new Date(now.getTime() - a));
          const a = waitMs({ limit, startsInWindow: starts, now, position });
          const b = waitMs({ limit, startsInWindow: starts, now, position: position + 1 });
          expect(a).toBeGreaterThanOrEqual(0);
          expect(b).toBeGreaterThanOrEqual(a);
          expect(a).toBeLessThanOrEqual(Math.ceil(position / limit) * WINDOW_MS);
        },
      ),
      { numRuns: 500 },
    );
  });
});
