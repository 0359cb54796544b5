// Webhook delivery as Stripe does it: a signed POST of the event's JSON, retried with backoff until
// the receiver answers 2xx. Events of one invoice go out in order (one queue per invoice); queues of
// different invoices do not wait for each other. Delivery never blocks the API answer.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import type { InvoiceEventType } from './records.js';

export interface StripeEventObject {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: InvoiceEventType;
  data: { object: Stripe.Invoice };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
}

export interface WebhookRetryPolicy {
  /** Wait before the second attempt; doubles for every further one. Default 200 ms. */
  initialDelayMs: number;
  /** Cap on the wait between attempts. Default 30 s. */
  maxDelayMs: number;
  /** Attempts before an event is given up. Default 12 (about 3 minutes with the defaults). */
  maxAttempts: number;
  /** How long one attempt may take before it counts as failed. Default 10 s. */
  attemptTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: WebhookRetryPolicy = { initialDelayMs: 200, maxDelayMs: 30_000, maxAttempts: 12, attemptTimeoutMs: 10_000 };

/** `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`, as `stripe.webhooks.constructEvent` expects. */
export function signatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

interface Queue {
  events: StripeEventObject[];
  running: boolean;
}

export class WebhookDispatcher {
  private readonly queues = new Map<string, Queue>();
  private held = false;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly abort = new AbortController();

  constructor(
    private url: string | undefined,
    private readonly secret: string,
    private readonly retry: WebhookRetryPolicy,
    private readonly logger: Logger,
    /** Told whenever an event leaves its queue (delivered or given up). */
    private readonly onSettled: () => void = () => {},
  ) {}

  /** Events queued and not yet delivered or given up, oldest first within each invoice. */
  pending(): StripeEventObject[] {
    return [...this.queues.values()].flatMap((queue) => queue.events);
  }

  setUrl(url: string | undefined): void {
    this.url = url;
    this.kick();
  }

  /** Queues an event behind the earlier events with the same ordering key (the invoice id). */
  enqueue(event: StripeEventObject, orderingKey: string): void {
    if (this.closed) return;
    let queue = this.queues.get(orderingKey);
    if (!queue) {
      queue = { events: [], running: false };
      this.queues.set(orderingKey, queue);
    }
    queue.events.push(event);
    this.pump(orderingKey, queue);
  }

  hold(hold: boolean): void {
    this.held = hold;
    if (!hold) this.kick();
  }

  async release(): Promise<void> {
    this.hold(false);
    await this.idle();
  }

  /**
   * Resolves once nothing is left to deliver: every queue is empty, or delivery cannot go on
   * (held, no URL, closed). Retries still waiting count as work left.
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** One signed delivery now, outside the queues; resolves to the receiver's HTTP status. */
  async deliverNow(event: StripeEventObject): Promise<number> {
    if (!this.url) throw new Error('local Stripe: no webhook URL is configured');
    return this.post(this.url, event);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.wake();
    }
    this.timers.clear();
    this.notifyIdle();
  }

  private kick(): void {
    for (const [key, queue] of this.queues) this.pump(key, queue);
    this.notifyIdle();
  }

  private canDeliver(): boolean {
    return !this.closed && !this.held && this.url !== undefined;
  }

  private isIdle(): boolean {
    for (const queue of this.queues.values()) {
      if (queue.running) return false;
      if (queue.events.length > 0 && this.canDeliver()) return false;
    }
    return true;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private pump(key: string, queue: Queue): void {
    if (queue.running || !this.canDeliver() || queue.events.length === 0) return;
    queue.running = true;
    void this.drain(key, queue).finally(() => {
      queue.running = false;
      if (queue.events.length === 0) this.queues.delete(key);
      else this.pump(key, queue);
      this.notifyIdle();
    });
  }

  private async drain(key: string, queue: Queue): Promise<void> {
    while (queue.events.length > 0 && this.canDeliver()) {
      const event = queue.events[0]!;
      const delivered = await this.deliverWithRetries(event);
      // Held or closed midway: the event stays at the head and goes first on release.
      if (delivered === 'paused') return;
      queue.events.shift();
      this.onSettled();
      if (delivered === 'gave-up') {
        this.logger.warn({ eventId: event.id, type: event.type, invoiceId: key, attempts: this.retry.maxAttempts }, 'local Stripe gave up delivering a webhook');
      }
    }
  }

  private async deliverWithRetries(event: StripeEventObject): Promise<'delivered' | 'gave-up' | 'paused'> {
    let delay = this.retry.initialDelayMs;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      if (!this.canDeliver()) return 'paused';
      const url = this.url!;
      let status = 0;
      try {
        status = await this.post(url, event);
      } catch (err) {
        if (this.closed) return 'paused';
        this.logger.debug({ eventId: event.id, attempt, err: (err as Error).message }, 'local Stripe webhook attempt failed');
      }
      if (status >= 200 && status < 300) {
        this.logger.debug({ eventId: event.id, type: event.type, attempt, status }, 'local Stripe delivered a webhook');
        return 'delivered';
      }
      if (status) this.logger.debug({ eventId: event.id, type: event.type, attempt, status }, 'local Stripe webhook answered non-2xx');
      if (attempt === this.retry.maxAttempts) break;
      await this.sleep(delay);
      delay = Math.min(delay * 2, this.retry.maxDelayMs);
    }
    return 'gave-up';
  }

  private async post(url: string, event: StripeEventObject): Promise<number> {
    const payload = JSON.stringify(event, null, 2);
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.retry.attemptTimeoutMs)]);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': signatureHeader(payload, this.secret),
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: payload,
      redirect: 'manual',
      signal,
    });
    // Read the body so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.timers.add(entry);
    });
  }
}
