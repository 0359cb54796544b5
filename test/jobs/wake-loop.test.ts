import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WakeLoop, type WakeLoopOptions } from '../../src/jobs/wake-loop.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { memoryLogger } from '../support/logger.js';
import { sleep, waitUntil } from '../support/time.js';

const CHANNEL = 'wake_loop_test';
const silent = pino({ level: 'silent' });
/** Every wait here is for a pass that comes in milliseconds, far before the 60 s poll. */
const soon = (what: string) => ({ what, timeoutMs: 5000, intervalMs: 10 });

/** A loop over the test database whose passes are counted (and may be held open). */
function counted(t: TestDatabase, o: Partial<WakeLoopOptions> & { during?: (n: number) => Promise<void> } = {}) {
  const passes: number[] = [];
  const loop = new WakeLoop({
    name: 'test job',
    db: t.db,
    channel: CHANNEL,
    logger: silent,
    pollMs: 60_000,
    pass: async () => {
      passes.push(Date.now());
      await o.during?.(passes.length);
    },
    ...o,
  });
  return { loop, passes };
}

describe('WakeLoop', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('passes at start, then on a NOTIFY of its channel long before the poll', async () => {
    const { loop, passes } = counted(t);
    await loop.start();
    try {
      await waitUntil(() => passes.length === 1, soon('the first pass'));
      await t.db.query(`SELECT pg_notify($1, '')`, [CHANNEL]);
      await waitUntil(() => passes.length === 2, soon('the pass a NOTIFY starts'));
    } finally {
      await loop.stop();
    }
  });

  it('keeps a wake that comes during a pass: the next pass follows at once', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { loop, passes } = counted(t, { during: (n) => (n === 1 ? held : Promise.resolve()) });
    await loop.start();
    try {
      await waitUntil(() => passes.length === 1, soon('the first pass'));
      loop.wake();
      release();
      await waitUntil(() => passes.length === 2, soon('the pass the wake asked for'));
    } finally {
      await loop.stop();
    }
  });

  it('polls when LISTEN is unavailable, and goes on after a failed pass', async () => {
    const { logger, lines } = memoryLogger('warn');
    const { loop, passes } = counted(t, {
      db: { listen: () => Promise.reject(new Error('no LISTEN here')) },
      logger,
      pollMs: 20,
      during: async (n) => {
        if (n === 1) throw new Error('database out of reach');
      },
    });
    await loop.start();
    try {
      await waitUntil(() => passes.length >= 3, soon('passes at the poll'));
    } finally {
      await loop.stop();
    }
    expect(lines.map((l) => l.msg)).toEqual(['test job: LISTEN unavailable; polling only', 'test job: pass failed; trying again at the next poll']);
  });

  it('stop() lets the pass in hand finish, says so to it, and unsubscribes', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const seen: boolean[] = [];
    const { loop, passes } = counted(t, {
      during: async () => {
        await held;
        seen.push(loop.stopping);
      },
    });
    await loop.start();
    await waitUntil(() => passes.length === 1, soon('the first pass'));
    const stopped = loop.stop();
    release();
    await stopped;
    expect(seen).toEqual([true]);
    expect(loop.stopping).toBe(false);

    await t.db.query(`SELECT pg_notify($1, '')`, [CHANNEL]);
    await sleep(200);
    expect(passes).toHaveLength(1);
  });
});
