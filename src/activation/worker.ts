// A worker runs in every instance. It admits queued activations only while fewer than the hourly
// limit started in the last 60 minutes (admission is one locked transaction, see activation-store),
// provisions each through OXIO, stores the line and queues the e-mail in one transaction. It wakes
// on NOTIFY (new payment), when the oldest start in the window expires, and by polling.
import type { Database } from '../db/database.js';
import { userStore } from '../identity/user-store.js';
import { maskEmail, type Logger } from '../logger.js';
import { enqueueActivationEmail } from '../notify/outbox.js';
import { activationStore, type Activation } from './activation-store.js';

export interface Provisioner {
  provisionEsim(req: {
    activationId: number;
    email: string;
    knownEndUserId?: string | null;
    knownLineId?: string | null;
  }): Promise<{ endUserId: string; lineId: string; iccid: string; phoneNumber: string; activationCode: string }>;
}

/** Thrown by a test hook to stand for the process dying at that point: nothing more is written. */
export class SimulatedCrash extends Error {}

export interface WorkerHooks {
  afterClaim?(a: Activation): Promise<void> | void;
  afterProvision?(a: Activation): Promise<void> | void;
  afterStore?(a: Activation): Promise<void> | void;
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
  private stopped = true;
  private readonly inflight = new Set<Promise<void>>();
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
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
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    try {
      this.unlisten = await this.deps.db.listen('dotm_activation_queued', () => this.wake());
    } catch (err) {
      this.deps.logger.warn({ err }, 'LISTEN unavailable; the activation worker polls');
    }
    this.loopDone = this.loop();
  }

  wake(): void {
    this.wakeUp?.();
  }

  /** Stop claiming, finish the activations in hand, stop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
    await this.unlisten?.().catch(() => {});
  }

  /** Claims what may start now and processes it; resolves when those are done. For tests and tools. */
  async drainOnce(): Promise<number> {
    let n = 0;
    for (;;) {
      const a = await this.claim();
      if (!a) return n;
      await this.process(a);
      n += 1;
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let delay = this.deps.pollMs;
      try {
        while (!this.stopped && this.inflight.size < this.concurrency) {
          const a = await this.claim();
          if (!a) break;
          const job: Promise<void> = this.process(a).finally(() => {
            this.inflight.delete(job);
            this.wake();
          });
          this.inflight.add(job);
        }
        if (this.inflight.size < this.concurrency) delay = await this.delayUntilNextSlot(delay);
      } catch (err) {
        this.deps.logger.error({ err }, 'activation worker tick failed; retrying');
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
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
      logger.error({ activationId: resumed.id, attempt: resumed.attempts }, 'activation failed: its attempts were used up');
      await activationStore.markFailed(db, resumed.id, `gave up after ${this.maxAttempts} attempts`);
    }
    const { activation, inWindow } = await activationStore.admitNext(db, limit, this.leaseSeconds);
    if (activation) {
      this.waitingLogged = false;
      const user = await userStore.byId(db, activation.user_id);
      const pct = ((inWindow / limit) * 100).toFixed(1);
      logger.info(
        { activationId: activation.id, uid: user?.firebase_uid, email: maskEmail(user?.email), usage: inWindow, limit },
        `[ACTIVATION ALLOWED] UID: ${user?.firebase_uid ?? '?'} | Email: ${maskEmail(user?.email)} | Usage: ${inWindow}/${limit} (${pct}%)`,
      );
    } else if (inWindow >= limit && !this.waitingLogged) {
      this.waitingLogged = true;
      logger.info({ usage: inWindow, limit }, 'hourly activation limit reached; queued activations wait for the window to slide');
    }
    return activation;
  }

  private async process(a: Activation): Promise<void> {
    const { db, oxio, logger, hooks } = this.deps;
    const log = logger.child({ activationId: a.id });
    const heartbeat = setInterval(() => {
      void activationStore.extendLease(db, a.id, this.leaseSeconds).catch(() => {});
    }, (this.leaseSeconds * 1000) / 3);
    heartbeat.unref();
    try {
      await hooks?.afterClaim?.(a);
      const user = await userStore.byId(db, a.user_id);
      if (!user) throw new Error(`user ${a.user_id} of activation ${a.id} not found`);
      const line = await oxio.provisionEsim({
        activationId: a.id,
        email: user.email,
        knownEndUserId: a.oxio_end_user_id,
        knownLineId: a.oxio_line_id,
      });
      await hooks?.afterProvision?.(a);
      const stored = await db.withTransaction(async (tx) => {
        if (!(await activationStore.recordLine(tx, a.id, line))) return false;
        await enqueueActivationEmail(tx, {
          activationId: a.id,
          recipient: user.email,
          phoneNumber: line.phoneNumber,
          activationCode: line.activationCode,
        });
        return true;
      });
      await hooks?.afterStore?.(a);
      if (stored) {
        log.info({ uid: user.firebase_uid, email: maskEmail(user.email), attempt: a.attempts }, 'eSIM activated; e-mail queued');
        this.deps.onActivated?.();
      }
    } catch (err) {
      if (err instanceof SimulatedCrash) return;
      const retryable = (err as { retryable?: boolean }).retryable !== false;
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && a.attempts < this.maxAttempts) {
        const retryIn = Math.min(600, this.retryBaseSeconds * 2 ** (a.attempts - 1));
        log.warn({ err, attempt: a.attempts, retryInSeconds: retryIn }, 'activation attempt failed; will retry');
        await activationStore.scheduleRetry(db, a.id, message, retryIn).catch((e) => log.error({ err: e }, 'could not schedule retry'));
      } else {
        log.error({ err, attempt: a.attempts }, 'activation failed');
        await activationStore.markFailed(db, a.id, message).catch((e) => log.error({ err: e }, 'could not mark failed'));
      }
    } finally {
      clearInterval(heartbeat);
    }
  }
}
