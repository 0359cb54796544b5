// A slow mail relay (RFC 5321 lets it take up to 10 minutes to answer the final "."): the e-mail
// goes out once, and a send whose outcome is unknown is never repeated before the relay could have
// answered.
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { createMailer, isOutcomeUnknown, RFC5321_TIMEOUTS, type SmtpTimeouts } from '../../src/notify/mailer.js';
import { EmailOutbox, enqueueActivationEmail } from '../../src/notify/outbox.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitUntil } from '../support/time.js';

const LPA = 'LPA:1$smdp.oxio.example$SLOW-RELAY-0001';
const silent = pino({ level: 'silent' });

interface Row {
  status: string;
  attempts: number;
  last_error: string | null;
  message_id: string | null;
  lease_left: number | null;
  due_in: number;
}

let n = 0;
async function enqueue(db: Database, email: string): Promise<number> {
  const { rows: users } = await db.query<{ id: number }>(
    `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
    [`uid-slow-${++n}`, email],
  );
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO activations (user_id, plan_id, status, paid_at, started_at, phone_number, lpa_code, activated_at)
     VALUES ($1, 'beta_esim_activation', 'active', now(), now(), '+14155550123', $2, now()) RETURNING id`,
    [users[0]!.id, LPA],
  );
  const activationId = rows[0]!.id;
  await db.withTransaction((tx) => enqueueActivationEmail(tx, { activationId, recipient: email, phoneNumber: '+14155550123', activationCode: LPA }));
  return activationId;
}

async function rowOf(db: Database, activationId: number): Promise<Row> {
  const { rows } = await db.query<Row>(
    `SELECT status, attempts, last_error, message_id,
            extract(epoch FROM lease_until - now())::float8 AS lease_left,
            extract(epoch FROM next_attempt_at - now())::float8 AS due_in
       FROM email_outbox WHERE activation_id = $1`,
    [activationId],
  );
  return rows[0]!;
}

describe('a slow mail relay', () => {
  let t: TestDatabase;
  let smtp: LocalSmtp;
  beforeAll(async () => {
    t = await createTestDatabase();
    smtp = await startLocalSmtp();
  });
  afterAll(async () => {
    await smtp.close();
    await t.drop();
  });
  afterEach(() => smtp.setReplyDelay(0));

  const mailsTo = (email: string) => smtp.messages().filter((m) => m.to.includes(email));

  it('takes 12 s to accept the message: one copy, the row is sent, the lease outlasts the send', { timeout: 30_000 }, async () => {
    // The production settings: RFC 5321 timeouts.
    const mailer = createMailer({ smtpUrl: smtp.url, logger: silent });
    const outbox = new EmailOutbox({ db: t.db, mailer, from: 'DOTM <no-reply@dotm.test>', logger: silent, maxAttempts: 3, pollMs: 100, backoffBaseMs: 100 });
    smtp.setReplyDelay(12_000);
    const email = 'slow@example.com';
    const activationId = await enqueue(t.db, email);
    outbox.start();
    try {
      // The relay has the message and is still working on it: nobody else may take the row.
      await waitUntil(() => mailsTo(email).length === 1, { what: 'the message at the relay' });
      const during = await rowOf(t.db, activationId);
      expect(during).toMatchObject({ status: 'pending', attempts: 1 });
      expect(during.lease_left! * 1000).toBeGreaterThan(RFC5321_TIMEOUTS.sendMs);

      await waitUntil(async () => (await rowOf(t.db, activationId)).status !== 'pending', { timeoutMs: 20_000, intervalMs: 100, what: 'the send to end' });
    } finally {
      await outbox.stop();
      mailer.close();
    }
    expect(await rowOf(t.db, activationId)).toMatchObject({ status: 'sent', attempts: 1, last_error: null, message_id: `<activation-${activationId}@dotm.esim>` });
    expect(mailsTo(email)).toHaveLength(1);
  });

  it.each<[string, Partial<SmtpTimeouts>]>([
    ['goes silent after the message (inactivity timeout)', { socketMs: 1000, sendMs: 4000 }],
    ['outlasts the whole send deadline', { socketMs: 60_000, sendMs: 1500 }],
  ])('%s: outcome unknown, no resend before the relay could have answered, then one with the same Message-ID', async (_what, timeouts) => {
    // Timeouts scaled down from the RFC values; the relay answers later than the client waits.
    const mailer = createMailer({ smtpUrl: smtp.url, logger: silent, timeouts });
    const outbox = new EmailOutbox({ db: t.db, mailer, from: 'DOTM <no-reply@dotm.test>', logger: silent, maxAttempts: 2, backoffBaseMs: 100 });
    smtp.setReplyDelay(3000);
    const email = `unknown-${timeouts.sendMs}@example.com`;
    const activationId = await enqueue(t.db, email);
    try {
      expect(await outbox.drainOnce()).toBe(0);
      const first = await rowOf(t.db, activationId);
      expect(first).toMatchObject({ status: 'unknown', attempts: 1, lease_left: null });
      expect(first.last_error).toMatch(/outcome unknown/);
      // Not the 100 ms backoff: no sooner than a whole send may take.
      expect(first.due_in * 1000).toBeGreaterThan(timeouts.sendMs! - 200);
      expect(mailsTo(email)).toHaveLength(1);

      // Not due yet: nothing is sent, and the row is not given up although the attempts are.
      smtp.setReplyDelay(0);
      expect(await outbox.drainOnce()).toBe(0);
      expect(mailsTo(email)).toHaveLength(1);

      await t.db.query(`UPDATE email_outbox SET next_attempt_at = now() WHERE activation_id = $1`, [activationId]);
      expect(await outbox.drainOnce()).toBe(1);
    } finally {
      mailer.close();
    }
    expect(await rowOf(t.db, activationId)).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
    const copies = mailsTo(email);
    expect(copies).toHaveLength(2);
    expect(new Set(copies.map((m) => m.messageId))).toEqual(new Set([`<activation-${activationId}@dotm.esim>`]));
  });

  it('tells a refusal or an unreachable relay (nothing was taken) from a lost answer', () => {
    const err = (props: Record<string, unknown>) => Object.assign(new Error('x'), props);
    expect(isOutcomeUnknown(err({ code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT' }))).toBe(true);
    expect(isOutcomeUnknown(err({ code: 'ECONNECTION' }))).toBe(true);
    expect(isOutcomeUnknown(err({ code: 'ESOCKET', originalCode: 'ECONNRESET' }))).toBe(true);
    expect(isOutcomeUnknown(err({ code: 'EABORT' }))).toBe(true);
    expect(isOutcomeUnknown(err({ code: 'EMESSAGE', responseCode: 451 }))).toBe(false);
    expect(isOutcomeUnknown(err({ code: 'ECONNECTION', responseCode: 421 }))).toBe(false);
    expect(isOutcomeUnknown(err({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }))).toBe(false);
    expect(isOutcomeUnknown(err({ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' }))).toBe(false);
    expect(isOutcomeUnknown(err({ code: 'EDNS' }))).toBe(false);
  });
});
