import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { createMailer, type Mailer } from '../../src/notify/mailer.js';
import { ACTIVATION_EMAIL_KIND, EmailOutbox, enqueueActivationEmail } from '../../src/notify/outbox.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';
import { memoryLogger } from '../support/logger.js';
import { sleep } from '../support/time.js';
import { decodeQrPng } from './qr-decode.js';

const LPA = 'LPA:1$smdp.oxio.example$OUTBOX-TEST-0001';

interface OutboxRow {
  id: number;
  status: string;
  attempts: number;
  last_error: string | null;
  message_id: string | null;
  sent_at: Date | null;
  lease_until: Date | null;
  next_attempt_at: Date;
}

let uidCounter = 0;
async function createActivation(db: Database, email: string): Promise<number> {
  const uid = `uid-outbox-${++uidCounter}`;
  const { rows: users } = await db.query<{ id: number }>(
    `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
    [uid, email],
  );
  const userId = users[0]!.id;
  // Only the activation is referenced by the outbox; the invoice side is not needed here.
  const { rows: activations } = await db.query<{ id: number }>(
    `INSERT INTO activations (user_id, plan_id, status, paid_at, started_at, phone_number, lpa_code, activated_at)
     VALUES ($1, 'beta_esim_activation', 'active', now(), now(), '+14155550123', $2, now()) RETURNING id`,
    [userId, LPA],
  );
  return activations[0]!.id;
}

async function outboxRows(db: Database, activationId: number): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT id, status, attempts, last_error, message_id, sent_at, lease_until, next_attempt_at
       FROM email_outbox WHERE kind = $1 AND activation_id = $2`,
    [ACTIVATION_EMAIL_KIND, activationId],
  );
  return rows;
}

/** Makes a row due now, instead of waiting for its backoff. */
async function makeDue(db: Database, activationId: number) {
  await db.query(`UPDATE email_outbox SET next_attempt_at = now() WHERE activation_id = $1`, [activationId]);
}

describe('the e-mail outbox', () => {
  let t: TestDatabase;
  let smtp: LocalSmtp;
  let mailer: Mailer;
  beforeAll(async () => {
    t = await createTestDatabase();
    smtp = await startLocalSmtp();
    mailer = createMailer({ smtpUrl: smtp.url, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
    await t.drop();
  });
  afterEach(() => {
    smtp.setDown(false);
  });

  const outbox = (over: Partial<ConstructorParameters<typeof EmailOutbox>[0]> = {}) =>
    new EmailOutbox({ db: t.db, mailer, from: 'DOTM <no-reply@dotm.test>', logger: pino({ level: 'silent' }), maxAttempts: 5, backoffBaseMs: 60_000, ...over });

  it('enqueues once per activation, inside the caller’s transaction', async () => {
    const activationId = await createActivation(t.db, 'once@example.com');
    const e = { activationId, recipient: 'once@example.com', phoneNumber: '+14155550123', activationCode: LPA };
    await t.db.withTransaction((tx) => enqueueActivationEmail(tx, e));
    await t.db.withTransaction((tx) => enqueueActivationEmail(tx, e));
    const rows = await outboxRows(t.db, activationId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'pending', attempts: 0 });

    // Rolled back with the activation's transaction.
    const other = await createActivation(t.db, 'rollback@example.com');
    await expect(
      t.db.withTransaction(async (tx) => {
        await enqueueActivationEmail(tx, { ...e, activationId: other });
        throw new Error('activation failed');
      }),
    ).rejects.toThrow('activation failed');
    expect(await outboxRows(t.db, other)).toHaveLength(0);
  });

  it('sends exactly one e-mail per row, with the QR code, and marks it sent', async () => {
    smtp.clear();
    const activationId = await createActivation(t.db, 'sent@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'sent@example.com', phoneNumber: '+14155550123', activationCode: LPA }),
    );
    const { logger, lines } = memoryLogger('debug');
    const o = outbox({ logger });
    expect(await o.drainOnce()).toBeGreaterThanOrEqual(1);
    expect(await o.drainOnce()).toBe(0);

    const mails = smtp.messages().filter((m) => m.to.includes('sent@example.com'));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.messageId).toBe(`<activation-${activationId}@dotm.esim>`);
    expect(mails[0]!.text).toContain('+14155550123');
    expect(decodeQrPng(mails[0]!.attachments.find((a) => a.filename === 'dotm-esim-qr.png')!.content)).toBe(LPA);

    const [row] = await outboxRows(t.db, activationId);
    expect(row).toMatchObject({ status: 'sent', attempts: 1, last_error: null, message_id: `<activation-${activationId}@dotm.esim>`, lease_until: null });
    expect(row!.sent_at).toBeInstanceOf(Date);

    const logged = JSON.stringify(lines);
    expect(logged).toContain('s***@example.com');
    expect(logged).not.toContain('sent@example.com');
    expect(logged).not.toContain('OUTBOX-TEST-0001');
    expect(lines.some((l) => l.msg === 'activation e-mail sent' && l.activationId === activationId)).toBe(true);
  });

  it('survives an SMTP outage: the row stays pending with the error, then is delivered exactly once', async () => {
    smtp.clear();
    const activationId = await createActivation(t.db, 'outage@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'outage@example.com', phoneNumber: '+14155550123', activationCode: LPA }),
    );
    const { logger, lines } = memoryLogger('debug');
    const o = outbox({ logger, backoffBaseMs: 60_000 });

    smtp.setDown(true);
    await expect(o.drainOnce()).resolves.toBe(0);
    let [row] = await outboxRows(t.db, activationId);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lease_until: null, message_id: null });
    expect(row!.last_error).toMatch(/421/);
    const { rows: clock } = await t.db.query<{ wait: number }>(
      `SELECT extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM email_outbox WHERE activation_id = $1`,
      [activationId],
    );
    expect(clock[0]!.wait).toBeGreaterThan(50); // first retry after the base backoff (60 s)
    expect(lines.some((l) => l.msg === 'activation e-mail not sent; will retry' && l.level === 40)).toBe(true);

    // Not due yet: nothing is tried.
    smtp.setDown(false);
    expect(await o.drainOnce()).toBe(0);
    expect(smtp.messages()).toHaveLength(0);

    await makeDue(t.db, activationId);
    expect(await o.drainOnce()).toBe(1);
    expect(await o.drainOnce()).toBe(0);
    [row] = await outboxRows(t.db, activationId);
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(smtp.messages().filter((m) => m.to.includes('outage@example.com'))).toHaveLength(1);
  });

  it('backs off exponentially, capped at ten minutes', async () => {
    const activationId = await createActivation(t.db, 'backoff@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'backoff@example.com', phoneNumber: '+1', activationCode: LPA }),
    );
    const o = outbox({ backoffBaseMs: 100_000, maxAttempts: 10 });
    smtp.setDown(true);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      await o.drainOnce();
      const { rows } = await t.db.query<{ wait: number }>(
        `SELECT extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM email_outbox WHERE activation_id = $1`,
        [activationId],
      );
      waits.push(Math.round(rows[0]!.wait));
      await makeDue(t.db, activationId);
    }
    expect(waits).toEqual([100, 200, 400, 600]);
  });

  it('gives up after maxAttempts: the row is dead and logged at error', async () => {
    const activationId = await createActivation(t.db, 'dead@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'dead@example.com', phoneNumber: '+1', activationCode: LPA }),
    );
    const { logger, lines } = memoryLogger('debug');
    const o = outbox({ logger, maxAttempts: 3 });
    smtp.setDown(true);
    for (let i = 0; i < 3; i++) {
      await o.drainOnce();
      await makeDue(t.db, activationId);
    }
    const [row] = await outboxRows(t.db, activationId);
    expect(row).toMatchObject({ status: 'dead', attempts: 3 });
    expect(row!.last_error).toMatch(/421/);
    expect(lines.some((l) => l.level === 50 && l.msg === 'activation e-mail given up after the last attempt' && l.activationId === activationId)).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('dead@example.com');

    smtp.setDown(false);
    expect(await o.drainOnce()).toBe(0);
    expect(smtp.messages().filter((m) => m.to.includes('dead@example.com'))).toHaveLength(0);
  });

  it('does not send a row another sender holds a lease on, and takes it over once the lease expires', async () => {
    smtp.clear();
    const activationId = await createActivation(t.db, 'lease@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'lease@example.com', phoneNumber: '+1', activationCode: LPA }),
    );
    await t.db.query(`UPDATE email_outbox SET lease_until = now() + interval '1 minute', attempts = 1 WHERE activation_id = $1`, [activationId]);
    const o = outbox();
    expect(await o.drainOnce()).toBe(0);
    await t.db.query(`UPDATE email_outbox SET lease_until = now() - interval '1 second' WHERE activation_id = $1`, [activationId]);
    expect(await o.drainOnce()).toBe(1);
    const [row] = await outboxRows(t.db, activationId);
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('runs in the background: wake() sends at once, stop() waits for the send in flight', async () => {
    smtp.clear();
    const o = outbox({ pollMs: 60_000 });
    o.start();
    try {
      const activationId = await createActivation(t.db, 'loop@example.com');
      await t.db.withTransaction((tx) =>
        enqueueActivationEmail(tx, { activationId, recipient: 'loop@example.com', phoneNumber: '+1', activationCode: LPA }),
      );
      o.wake();
      const mail = await smtp.waitFor((m) => m.to.includes('loop@example.com'), 5000);
      expect(mail.messageId).toBe(`<activation-${activationId}@dotm.esim>`);
      await expect.poll(async () => (await outboxRows(t.db, activationId))[0]!.status).toBe('sent');
    } finally {
      await o.stop();
    }

    // Stopping in the middle of a send lets that send finish and record its outcome.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sending!: () => void;
    const started = new Promise<void>((r) => (sending = r));
    const slowMailer = {
      async send(m: Parameters<Mailer['send']>[0]) {
        sending();
        await gate;
        return mailer.send(m);
      },
    };
    const slow = outbox({ mailer: slowMailer, pollMs: 60_000 });
    const activationId = await createActivation(t.db, 'inflight@example.com');
    await t.db.withTransaction((tx) =>
      enqueueActivationEmail(tx, { activationId, recipient: 'inflight@example.com', phoneNumber: '+1', activationCode: LPA }),
    );
    slow.start();
    await started;
    const stopped = slow.stop();
    release();
    await stopped;
    expect((await outboxRows(t.db, activationId))[0]).toMatchObject({ status: 'sent' });
  });

  it('a NOTIFY from the enqueueing transaction wakes a running outbox', async () => {
    smtp.clear();
    const o = outbox({ pollMs: 60_000 });
    o.start();
    try {
      // Let the first (empty) drain finish so the loop sleeps for a minute.
      await sleep(300);
      const activationId = await createActivation(t.db, 'notify@example.com');
      await t.db.withTransaction((tx) =>
        enqueueActivationEmail(tx, { activationId, recipient: 'notify@example.com', phoneNumber: '+1', activationCode: LPA }),
      );
      await smtp.waitFor((m) => m.to.includes('notify@example.com'), 5000);
    } finally {
      await o.stop();
    }
  });

  it.runIf(onPostgres())('two instances draining together send each e-mail exactly once', async () => {
    smtp.clear();
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) {
      const activationId = await createActivation(t.db, `many${i}@example.com`);
      ids.push(activationId);
      await t.db.withTransaction((tx) =>
        enqueueActivationEmail(tx, { activationId, recipient: `many${i}@example.com`, phoneNumber: '+1', activationCode: LPA }),
      );
    }
    const a = outbox();
    const b = outbox({ db: t.connectAgain() });
    const [sentA, sentB] = await Promise.all([a.drainOnce(), b.drainOnce()]);
    expect(sentA + sentB).toBe(12);
    const mails = smtp.messages().filter((m) => m.to.some((to) => to.startsWith('many')));
    expect(mails).toHaveLength(12);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(12);
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*) AS n FROM email_outbox WHERE activation_id = ANY($1::bigint[]) AND status = 'sent' AND attempts = 1`,
      [ids],
    );
    expect(rows[0]!.n).toBe(12);
  });
});
