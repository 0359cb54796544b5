// The loop behind each background job (the activation worker, the e-mail outbox): a pass at start,
// then again on a NOTIFY of the job's channel, on wake(), or when the poll interval is up, whichever
// comes first. A wake that arrives during a pass is kept: the next pass follows at once. NOTIFY is
// only a shortcut: without a LISTEN (or while its connection is down) the poll finds the work, and a
// LISTEN connection that comes back wakes the loop once for what was notified in the gap.
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';

export interface WakeLoopOptions {
  /** Names the job in log lines. */
  name: string;
  db: Pick<Database, 'listen'>;
  /** The NOTIFY channel that wakes the loop. */
  channel: string;
  logger: Logger;
  pollMs: number;
  /**
   * One pass over the work that is due; may return how long to wait before the next (instead of
   * `pollMs`). A failure (the database out of reach) is logged and the next pass comes at the poll.
   */
  pass(): Promise<number | void>;
}

export class WakeLoop {
  private started: Promise<void> | undefined;
  private passes: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopRequested = false;
  private wakeRequested = false;
  private interruptSleep: (() => void) | undefined;

  constructor(private readonly o: WakeLoopOptions) {}

  /** Subscribes to the channel (polling only if that fails), then starts passing; resolves once subscribed. */
  start(): Promise<void> {
    this.started ??= this.begin();
    return this.started;
  }

  /** Something is due: pass now instead of at the next poll. */
  wake(): void {
    this.wakeRequested = true;
    this.interruptSleep?.();
  }

  /** True while stop() waits for the pass in hand: a pass ends between items then. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Lets the pass in hand finish, then stops and unsubscribes. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopRequested = true;
    this.interruptSleep?.();
    await this.started;
    await this.passes;
    await this.unlisten?.().catch(() => {});
    this.started = this.passes = this.unlisten = undefined;
    this.stopRequested = false;
  }

  // Subscribed before the first pass, so that nothing notified after that pass looked is missed.
  private async begin(): Promise<void> {
    try {
      this.unlisten = await this.o.db.listen(this.o.channel, () => this.wake());
    } catch (err) {
      this.o.logger.warn({ err }, `${this.o.name}: LISTEN unavailable; polling only`);
    }
    this.passes = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopRequested) {
      this.wakeRequested = false;
      let waitMs = this.o.pollMs;
      try {
        waitMs = (await this.o.pass()) ?? this.o.pollMs;
      } catch (err) {
        this.o.logger.warn({ err }, `${this.o.name}: pass failed; trying again at the next poll`);
      }
      if (this.stopRequested) break;
      if (this.wakeRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.interruptSleep = done;
      });
      this.interruptSleep = undefined;
    }
  }
}
