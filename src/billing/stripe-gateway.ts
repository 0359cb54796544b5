// The Stripe calls billing makes, with the real SDK (against Stripe, or the local stand-in).
// Every write carries an idempotency key derived from our own row ids; the attempt number is part
// of the key because Stripe replays a failed result for the same key, and before each new attempt
// we look for what an earlier attempt may have created, so retries never create a second invoice.
import Stripe from 'stripe';
import { backoffDelay } from '../backoff.js';

export type StripeInvoice = Stripe.Invoice;
export type StripeEvent = Stripe.Event;

export interface StripeGatewayOptions {
  secretKey: string;
  /** For the local stand-in: where the SDK connects. */
  endpoint?: { host: string; port: number; protocol: 'http' | 'https' };
  timeoutMs: number;
}

export interface InvoiceRequest {
  rowId: number;
  attempt: number;
  userId: number;
  email: string;
  customerId: string | null;
  amountCents: number;
  currency: string;
  description: string;
  planId: string;
  daysUntilDue: number;
  /** Already created by an earlier attempt and stored. */
  stripeInvoiceId: string | null;
}

/** Tries after the first that the SDK makes on a network error, a 409 or a 5xx. */
export const STRIPE_NETWORK_RETRIES = 1;

/**
 * The longest one SDK call can take: every try up to the timeout, plus the SDK's backoff between
 * tries (0.5 s doubling, at most 5 s, jitter only shortens it).
 */
export function stripeCallMaxMs(timeoutMs: number, retries = STRIPE_NETWORK_RETRIES): number {
  let ms = (retries + 1) * timeoutMs;
  for (let retry = 0; retry < retries; retry++) ms += backoffDelay(retry, { base: 500, max: 5000 });
  return ms;
}

export function createStripeClient(o: StripeGatewayOptions): Stripe {
  return new Stripe(o.secretKey, {
    timeout: o.timeoutMs,
    maxNetworkRetries: STRIPE_NETWORK_RETRIES,
    appInfo: { name: 'dotm-activation', version: '1.0.0' },
    ...(o.endpoint ? { host: o.endpoint.host, port: o.endpoint.port, protocol: o.endpoint.protocol } : {}),
  });
}

export class StripeGateway {
  constructor(readonly stripe: Stripe) {}

  async ensureCustomer(r: Pick<InvoiceRequest, 'userId' | 'email' | 'customerId' | 'attempt'>): Promise<string> {
    if (r.customerId) return r.customerId;
    if (r.attempt > 1) {
      const existing = await this.stripe.customers.list({ email: r.email, limit: 10 });
      const ours = existing.data.find((c) => c.metadata?.dotm_user_id === String(r.userId));
      if (ours) return ours.id;
    }
    const customer = await this.stripe.customers.create(
      { email: r.email, metadata: { dotm_user_id: String(r.userId) } },
      { idempotencyKey: `dotm-customer-${r.userId}-a${r.attempt}` },
    );
    return customer.id;
  }

  /** Finds the Stripe invoice an earlier attempt created for our row, if any. */
  async findInvoiceForRow(customerId: string, r: Pick<InvoiceRequest, 'rowId' | 'stripeInvoiceId'>): Promise<StripeInvoice | undefined> {
    if (r.stripeInvoiceId) return this.stripe.invoices.retrieve(r.stripeInvoiceId);
    const list = await this.stripe.invoices.list({ customer: customerId, limit: 20 });
    return list.data.find((i) => i.metadata?.dotm_invoice_id === String(r.rowId));
  }

  async createDraft(customerId: string, r: InvoiceRequest): Promise<StripeInvoice> {
    return this.stripe.invoices.create(
      {
        customer: customerId,
        collection_method: 'send_invoice',
        days_until_due: r.daysUntilDue,
        currency: r.currency,
        description: r.description,
        auto_advance: false,
        pending_invoice_items_behavior: 'exclude',
        metadata: { dotm_invoice_id: String(r.rowId), dotm_user_id: String(r.userId), plan_id: r.planId },
      },
      { idempotencyKey: `dotm-invoice-${r.rowId}-a${r.attempt}` },
    );
  }

  async addLine(customerId: string, invoiceId: string, r: InvoiceRequest): Promise<void> {
    await this.stripe.invoiceItems.create(
      {
        customer: customerId,
        invoice: invoiceId,
        amount: r.amountCents,
        currency: r.currency,
        description: r.description,
        metadata: { dotm_invoice_id: String(r.rowId) },
      },
      { idempotencyKey: `dotm-invoice-item-${r.rowId}-a${r.attempt}` },
    );
  }

  async finalize(invoiceId: string, r: InvoiceRequest): Promise<StripeInvoice> {
    return this.stripe.invoices.finalizeInvoice(invoiceId, {}, { idempotencyKey: `dotm-invoice-finalize-${r.rowId}-a${r.attempt}` });
  }

  async send(invoiceId: string, r: InvoiceRequest): Promise<StripeInvoice> {
    return this.stripe.invoices.sendInvoice(invoiceId, {}, { idempotencyKey: `dotm-invoice-send-${r.rowId}-a${r.attempt}` });
  }

  /** Voids an invoice that must no longer be payable (an uncollectible one being replaced, a second one). */
  voidInvoice(invoiceId: string, rowId: number): Promise<StripeInvoice> {
    return this.stripe.invoices.voidInvoice(invoiceId, {}, { idempotencyKey: `dotm-invoice-void-${rowId}-${invoiceId}` });
  }

  /** Deletes a draft nobody will finalize (a draft cannot be paid, nor voided). */
  async deleteDraft(invoiceId: string): Promise<void> {
    await this.stripe.invoices.del(invoiceId);
  }

  retrieve(invoiceId: string): Promise<StripeInvoice> {
    return this.stripe.invoices.retrieve(invoiceId);
  }

  constructEvent(rawBody: Buffer, signature: string, secret: string, toleranceSeconds: number): StripeEvent {
    return this.stripe.webhooks.constructEvent(rawBody, signature, secret, toleranceSeconds);
  }
}
