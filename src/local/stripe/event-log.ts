// The events the stand-in emitted, as `GET /v1/events` and the tests read them: the newest
// `limit` kept, the oldest dropped first.
import Stripe from 'stripe';
import { nowSeconds, stripeId, type InvoiceEventType, type RequestOrigin } from './records.js';
import type { StripeEventObject } from './webhooks.js';

/** An invoice event with a snapshot of the invoice as it is now. */
export function invoiceEvent(type: InvoiceEventType, invoice: Stripe.Invoice, origin: RequestOrigin | null): StripeEventObject {
  return {
    id: stripeId('evt'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: nowSeconds(),
    type,
    data: { object: invoice },
    livemode: false,
    pending_webhooks: 1,
    request: { id: origin?.id ?? null, idempotency_key: origin?.idempotencyKey ?? null },
  };
}

export class EventLog {
  private readonly events: StripeEventObject[] = [];
  private readonly eventsById = new Map<string, StripeEventObject>();

  constructor(readonly limit: number) {}

  /** Keeps the event (dropping the oldest past the limit) and returns it. */
  record(event: StripeEventObject): StripeEventObject {
    this.events.push(event);
    this.eventsById.set(event.id, event);
    if (this.events.length > this.limit) {
      const dropped = this.events.shift();
      if (dropped) this.eventsById.delete(dropped.id);
    }
    return event;
  }

  byId(id: string): StripeEventObject | undefined {
    return this.eventsById.get(id);
  }

  oldestFirst(): StripeEventObject[] {
    return [...this.events];
  }

  newestFirst(): StripeEventObject[] {
    return [...this.events].reverse();
  }
}
