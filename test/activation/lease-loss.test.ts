// A worker cut off from the database for longer than its lease: another worker resumes the
// activation. Whichever of the two fails, a line that exists at the carrier is delivered (one line,
// one e-mail), and the worker that lost its claim cannot fail the activation under the other one.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActivationWorker, type WorkerHooks } from '../../src/activation/worker.js';
import type { Database } from '../../src/db/database.js';
import { startLocalOxio, type LocalOxio } from '../../src/local/oxio/index.js';
import { OxioClient } from '../../src/telecom/oxio-client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { memoryLogger } from '../support/logger.js';
import { waitUntil } from '../support/time.js';
import { activationOf, outboxRows, seedPaid } from './support.js';

let oxio: LocalOxio;
let database: TestDatabase;
beforeAll(async () => {
  oxio = await startLocalOxio({ latencyMs: 1 });
  database = await createTestDatabase();
});
afterEach(() => oxio.clearFailures());
afterAll(async () => {
  await oxio.close();
  await database.drop();
});

/** The database as one instance sees it: `down` makes every query fail (a network partition). */
function partitionable(db: Database): { db: Database; link: { down: boolean } } {
  const link = { down: false };
  const cut = () => Promise.reject(new Error('connect ECONNREFUSED (database unreachable)'));
  const view = new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'query' || prop === 'withTransaction') {
        return (...args: unknown[]) => (link.down ? cut() : (value as (...a: unknown[]) => unknown).apply(target, args));
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { db: view, link };
}

/** A hook that stops the worker at that point until released. */
function pause() {
  let reached!: () => void;
  let release!: () => void;
  const atHook = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    atHook,
    release,
    hook: async (onReached?: () => void) => {
      onReached?.();
      reached();
      await released;
    },
  };
}

function worker(db: Database, o: { maxAttempts?: number; hooks?: WorkerHooks } = {}) {
  const { logger } = memoryLogger();
  return new ActivationWorker({
    db,
    logger,
    limit: 10,
    pollMs: 100,
    leaseSeconds: 1,
    maxAttempts: o.maxAttempts ?? 8,
    hooks: o.hooks,
    oxio: new OxioClient({
      baseUrl: oxio.url,
      apiKey: oxio.apiKey,
      authToken: oxio.authToken,
      timeoutMs: 5000,
      maxRetries: 0,
      pollIntervalMs: 20,
      pollTimeoutMs: 5000,
      logger,
    }),
  });
}

const linesOf = (email: string) => oxio.lines().filter((l) => l.email === email);

/** The second worker resumes the activation once the first one's lease has run out. */
async function resumeOnceExpired(w: ActivationWorker) {
  await waitUntil(async () => (await w.drainOnce()) === 1, { timeoutMs: 10_000, intervalMs: 100, what: 'the lease to run out' });
}

describe('a worker cut off from the database past its lease', () => {
  it('it made the line, the resuming worker fails: the line is delivered, not marked failed', async () => {
    const [buyer] = await seedPaid(database.db, 1, 'made-line');
    const first = partitionable(database.db);
    const paused = pause();
    const a = worker(first.db, { hooks: { afterProvision: () => paused.hook(() => (first.link.down = true)) } });
    const running = a.drainOnce();
    await paused.atHook;
    expect(linesOf(buyer!.email)).toHaveLength(1);

    // The resuming worker's attempt is its last one, and OXIO fails it.
    oxio.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error' });
    await resumeOnceExpired(worker(database.db, { maxAttempts: 2 }));
    first.link.down = false;
    paused.release();
    await running;

    const [line] = linesOf(buyer!.email);
    expect(linesOf(buyer!.email)).toHaveLength(1);
    expect(await activationOf(database.db, buyer!.email)).toMatchObject({ status: 'active', oxio_line_id: line!.lineId, lpa_code: line!.activationCode });
    expect((await outboxRows(database.db)).filter((r) => r.activation_id === buyer!.id)).toHaveLength(1);
  });

  it('the resuming worker fails before the line exists: the first worker still delivers it', async () => {
    const [buyer] = await seedPaid(database.db, 1, 'late-line');
    const first = partitionable(database.db);
    const paused = pause();
    const a = worker(first.db, { hooks: { afterClaim: () => paused.hook(() => (first.link.down = true)) } });
    const running = a.drainOnce();
    await paused.atHook;

    oxio.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error' });
    await resumeOnceExpired(worker(database.db, { maxAttempts: 2 }));
    // Nothing at the carrier yet: the resumed attempt gave up.
    expect(await activationOf(database.db, buyer!.email)).toMatchObject({ status: 'failed' });

    first.link.down = false;
    paused.release();
    await running;
    const lines = linesOf(buyer!.email);
    expect(lines).toHaveLength(1);
    expect(await activationOf(database.db, buyer!.email)).toMatchObject({ status: 'active', oxio_line_id: lines[0]!.lineId });
    expect((await outboxRows(database.db)).filter((r) => r.activation_id === buyer!.id)).toHaveLength(1);
  });

  it('the worker that lost its claim fails: it cannot mark failed what the other worker completes', async () => {
    const [buyer] = await seedPaid(database.db, 1, 'lost-claim');
    const first = partitionable(database.db);
    const firstPaused = pause();
    const a = worker(first.db, { maxAttempts: 1, hooks: { afterClaim: () => firstPaused.hook(() => (first.link.down = true)) } });
    const running = a.drainOnce();
    await firstPaused.atHook;

    const secondPaused = pause();
    const b = worker(database.db, { hooks: { afterClaim: () => secondPaused.hook() } });
    const resumed = waitUntil(async () => (await b.drainOnce()) === 1, { timeoutMs: 10_000, intervalMs: 100, what: 'the lease to run out' });
    await secondPaused.atHook;

    // The database is back for the first worker; its attempt fails at OXIO, for good.
    first.link.down = false;
    oxio.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error' });
    firstPaused.release();
    await running;
    expect(await activationOf(database.db, buyer!.email)).toMatchObject({ status: 'activating', attempts: 2 });

    secondPaused.release();
    await resumed;
    const lines = linesOf(buyer!.email);
    expect(lines).toHaveLength(1);
    expect(await activationOf(database.db, buyer!.email)).toMatchObject({ status: 'active', attempts: 2, oxio_line_id: lines[0]!.lineId });
    expect((await outboxRows(database.db)).filter((r) => r.activation_id === buyer!.id)).toHaveLength(1);
  });
});
