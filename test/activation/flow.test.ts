// The whole purchase as the assistant drives it: activate_esim → invoice → payment (signed webhook)
// → queue → OXIO → e-mail whose QR code is the LPA activation code; and what activate_esim answers
// in every state, what operators see (admin statistics, metrics, log lines).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationWorker } from '../../src/activation/worker.js';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import { OxioClient } from '../../src/telecom/oxio-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { memoryLogger } from '../support/logger.js';
import { sleep } from '../support/time.js';
import { activateEsim, type ActivateAnswer } from '../support/tools.js';
import { activationOf, buyAndPay, qrTexts, slideWindow } from './support.js';

const ADMIN = 'test-admin-token-0123456789';

/** Neither the activation code (nor its matching id, which is enough to install) nor the ICCID. */
function expectNoInstallSecrets(answers: ActivateAnswer[], secrets: { activationCode: string; iccid: string }) {
  const matchingId = secrets.activationCode.split('$')[2]!;
  expect(matchingId.length).toBeGreaterThan(8);
  for (const a of answers) {
    expect(a.raw).not.toContain(matchingId);
    expect(a.raw).not.toContain(secrets.iccid);
    expect(a.raw).not.toMatch(/LPA:1\$/);
  }
}

async function adminStats(app: TestApp) {
  const res = await fetch(`${app.url}/admin/rate-limit`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function metric(app: TestApp, name: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} missing`);
  return Number(line.slice(name.length + 1));
}

describe('activate_esim to a QR code in the mailbox', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ACTIVATIONS_PER_HOUR: '5', LOCAL_OXIO_LATENCY_MS: '2', OXIO_POLL_INTERVAL_MS: '50' });
  });
  afterAll(() => app.close());

  it('pays, activates through OXIO and e-mails a QR code that decodes to the LPA code', async () => {
    const email = 'una.traveller@example.com';
    const { client, first } = await buyAndPay(app, email);
    expect(first.structured).toMatchObject({ amount_due: '1.00', currency: 'usd' });

    // Nobody tells the assistant: the webhook queued it and a worker activated it.
    const smtp = app.service.local.smtp!;
    const mail = await smtp.waitFor((m) => m.to.includes(email), 15_000);
    const oxio = app.service.local.oxio!;
    const lines = oxio.lines().filter((l) => l.email === email);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.status).toBe('ACTIVE');
    expect(line.activationCode).toMatch(/^LPA:1\$/);
    // Inline image and attachment: both scan to the code a phone installs.
    expect(qrTexts(mail)).toEqual([line.activationCode, line.activationCode]);
    expect(mail.text).toContain(line.phoneNumber);

    const row = await activationOf(app.service.db, email);
    expect(row).toMatchObject({ status: 'active', phone_number: line.phoneNumber, lpa_code: line.activationCode, iccid: line.iccid, attempts: 1 });

    const answer = await activateEsim(client);
    expect(answer.structured).toMatchObject({ status: 'active', phone_number: line.phoneNumber, activation_id: first.structured.activation_id });
    expect(answer.structured.message).toMatch(/check your e-mail/i);
    expect(answer.text).toContain(line.phoneNumber);
    expectNoInstallSecrets([first, answer], line);

    // One e-mail, even after asking again.
    await sleep(300);
    expect(smtp.messages().filter((m) => m.to.includes(email))).toHaveLength(1);

    const allowed = app.logs.filter((l) => String(l.msg).startsWith('[ACTIVATION ALLOWED]'));
    expect(allowed.map((l) => l.msg)).toEqual([`[ACTIVATION ALLOWED] UID: ${uidForEmail(email)} | Email: u***@example.com | Usage: 1/5 (20.0%)`]);
    const raw = app.rawLogs();
    expect(raw).not.toContain(email);
    expect(raw).not.toContain(line.activationCode.split('$')[2]!);
    expect(raw).not.toContain(line.iccid);
  });
});

describe('activate_esim answers from the state; operators see the window', () => {
  let app: TestApp;
  /** Claimed activations held at the claim until released: the "activating" state, observable. */
  const held = new Map<number, { reached: () => void; release: Promise<void> }>();
  beforeAll(async () => {
    app = await startTestApp(
      { ACTIVATIONS_PER_HOUR: '2', LOCAL_OXIO_LATENCY_MS: '1', OXIO_POLL_INTERVAL_MS: '20' },
      {
        overrides: {
          startWorkers: false,
          workerHooks: {
            async afterClaim(a) {
              const h = held.get(a.id);
              if (h) {
                h.reached();
                await h.release;
              }
            },
          },
        },
      },
    );
  });
  afterAll(() => app.close());

  it('queued → activating → active, failed, queued behind a full window with position and ETA', async () => {
    const { db } = app.service;
    const oxio = app.service.local.oxio!;
    const answers: ActivateAnswer[] = [];

    // A pays: first in line, nothing started yet, so it starts now.
    const a = await buyAndPay(app, 'ada@example.com');
    const queuedNow = await activateEsim(a.client);
    answers.push(a.first, queuedNow);
    expect(queuedNow.structured).toMatchObject({ status: 'queued', queue_position: 1, estimated_wait_minutes: 0 });

    // Claimed and being provisioned.
    const aRow = await activationOf(db, 'ada@example.com');
    let releaseA!: () => void;
    const reachedA = new Promise<void>((reached) => {
      held.set(aRow.id, { reached, release: new Promise<void>((r) => (releaseA = r)) });
    });
    const drained = app.service.worker.drainOnce();
    await reachedA;
    const activating = await activateEsim(a.client);
    answers.push(activating);
    expect(activating.structured).toMatchObject({ status: 'activating', activation_id: queuedNow.structured.activation_id });
    releaseA();
    expect(await drained).toBe(1);
    const active = await activateEsim(a.client);
    answers.push(active);
    const aLine = oxio.lines().find((l) => l.email === 'ada@example.com')!;
    expect(active.structured).toMatchObject({ status: 'active', phone_number: aLine.phoneNumber });
    expect(active.structured.message).toMatch(/check your e-mail/i);

    // F pays; the carrier keeps failing and a worker allowed a single attempt gives up.
    const f = await buyAndPay(app, 'fred@example.com');
    const { logger } = memoryLogger();
    const strict = new ActivationWorker({
      db,
      logger,
      limit: 2,
      pollMs: 1000,
      maxAttempts: 1,
      oxio: new OxioClient({
        baseUrl: oxio.url,
        apiKey: oxio.apiKey,
        authToken: oxio.authToken,
        timeoutMs: 2000,
        maxRetries: 0,
        pollIntervalMs: 20,
        pollTimeoutMs: 2000,
        logger,
      }),
    });
    oxio.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error', times: 1 });
    expect(await strict.drainOnce()).toBe(1);
    const failed = await activateEsim(f.client);
    answers.push(f.first, failed);
    expect(failed.structured.status).toBe('failed');
    expect(failed.structured.message).toMatch(/payment is safe/i);
    expect(failed.raw).not.toMatch(/OXIO|503|HTTP/);
    expect(await activateEsim(f.client)).toMatchObject({ structured: { status: 'failed' } });

    // Two starts in the window of 2: Q1 and Q2 wait for them to leave it.
    const q1 = await buyAndPay(app, 'quinn@example.com');
    const q2 = await buyAndPay(app, 'quentin@example.com');
    const first = await activateEsim(q1.client);
    const second = await activateEsim(q2.client);
    answers.push(q1.first, q2.first, first, second);
    expect(first.structured).toMatchObject({ status: 'queued', queue_position: 1, estimated_wait_minutes: 60 });
    expect(second.structured).toMatchObject({ status: 'queued', queue_position: 2, estimated_wait_minutes: 60 });
    expect(first.structured.message).toContain("You're #1 in queue, estimated wait: 60 minutes. Your account and payment are ready");
    expect(second.text).toContain("You're #2 in queue, estimated wait: 60 minutes. Your account and payment are ready");
    const limited = app.logs.filter((l) => String(l.msg).startsWith('[RATE LIMITED]')).map((l) => l.msg);
    expect(limited).toEqual([
      `[RATE LIMITED] UID: ${uidForEmail('quinn@example.com')} | Email: q***@example.com | Wait: 60min | Queue Pos: 1`,
      `[RATE LIMITED] UID: ${uidForEmail('quentin@example.com')} | Email: q***@example.com | Wait: 60min | Queue Pos: 2`,
    ]);
    const allowed = app.logs.filter((l) => String(l.msg).startsWith('[ACTIVATION ALLOWED]')).map((l) => l.msg);
    expect(allowed).toEqual([`[ACTIVATION ALLOWED] UID: ${uidForEmail('ada@example.com')} | Email: a***@example.com | Usage: 1/2 (50.0%)`]);

    // Operators: a payment made now is third in line: it waits for the replacement of A's start.
    expect((await fetch(`${app.url}/admin/rate-limit`)).status).toBe(401);
    expect((await fetch(`${app.url}/admin/rate-limit`, { headers: { authorization: 'Bearer not-the-admin-token' } })).status).toBe(401);
    expect(await adminStats(app)).toEqual({
      current_hour_activations: 2,
      max_per_hour: 2,
      capacity_used_percentage: 100,
      slots_available: 0,
      estimated_wait_minutes: 120,
      queue_length: 2,
    });
    expect(await metric(app, 'dotm_activations_current_hour')).toBe(2);
    expect(await metric(app, 'dotm_activations_max_per_hour')).toBe(2);
    expect(await metric(app, 'dotm_activation_slots_available')).toBe(0);
    expect(await metric(app, 'dotm_activation_queue_length')).toBe(2);
    expect(await metric(app, 'dotm_activation_estimated_wait_minutes')).toBe(120);

    // The full window holds them back...
    expect(await app.service.worker.drainOnce()).toBe(0);
    // ...until its starts are more than an hour old.
    await slideWindow(db, 61);
    expect(await app.service.worker.drainOnce()).toBe(2);
    for (const q of [q1, q2]) {
      const now = await activateEsim(q.client);
      answers.push(now);
      expect(now.structured.status).toBe('active');
    }
    expect(await adminStats(app)).toMatchObject({ current_hour_activations: 2, slots_available: 0, queue_length: 0, estimated_wait_minutes: 60 });

    for (const line of oxio.lines()) expectNoInstallSecrets(answers, line);
    expect(oxio.lines()).toHaveLength(3);
  });
});
