// The hourly limit is exact: across concurrent workers on separate connections, in payment order,
// on the database clock, and across restarts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationStore } from '../../src/activation/activation-store.js';
import { ActivationWorker } from '../../src/activation/worker.js';
import type { Database } from '../../src/db/database.js';
import { startLocalOxio, type LocalOxio } from '../../src/local/oxio/index.js';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { OxioClient } from '../../src/telecom/oxio-client.js';
import { startTestApp } from '../support/app.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';
import { memoryLogger } from '../support/logger.js';
import { sleep, waitUntil } from '../support/time.js';
import { activations, seedPaid, slideWindow, startsInWindow } from './support.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let oxio: LocalOxio;
let smtp: LocalSmtp;
beforeAll(async () => {
  oxio = await startLocalOxio({ latencyMs: 2 });
  smtp = await startLocalSmtp();
});
afterAll(async () => {
  await oxio.close();
  await smtp.close();
});

describe('4 worker loops on separate connections, limit 5, 50 paid', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  function startWorkers(n: number) {
    return Promise.all(
      range(1, n).map(async () => {
        const db: Database = t.connectAgain();
        const { logger, lines } = memoryLogger();
        const worker = new ActivationWorker({
          db,
          logger,
          limit: 5,
          pollMs: 50,
          oxio: new OxioClient({
            baseUrl: oxio.url,
            apiKey: oxio.apiKey,
            authToken: oxio.authToken,
            timeoutMs: 5000,
            maxRetries: 2,
            pollIntervalMs: 20,
            pollTimeoutMs: 5000,
            logger,
          }),
        });
        await worker.start();
        return { worker, lines };
      }),
    );
  }

  async function expectStarted(seqs: number[], inWindow: number) {
    const rows = await activations(t.db);
    const started = rows.filter((r) => r.started_at !== null);
    expect(started.map((r) => r.queue_seq)).toEqual(seqs);
    // Admitted one at a time, in payment order, by the database clock.
    const times = started.map((r) => r.started_at!.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(rows.filter((r) => r.status === 'queued').map((r) => r.queue_seq)).toEqual(range(seqs.length + 1, 50));
    expect(await startsInWindow(t.db)).toBe(inWindow);
    expect(oxio.lines().map((l) => l.email).sort()).toEqual(started.map((r) => r.email).sort());
  }

  const activeCount = async () => (await activations(t.db)).filter((r) => r.status === 'active').length;

  it.runIf(onPostgres())('exactly 5 start, the rest wait in order; the window slides; a restart keeps it', async () => {
    const seeded = await seedPaid(t.db, 50, 'fifo');
    const before = oxio.lines().length;
    expect(before).toBe(0);

    const first = await startWorkers(4);
    await waitUntil(async () => (await activeCount()) === 5, { what: '5 activations' });
    await sleep(600); // a dozen polls of every worker: nothing more may start
    await expectStarted(range(1, 5), 5);
    // Each admission saw the count before it: usages 1..5, once each, whichever worker admitted.
    const usages = first.flatMap((w) => w.lines).filter((l) => String(l.msg).startsWith('[ACTIVATION ALLOWED]'));
    expect(usages.map((l) => l.usage).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(usages.map((l) => l.msg).sort()).toEqual(
      seeded.slice(0, 5).map((s, i) => `[ACTIVATION ALLOWED] UID: ${s.uid} | Email: f***@example.com | Usage: ${i + 1}/5 (${(i + 1) * 20}.0%)`).sort(),
    );
    expect((await activationStore.windowState(t.db, 5)).queueLength).toBe(45);

    // An hour later the next five, and only five.
    await slideWindow(t.db, 61);
    for (const w of first) w.worker.wake();
    await waitUntil(async () => (await activeCount()) === 10, { what: '10 activations' });
    await sleep(600);
    await expectStarted(range(1, 10), 5);

    // Every instance restarts: the window is in the database, not in the process.
    await Promise.all(first.map((w) => w.worker.stop()));
    const second = await startWorkers(4);
    await sleep(800);
    await expectStarted(range(1, 10), 5);

    await slideWindow(t.db, 61);
    for (const w of second) w.worker.wake();
    await waitUntil(async () => (await activeCount()) === 15, { what: '15 activations' });
    await sleep(600);
    await expectStarted(range(1, 15), 5);
    await Promise.all(second.map((w) => w.worker.stop()));
    expect((await activationStore.windowState(t.db, 5)).queueLength).toBe(35);
  });
});

describe('several app instances on one database', () => {
  it.runIf(onPostgres())('share one limit', async () => {
    const t = await createTestDatabase();
    const env = { ACTIVATIONS_PER_HOUR: '4', WORKER_POLL_MS: '50', LOCAL_OXIO_LATENCY_MS: '1' };
    const local = { oxio, smtp };
    const apps = await Promise.all([1, 2, 3].map(() => startTestApp(env, { database: { ...t, db: t.connectAgain() }, overrides: { local } })));
    try {
      const linesBefore = oxio.lines().length;
      const seeded = await seedPaid(t.db, 12, 'multi');
      for (const app of apps) app.service.worker.wake();
      await waitUntil(async () => (await activations(t.db)).filter((r) => r.status === 'active').length === 4, { what: '4 activations' });
      await sleep(500);
      const rows = await activations(t.db);
      expect(rows.filter((r) => r.started_at !== null).map((r) => r.email)).toEqual(seeded.slice(0, 4).map((s) => s.email));
      expect(oxio.lines().length - linesBefore).toBe(4);
      const allowed = apps.flatMap((a) => a.logs).filter((l) => String(l.msg).startsWith('[ACTIVATION ALLOWED]'));
      expect(allowed.map((l) => l.usage).sort()).toEqual([1, 2, 3, 4]);
      for (const app of apps) {
        expect(await app.service.activation.stats()).toMatchObject({ current_hour_activations: 4, slots_available: 0, queue_length: 8 });
      }
    } finally {
      for (const app of apps) await app.close();
      await t.drop();
    }
  });
});

describe('a restart keeps the window', () => {
  it('the new process counts the starts of the old one', async () => {
    const database = await createTestDatabase();
    const env = { ACTIVATIONS_PER_HOUR: '3', WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1' };
    const local = { oxio, smtp };
    try {
      const seeded = await seedPaid(database.db, 5, 'restart');
      const emails = seeded.map((s) => s.email);
      const before = await startTestApp(env, { database, overrides: { local } });
      before.service.worker.wake();
      await waitUntil(async () => (await activations(database.db)).filter((r) => r.status === 'active').length === 3, { what: '3 activations' });
      await before.close();

      const after = await startTestApp(env, { database, overrides: { local } });
      try {
        await sleep(800);
        const rows = await activations(database.db);
        expect(rows.map((r) => r.status)).toEqual(['active', 'active', 'active', 'queued', 'queued']);
        expect(await after.service.activation.stats()).toEqual({
          current_hour_activations: 3,
          max_per_hour: 3,
          capacity_used_percentage: 100,
          slots_available: 0,
          estimated_wait_minutes: 60,
          queue_length: 2,
        });

        await slideWindow(database.db, 61);
        after.service.worker.wake();
        await waitUntil(async () => (await activations(database.db)).every((r) => r.status === 'active'), { what: 'all active' });
        expect(await after.service.activation.stats()).toMatchObject({ current_hour_activations: 2, slots_available: 1, queue_length: 0 });
        expect(oxio.lines().filter((l) => emails.includes(l.email))).toHaveLength(5);
        // Every user gets their one e-mail, whichever process activated them.
        await waitUntil(() => emails.every((e) => smtp.messages().some((m) => m.to.includes(e))), { what: 'five e-mails' });
        for (const e of emails) expect(smtp.messages().filter((m) => m.to.includes(e))).toHaveLength(1);
      } finally {
        await after.close();
      }
    } finally {
      await database.drop();
    }
  });
});
