// A worker runs in every instance. It admits queued activations only while fewer than the hourly
// limit started in the last 60 minutes (admission is one locked transaction, see activation-store),
// provisions each through OXIO, stores the line and queues the e-mail in one transaction. It wakes
// on NOTIFY (new payment), when the oldest start in the window expires, and by polling.
// Each claim is one attempt (its number fences the writes): a worker whose lease ran out, e.g.
// while the database was out of reach, cannot extend, retry or fail an activation another worker
// resumed. Nothing is given up while the carrier holds a line for it: that line is delivered.
import { backoffDelay } from '../backoff.js';
import type { Database } from '../db/database.js';
import { userStore, type User } from '../identity/user-store.js';
import { WakeLoop } from '../jobs/wake-loop.js';
import { maskEmail, type Logger } from '../logger.js';
import { enqueueActivationEmail } from '../notify/outbox.js';
import { activationStore, type Activation } from './activation-store.js';

export interface ProvisionedLine {
  endUserId: string;
  lineId: string;
  iccid: string;
  phoneNumber: string;
  activationCode: string;
}

interface LineKeys {
  activationId: number;
  /** The account's stable key (the carrier keeps one end user per account, not per e-mail). */
  customerKey: string;
  /** The activation's own carrier key: its line carries it, retries and resumes find it by it. */
  activationKey: string;
  knownEndUserId?: string | null;
}

export interface Provisioner {
  provisionEsim(req: LineKeys & { email: string; knownLineId?: string | null }): Promise<ProvisionedLine>;
  /** What the carrier already holds for the activation; creates nothing. */
  findExistingLine(
    req: LineKeys,
  ): Promise<{ state: 'none' } | { state: 'provisioning'; lineId: string } | { state: 'active'; line: ProvisionedLine }>;
}

/** Waiting for a line the carrier is still provisioning once the attempts are used up. */
const PROVISIONING_RECHECK_SECONDS = 600;
const MAX_RETRY_SECONDS = 600;
/** NOTIFY channel: a paid activation was queued. */
const QUEUED_CHANNEL = 'dotm_activation_queued';

/** Thrown by a test hook to stand for the process dying at that point: nothing more is written. */
export class SimulatedCrash extends Error {}

export interface WorkerHooks {
  afterClaim?(activation: Activation): Promise<void> | void;
  afterProvision?(activation: Activation): Promise<void> | void;
  afterStore?(activation: Activation): Promise<void> | void;
}

export interface ActivationWorkerDeps {
  db: Database;
  oxio: Provisioner;
  logger: Logger;
  limit: number;
  pollMs: number;
  /** How long a claim is ours without a heartbeat; a dead worker's claim is resumed after it. */
  leaseSeconds?: number;
  concurrency?: number;
  maxAttempts?: number;
  retryBaseSeconds?: number;
  onActivated?(): void;
  hooks?: WorkerHooks;
}

export class ActivationWorker {
  private readonly inflight = new Set<Promise<void>>();
  private readonly loop: WakeLoop;
  private waitingLogged = false;
  private readonly leaseSeconds: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseSeconds: number;

  constructor(private readonly deps: ActivationWorkerDeps) {
    this.leaseSeconds = deps.leaseSeconds ?? 120;
    this.concurrency = deps.concurrency ?? 4;
    this.maxAttempts = deps.maxAttempts ?? 8;
    this.retryBaseSeconds = deps.retryBaseSeconds ?? 5;
    this.loop = new WakeLoop({
      name: 'activation worker',
      db: deps.db,
      channel: QUEUED_CHANNEL,
      logger: deps.logger,
      pollMs: deps.pollMs,
      pass: () => this.startWhatMayStart(),
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  /** Stop claiming, finish the activations in hand, stop. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.inflight]);
  }

  /** Claims what may start now and processes it; resolves when those are done. For tests and tools. */
  async drainOnce(): Promise<number> {
    let processed = 0;
    for (;;) {
      const activation = await this.claim();
      if (!activation) return processed;
      await this.process(activation);
      processed += 1;
    }
  }

  /** One pass of the loop: claims up to the concurrency and starts each; returns how long to wait. */
  private async startWhatMayStart(): Promise<number> {
    while (!this.loop.stopping && this.inflight.size < this.concurrency) {
      const activation = await this.claim();
      if (!activation) break;
      const job: Promise<void> = this.process(activation).finally(() => {
        this.inflight.delete(job);
        this.wake();
      });
      this.inflight.add(job);
    }
    return this.inflight.size < this.concurrency ? this.delayUntilNextSlot(this.deps.pollMs) : this.deps.pollMs;
  }

  /** Sleep no longer than until the oldest start leaves the window, when the queue is waiting. */
  private async delayUntilNextSlot(pollMs: number): Promise<number> {
    const state = await activationStore.windowState(this.deps.db, this.deps.limit);
    if (state.queueLength === 0 || state.starts.length < this.deps.limit) return pollMs;
    const at = state.starts[state.starts.length - this.deps.limit]!.getTime() + 3_600_000;
    return Math.max(5, Math.min(pollMs, at - state.now.getTime() + 5));
  }

  private async claim(): Promise<Activation | undefined> {
    const { db, limit, logger } = this.deps;
    // Resume activations whose worker died; one that keeps killing its worker stops at the cap.
    for (let resumed = await activationStore.claimExpired(db, this.leaseSeconds); resumed; resumed = await activationStore.claimExpired(db, this.leaseSeconds)) {
      if (resumed.attempts <= this.maxAttempts) {
        logger.info({ activationId: resumed.id, attempt: resumed.attempts }, 'resuming activation');
        return resumed;
      }
      logger.warn({ activationId: resumed.id, attempt: resumed.attempts }, 'activation attempts used up; checking the carrier before giving up');
      await this.giveUp(resumed, `gave up after ${this.maxAttempts} attempts`, logger.child({ activationId: resumed.id }));
    }
    const { activation, inWindow } = await activationStore.admitNext(db, limit, this.leaseSeconds);
    if (activation) {
      this.waitingLogged = false;
      const user = await userStore.byId(db, activation.user_id);
      const usagePercent = ((inWindow / limit) * 100).toFixed(1);
      logger.info(
        { activationId: activation.id, uid: user?.firebase_uid, email: maskEmail(user?.email), usage: inWindow, limit },
        `[ACTIVATION ALLOWED] UID: ${user?.firebase_uid ?? '?'} | Email: ${maskEmail(user?.email)} | Usage: ${inWindow}/${limit} (${usagePercent}%)`,
      );
    } else if (inWindow >= limit && !this.waitingLogged) {
      this.waitingLogged = true;
      logger.info({ usage: inWindow, limit }, 'hourly activation limit reached; queued activations wait for the window to slide');
    }
    return activation;
  }

  private async process(activation: Activation): Promise<void> {
    const { db, oxio, logger, hooks } = this.deps;
    const log = logger.child({ activationId: activation.id });
    let claimLost = false;
    const heartbeat = setInterval(() => {
      void activationStore
        .extendLease(db, activation.id, activation.attempts, this.leaseSeconds)
        .then((ours) => {
          if (ours || claimLost) return;
          claimLost = true;
          log.warn({ attempt: activation.attempts }, 'this attempt no longer holds the activation (resumed elsewhere, or finished); it will not record a failure');
        })
        .catch(() => {});
    }, (this.leaseSeconds * 1000) / 3);
    heartbeat.unref();
    try {
      await hooks?.afterClaim?.(activation);
      const user = await userStore.byId(db, activation.user_id);
      if (!user) throw new Error(`user ${activation.user_id} of activation ${activation.id} not found`);
      const line = await oxio.provisionEsim({ ...lineKeys(activation, user), email: user.email, knownLineId: activation.oxio_line_id });
      await hooks?.afterProvision?.(activation);
      await this.deliver(activation, user, line, log, hooks);
    } catch (err) {
      if (err instanceof SimulatedCrash) return;
      const retryable = (err as { retryable?: boolean }).retryable !== false;
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && activation.attempts < this.maxAttempts) {
        const retryIn = backoffDelay(activation.attempts - 1, { base: this.retryBaseSeconds, max: MAX_RETRY_SECONDS });
        log.warn({ err, attempt: activation.attempts, retryInSeconds: retryIn }, 'activation attempt failed; will retry');
        await activationStore.scheduleRetry(db, activation.id, activation.attempts, message, retryIn).catch((error) => log.error({ err: error }, 'could not schedule retry'));
      } else {
        log.warn({ err, attempt: activation.attempts }, 'activation attempt failed; checking the carrier before giving up');
        await this.giveUp(activation, message, log).catch((error) => log.error({ err: error }, 'could not record the failure'));
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Stores the line and queues its e-mail in one transaction; false if it was stored already. */
  private async deliver(activation: Activation, user: User, line: ProvisionedLine, log: Logger, hooks?: WorkerHooks): Promise<boolean> {
    const stored = await this.deps.db.withTransaction(async (tx) => {
      if (!(await activationStore.recordLine(tx, activation.id, line))) return false;
      await enqueueActivationEmail(tx, {
        activationId: activation.id,
        recipient: user.email,
        phoneNumber: line.phoneNumber,
        activationCode: line.activationCode,
      });
      return true;
    });
    await hooks?.afterStore?.(activation);
    if (stored) {
      log.info({ uid: user.firebase_uid, email: maskEmail(user.email), attempt: activation.attempts }, 'eSIM activated; e-mail queued');
      this.deps.onActivated?.();
    }
    return stored;
  }

  /**
   * Before an activation is marked failed, the carrier is asked for its line (an earlier attempt,
   * or one still running elsewhere, may have made it): an active line is delivered, a line still
   * provisioning is waited for. Only the attempt that holds the claim records the failure.
   */
  private async giveUp(activation: Activation, reason: string, log: Logger): Promise<void> {
    const { db, oxio } = this.deps;
    const user = await userStore.byId(db, activation.user_id);
    let existing: Awaited<ReturnType<Provisioner['findExistingLine']>> = { state: 'none' };
    if (user) {
      try {
        existing = await oxio.findExistingLine(lineKeys(activation, user));
      } catch (err) {
        log.warn({ err }, 'could not ask the carrier for the activation’s line');
      }
    }
    if (existing.state === 'active' && user) {
      log.info({ lineId: existing.line.lineId, attempt: activation.attempts }, 'the carrier holds a line for this activation; delivering it');
      await this.deliver(activation, user, existing.line, log);
      return;
    }
    if (existing.state === 'provisioning') {
      log.error({ lineId: existing.lineId, attempt: activation.attempts }, 'activation attempts used up but its line is still provisioning; checking again later');
      await activationStore.scheduleRetry(db, activation.id, activation.attempts, `${reason} (line ${existing.lineId} still provisioning)`, PROVISIONING_RECHECK_SECONDS);
      return;
    }
    if (await activationStore.markFailed(db, activation.id, activation.attempts, reason)) log.error({ attempt: activation.attempts, reason }, 'activation failed');
    else log.warn({ attempt: activation.attempts }, 'activation attempt failed after another worker took it over; leaving it to that worker');
  }
}

function lineKeys(activation: Activation, user: User) {
  return { activationId: activation.id, customerKey: user.firebase_uid, activationKey: activation.carrier_ref, knownEndUserId: activation.oxio_end_user_id };
}
