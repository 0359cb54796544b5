// Crash safety: the process dies after the claim, after OXIO answered but before we stored the
// line, or after storing but before the e-mail went out. On restart each activation completes with
// one OXIO line and one e-mail, and a resumed activation is not a second start in the window.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationWorker, SimulatedCrash, type WorkerHooks } from '../../src/activation/worker.js';
import type { Database } from '../../src/db/database.js';
import { startLocalOxio, type LocalOxio } from '../../src/local/oxio/index.js';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { OxioClient } from '../../src/telecom/oxio-client.js';
import { startTestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { memoryLogger } from '../support/logger.js';
import { sleep, waitUntil } from '../support/time.js';
import { activationOf, activations, expireLeases, outboxRows, qrTexts, seedPaid, startsInWindow } from './support.js';

type CrashPoint = keyof WorkerHooks;

let oxio: LocalOxio;
let smtp: LocalSmtp;
beforeAll(async () => {
  oxio = await startLocalOxio({ latencyMs: 1 });
  smtp = await startLocalSmtp();
});
afterAll(async () => {
  await oxio.close();
  await smtp.close();
});

const linesOf = (email: string) => oxio.lines().filter((l) => l.email === email);
const mailsTo = (email: string) => smtp.messages().filter((m) => m.to.includes(email));

/** Hooks that kill the "process" at the chosen point for the chosen activations, once each. */
function crashHooks(plan: Map<number, CrashPoint>): WorkerHooks {
  const at = (point: CrashPoint) => (a: { id: number }) => {
    if (plan.get(a.id) !== point) return;
    plan.delete(a.id);
    throw new SimulatedCrash(`process killed ${point}`);
  };
  return { afterClaim: at('afterClaim'), afterProvision: at('afterProvision'), afterStore: at('afterStore') };
}

function worker(db: Database, o: { leaseSeconds: number; hooks?: WorkerHooks }) {
  const { logger } = memoryLogger();
  return new ActivationWorker({
    db,
    logger,
    limit: 10,
    pollMs: 100,
    leaseSeconds: o.leaseSeconds,
    hooks: o.hooks,
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
}

describe('killed at any step, completed on restart', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('one OXIO line and one e-mail each, whatever step the process died at', async () => {
    const { db } = database;
    const env = { ACTIVATIONS_PER_HOUR: '10', WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1' };
    const seeded = await seedPaid(db, 3, 'crash');
    const [claimed, provisioned, stored] = seeded as [(typeof seeded)[0], (typeof seeded)[0], (typeof seeded)[0]];
    const plan = new Map<number, CrashPoint>([
      [claimed.id, 'afterClaim'],
      [provisioned.id, 'afterProvision'],
      [stored.id, 'afterStore'],
    ]);

    // The first process: its worker is driven by hand and dies at the planned points; its outbox
    // never runs (it died before sending).
    const doomed = await startTestApp(env, { database, overrides: { startWorkers: false, workerHooks: crashHooks(plan), local: { oxio, smtp } } });
    expect(await doomed.service.worker.drainOnce()).toBe(3);
    await doomed.close();

    expect(await activationOf(db, claimed.email)).toMatchObject({ status: 'activating', attempts: 1, phone_number: null });
    expect(linesOf(claimed.email)).toHaveLength(0);
    // OXIO made the line; we never stored it.
    expect(await activationOf(db, provisioned.email)).toMatchObject({ status: 'activating', attempts: 1, oxio_line_id: null });
    expect(linesOf(provisioned.email)).toHaveLength(1);
    // Stored with its e-mail queued, not sent.
    expect(await activationOf(db, stored.email)).toMatchObject({ status: 'active', attempts: 1 });
    expect((await outboxRows(db)).map((r) => r.status)).toEqual(['pending']);
    expect(smtp.messages()).toHaveLength(0);
    expect(await startsInWindow(db)).toBe(3);

    // Time passes: the dead process's claims expire. A new process starts.
    await expireLeases(db);
    const restarted = await startTestApp(env, { database, overrides: { local: { oxio, smtp } } });
    try {
      await waitUntil(() => seeded.every((s) => mailsTo(s.email).length > 0), { timeoutMs: 15_000, what: 'three e-mails' });
      await sleep(500);
      for (const s of seeded) {
        const row = await activationOf(db, s.email);
        const lines = linesOf(s.email);
        expect(lines, s.email).toHaveLength(1);
        expect(row).toMatchObject({ status: 'active', oxio_line_id: lines[0]!.lineId, lpa_code: lines[0]!.activationCode });
        const mails = mailsTo(s.email);
        expect(mails, s.email).toHaveLength(1);
        expect(qrTexts(mails[0]!)).toEqual([lines[0]!.activationCode, lines[0]!.activationCode]);
      }
      expect((await activationOf(db, claimed.email)).attempts).toBe(2);
      expect((await activationOf(db, provisioned.email)).attempts).toBe(2);
      expect((await activationOf(db, stored.email)).attempts).toBe(1);
      expect(oxio.stats().lineCreates).toBe(3);
      expect((await outboxRows(db)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
      // Resuming is not starting again: three starts in the window, as before the crash.
      expect(await startsInWindow(db)).toBe(3);
      expect(await restarted.service.activation.stats()).toMatchObject({ current_hour_activations: 3, queue_length: 0 });
      expect(restarted.logs.filter((l) => String(l.msg).startsWith('[ACTIVATION ALLOWED]'))).toHaveLength(0);
    } finally {
      await restarted.close();
    }
  });
});

describe('leases', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('a dead worker’s claim is resumed by another worker only once its lease has run out', async () => {
    const { db } = database;
    const [victim] = await seedPaid(db, 1, 'lease');
    const dying = worker(db, { leaseSeconds: 1, hooks: crashHooks(new Map([[victim!.id, 'afterProvision']])) });
    expect(await dying.drainOnce()).toBe(1);
    expect(linesOf(victim!.email)).toHaveLength(1);

    const survivor = worker(db, { leaseSeconds: 1 });
    // Still leased: another worker must not touch it.
    expect(await survivor.drainOnce()).toBe(0);
    expect((await activationOf(db, victim!.email)).status).toBe('activating');
    await waitUntil(async () => (await survivor.drainOnce()) === 1, { timeoutMs: 5000, intervalMs: 100, what: 'the lease to run out' });
    const row = await activationOf(db, victim!.email);
    expect(row).toMatchObject({ status: 'active', attempts: 2, oxio_line_id: linesOf(victim!.email)[0]!.lineId });
    expect(linesOf(victim!.email)).toHaveLength(1);
  });

  it('a slow activation keeps its claim alive: nobody resumes it while its worker is working', async () => {
    const { db } = database;
    const [slow] = await seedPaid(db, 1, 'slow');
    const requestsBefore = oxio.stats().lineCreateRequests;
    oxio.setLatency(700); // every OXIO request; the provisioning takes several times the lease
    try {
      const busy = worker(db, { leaseSeconds: 2 });
      const other = worker(db, { leaseSeconds: 2 });
      const started = Date.now();
      const work = busy.drainOnce();
      let done = false;
      void work.finally(() => (done = true));
      let stolen = 0;
      while (!done) {
        stolen += await other.drainOnce();
        await sleep(100);
      }
      expect(await work).toBe(1);
      expect(Date.now() - started).toBeGreaterThan(2500);
      expect(stolen).toBe(0);
    } finally {
      oxio.setLatency(1);
    }
    expect(await activationOf(db, slow!.email)).toMatchObject({ status: 'active', attempts: 1 });
    expect(linesOf(slow!.email)).toHaveLength(1);
    expect(oxio.stats().lineCreateRequests - requestsBefore).toBe(1);
    expect((await activations(db)).every((r) => r.status === 'active')).toBe(true);
  });
});
