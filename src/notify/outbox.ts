// The e-mail outbox. A row is written in the transaction that completes an activation, so the
// e-mail cannot be lost and an SMTP outage never rolls the activation back; this worker sends it
// after the commit and retries with exponential backoff until it is delivered or given up ('dead').
//
// Each row is claimed with a lease in a statement of its own (FOR UPDATE SKIP LOCKED, database
// clock), sent outside any transaction, then marked sent. The lease outlasts the longest send, so no
// other sender takes a row whose send is still running. A send that fails before the relay could
// have taken the message is retried with backoff; one whose outcome is unknown (the relay went
// silent after the message) is marked 'unknown' and retried only once the relay could have answered.
// A crash between send and mark means one more send after the lease expires. Every copy carries the
// same Message-ID, so relays and mail clients can recognise it.
import type { SendMailOptions } from 'nodemailer';
import { backoffDelay } from '../backoff.js';
import type { Database, Queryable } from '../db/database.js';
import { WakeLoop } from '../jobs/wake-loop.js';
import { maskEmail, type Logger } from '../logger.js';
import { buildActivationEmail } from './activation-email.js';
import { MailOutcomeUnknownError, RFC5321_TIMEOUTS } from './mailer.js';
import { OUTBOX_CHANNEL, outboxStore, type OutboxRow } from './outbox-store.js';
import { renderQrPng } from './qr.js';

export { OUTBOX_CHANNEL } from './outbox-store.js';
export const ACTIVATION_EMAIL_KIND = 'activation_qr';

// The lease is the longest send plus this margin for rendering and the database round trips.
const LEASE_MARGIN_SECONDS = 60;
const MAX_BACKOFF_MS = 10 * 60_000;
const MAX_ERROR_LENGTH = 1000;
/** Tries to record a send's outcome over about 6 s (waits of 200 ms doubling). */
const RECORD_ATTEMPTS = 6;
const RECORD_BACKOFF = { base: 200, max: 3200 };

export interface ActivationEmailRequest {
  activationId: number;
  recipient: string;
  phoneNumber: string;
  activationCode: string;
}

/** Called inside the transaction that completes an activation; idempotent (UNIQUE kind+activation_id). */
export async function enqueueActivationEmail(tx: Queryable, e: ActivationEmailRequest): Promise<void> {
  await outboxStore.enqueue(tx, {
    kind: ACTIVATION_EMAIL_KIND,
    activationId: e.activationId,
    recipient: e.recipient,
    payload: { phoneNumber: e.phoneNumber, activationCode: e.activationCode },
  });
}

export interface OutboxMailer {
  send(msg: SendMailOptions): Promise<{ messageId: string }>;
  /** The longest one send may take (RFC 5321 waits when not given). */
  readonly sendTimeoutMs?: number;
}

export interface EmailOutboxDeps {
  db: Database;
  mailer: OutboxMailer;
  from: string;
  logger: Logger;
  maxAttempts: number;
  /** How often to look for due rows when nothing wakes the outbox. Default 2000. */
  pollMs?: number;
  /** Retry n (n = 1, 2, …) waits base·2^(n-1), capped at 10 minutes. Default 1000. */
  backoffBaseMs?: number;
}

/** Keeps e-mail addresses (e.g. in an SMTP "recipient rejected" reply) out of the logs. */
function scrubAddresses(text: string): string {
  return text.replace(/[^\s<>()"',;:]+@[^\s<>()"',;:]+/g, (a) => maskEmail(a));
}

function describeError(err: unknown): { message: string; code?: string; responseCode?: number } {
  if (err instanceof Error) {
    const { code, responseCode } = err as Error & { code?: unknown; responseCode?: unknown };
    return {
      message: err.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof responseCode === 'number' ? { responseCode } : {}),
    };
  }
  return { message: String(err) };
}

function activationPayload(payload: unknown): { phoneNumber: string; activationCode: string } {
  const p = payload as { phoneNumber?: unknown; activationCode?: unknown } | null;
  if (!p || typeof p.phoneNumber !== 'string' || typeof p.activationCode !== 'string') {
    throw new Error('outbox payload lacks phoneNumber or activationCode');
  }
  return { phoneNumber: p.phoneNumber, activationCode: p.activationCode };
}

export class EmailOutbox {
  private readonly db: Database;
  private readonly mailer: OutboxMailer;
  private readonly from: string;
  private readonly log: Logger;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly sendTimeoutMs: number;
  private readonly leaseSeconds: number;
  private readonly loop: WakeLoop;

  constructor(deps: EmailOutboxDeps) {
    this.db = deps.db;
    this.mailer = deps.mailer;
    this.from = deps.from;
    this.log = deps.logger.child({ component: 'email-outbox' });
    this.maxAttempts = Math.max(1, deps.maxAttempts);
    this.backoffBaseMs = deps.backoffBaseMs ?? 1000;
    this.sendTimeoutMs = deps.mailer.sendTimeoutMs ?? RFC5321_TIMEOUTS.sendMs;
    this.leaseSeconds = Math.ceil(this.sendTimeoutMs / 1000) + LEASE_MARGIN_SECONDS;
    this.loop = new WakeLoop({
      name: 'outbox',
      db: this.db,
      channel: OUTBOX_CHANNEL,
      logger: this.log,
      pollMs: deps.pollMs ?? 2000,
      pass: async () => {
        await this.drainOnce();
      },
    });
  }

  /** Starts the background loop: a poll every `pollMs`, and at once on wake() or a NOTIFY. */
  start(): void {
    void this.loop.start();
  }

  /** A new row was enqueued: look now instead of at the next poll. */
  wake(): void {
    this.loop.wake();
  }

  /** Finishes the e-mail being sent (if any), then stops. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * Sends every row that is due now, one at a time, each at most once per call. Failures are
   * recorded on the row and never thrown. Returns the number sent.
   */
  async drainOnce(): Promise<number> {
    const seen: number[] = [];
    let sent = 0;
    for (;;) {
      // The loop stops between e-mails once stop() is called; a direct call always drains.
      if (this.loop.stopping) break;
      const row = await outboxStore.claimNext(this.db, seen, this.leaseSeconds);
      if (!row) break;
      seen.push(row.id);
      if (await this.deliver(row)) sent++;
    }
    return sent;
  }

  /** Sends one claimed row; true when it was sent. */
  private async deliver(row: OutboxRow): Promise<boolean> {
    const fields = {
      outboxId: row.id,
      kind: row.kind,
      activationId: row.activation_id,
      recipient: maskEmail(row.recipient),
      attempt: row.attempts,
    };
    if (row.attempts > this.maxAttempts) {
      // Claimed before, and the process never recorded the outcome (e.g. it crashed) that often.
      await this.markDead(row, 'attempts exhausted without a recorded outcome', fields);
      return false;
    }
    let messageId: string;
    try {
      const msg = await this.render(row);
      ({ messageId } = await this.mailer.send(msg));
    } catch (err) {
      await this.recordFailure(row, err, fields);
      return false;
    }
    await this.record(() => outboxStore.markSent(this.db, row.id, messageId));
    this.log.info({ ...fields, messageId }, 'activation e-mail sent');
    return true;
  }

  /**
   * Records the outcome of a send. The send cannot be taken back, so a database blip (a failover, a
   * dropped connection) is ridden out rather than leaving the row to be sent again when its lease
   * runs out.
   */
  private async record(write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (err) {
        if (attempt >= RECORD_ATTEMPTS) throw err;
        this.log.warn({ err: describeError(err).message, attempt }, 'outbox: could not record a send; retrying');
        await new Promise((r) => setTimeout(r, backoffDelay(attempt - 1, RECORD_BACKOFF)));
      }
    }
  }

  private async render(row: OutboxRow): Promise<SendMailOptions> {
    if (row.kind !== ACTIVATION_EMAIL_KIND || row.activation_id === null) {
      throw new Error(`unknown outbox kind ${row.kind}`);
    }
    const { phoneNumber, activationCode } = activationPayload(row.payload);
    return buildActivationEmail({
      activationId: row.activation_id,
      to: row.recipient,
      from: this.from,
      phoneNumber,
      activationCode,
      qrPng: await renderQrPng(activationCode),
    });
  }

  private async recordFailure(row: OutboxRow, err: unknown, fields: Record<string, unknown>): Promise<void> {
    const error = describeError(err);
    const lastError = [error.responseCode, error.code, error.message].filter((p) => p !== undefined).join(' ').slice(0, MAX_ERROR_LENGTH);
    if (row.attempts >= this.maxAttempts) {
      await this.markDead(row, lastError, fields);
      return;
    }
    const backoffMs = backoffDelay(row.attempts - 1, { base: this.backoffBaseMs, max: MAX_BACKOFF_MS });
    // The relay may still be accepting the message: not again before it could have answered.
    const unknown = err instanceof MailOutcomeUnknownError;
    const delayMs = unknown ? Math.max(backoffMs, this.sendTimeoutMs) : backoffMs;
    await this.record(() => outboxStore.scheduleRetry(this.db, row.id, { lastError, delayMs, outcomeUnknown: unknown }));
    this.log.warn(
      { ...fields, retryInMs: delayMs, smtpCode: error.responseCode, errorCode: error.code, err: scrubAddresses(error.message) },
      unknown ? 'activation e-mail outcome unknown; will retry after the relay could have answered' : 'activation e-mail not sent; will retry',
    );
  }

  private async markDead(row: OutboxRow, lastError: string, fields: Record<string, unknown>): Promise<void> {
    await outboxStore.markDead(this.db, row.id, lastError.slice(0, MAX_ERROR_LENGTH));
    this.log.error(
      { ...fields, maxAttempts: this.maxAttempts, err: scrubAddresses(lastError) },
      'activation e-mail given up after the last attempt',
    );
  }
}
