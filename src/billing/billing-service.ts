// The $1 invoice: created once per activation (one open invoice per user), finished by whoever
// holds the row's lease, replaced when voided or uncollectible; payments recorded exactly once,
// from the webhook or from the "I paid" look-up, with the activation queued in the same transaction.
import type { Database, Queryable } from '../db/database.js';
import { AppError } from '../errors.js';
import type { User } from '../identity/user-store.js';
import { userStore } from '../identity/user-store.js';
import { maskEmail, type Logger } from '../logger.js';
import { activationStore, type Activation } from '../activation/activation-store.js';
import { invoiceStore, type InvoiceRow } from './invoice-store.js';
import type { InvoiceRequest, StripeEvent, StripeGateway, StripeInvoice } from './stripe-gateway.js';

export const INVOICE_DESCRIPTION = 'eSIM Beta Activation';
const CREATION_LEASE_SECONDS = 30;

export interface BillingDeps {
  db: Database;
  gateway: StripeGateway;
  logger: Logger;
  daysUntilDue: number;
  /** Price of the plan being sold, in cents. */
  priceCents(planId: string): number;
  /** A payment queued an activation (after commit): wake the worker. */
  onQueued(): void;
}

export type EventOutcome = 'applied' | 'duplicate' | 'ignored';

const HANDLED_EVENTS: ReadonlySet<string> = new Set([
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.voided',
  'invoice.marked_uncollectible',
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BillingService {
  constructor(private readonly deps: BillingDeps) {}

  /**
   * For an activation awaiting payment: its open invoice, created if needed. When the invoice was
   * open already, Stripe is asked whether it has been paid meanwhile ("I paid" before the webhook).
   */
  async invoiceFor(user: User, activation: Activation): Promise<{ invoice: InvoiceRow; paid: boolean }> {
    const { db } = this.deps;
    let createdNow = false;
    for (let round = 0; round < 4; round++) {
      let invoice = await invoiceStore.currentForActivation(db, activation.id);
      if (!invoice) await this.voidUncollectible(activation.id);
      invoice ??= await invoiceStore.createOrGet(db, {
        userId: user.id,
        activationId: activation.id,
        planId: activation.plan_id,
        amountCents: this.deps.priceCents(activation.plan_id),
        currency: 'usd',
      });
      if (invoice.activation_id !== activation.id) {
        throw new AppError('conflict', 'Another purchase for this account is in progress. Please try again in a moment.');
      }
      if (invoice.status === 'paid') {
        await this.recordPayment({ stripeInvoiceId: invoice.stripe_invoice_id ?? '', rowId: invoice.id });
        return { invoice, paid: true };
      }
      if (invoice.status === 'creating') {
        const leased = await invoiceStore.takeCreationLease(db, invoice.id, CREATION_LEASE_SECONDS);
        if (leased) {
          await this.createInStripe(user, leased);
          createdNow = true;
        } else {
          await this.waitWhileCreating(invoice.id);
        }
        continue;
      }
      // open
      if (!createdNow && invoice.stripe_invoice_id) {
        const remote = await this.lookUp(invoice.stripe_invoice_id);
        if (remote?.status === 'paid') {
          await this.recordPayment({ stripeInvoiceId: remote.id, rowId: invoice.id });
          return { invoice: { ...invoice, status: 'paid' }, paid: true };
        }
        if (remote?.status === 'void' || remote?.status === 'uncollectible') {
          await invoiceStore.markClosed(db, { stripeInvoiceId: remote.id, rowId: invoice.id }, remote.status === 'void' ? 'void' : 'uncollectible');
          this.deps.logger.info({ invoiceId: invoice.id, status: remote.status }, 'invoice closed at Stripe; replacing it');
          continue;
        }
      }
      return { invoice, paid: false };
    }
    throw new AppError('upstream_unavailable', 'Your invoice is still being prepared. Please ask again in a few seconds.');
  }

  /**
   * An uncollectible invoice can still be paid at Stripe: void it before its replacement goes out,
   * so the user cannot pay twice. Best effort: if Stripe refuses (it was paid meanwhile), the
   * payment is recorded through the webhook as usual.
   */
  private async voidUncollectible(activationId: number): Promise<void> {
    for (const old of await invoiceStore.uncollectibleForActivation(this.deps.db, activationId)) {
      try {
        const voided = await this.deps.gateway.voidInvoice(old.stripe_invoice_id!, old.id);
        if (voided.status === 'void') await invoiceStore.markVoided(this.deps.db, old.id);
      } catch (err) {
        this.deps.logger.warn({ err: { message: (err as Error).message }, invoiceId: old.id }, 'could not void the uncollectible invoice');
      }
    }
  }

  /** The "I paid" look-up: Stripe's view of the invoice, or undefined if Stripe cannot be reached now. */
  private async lookUp(stripeInvoiceId: string): Promise<StripeInvoice | undefined> {
    try {
      return await this.deps.gateway.retrieve(stripeInvoiceId);
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message }, stripeInvoiceId }, 'could not check the invoice at Stripe');
      return undefined;
    }
  }

  private async waitWhileCreating(id: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const row = await invoiceStore.byId(this.deps.db, id);
      if (!row || row.status !== 'creating' || !row.lease_until) return;
      await sleep(100);
    }
  }

  private async createInStripe(user: User, row: InvoiceRow): Promise<void> {
    const { db, gateway, logger } = this.deps;
    const req: InvoiceRequest = {
      rowId: row.id,
      attempt: row.creation_attempts,
      userId: user.id,
      email: user.email,
      customerId: user.stripe_customer_id,
      amountCents: row.amount_cents,
      currency: row.currency,
      description: INVOICE_DESCRIPTION,
      planId: row.plan_id,
      daysUntilDue: this.deps.daysUntilDue,
      stripeInvoiceId: row.stripe_invoice_id,
    };
    const log = logger.child({ invoiceId: row.id, attempt: req.attempt });
    try {
      const customerId = await gateway.ensureCustomer(req);
      if (!user.stripe_customer_id) {
        await userStore.setStripeCustomer(db, user.id, customerId);
        user.stripe_customer_id = customerId;
      }
      let invoice = (req.attempt > 1 || req.stripeInvoiceId ? await gateway.findInvoiceForRow(customerId, req) : undefined) ??
        (await gateway.createDraft(customerId, req));
      await invoiceStore.setStripeId(db, row.id, invoice.id);
      if (invoice.status === 'draft') {
        if ((invoice.lines?.data?.length ?? 0) === 0) await gateway.addLine(customerId, invoice.id, req);
        invoice = await gateway.finalize(invoice.id, req);
        try {
          invoice = await gateway.send(invoice.id, req);
        } catch (err) {
          // The invoice is open and payable by its link, which the assistant shares; Stripe's own
          // e-mail is a convenience.
          log.warn({ err: { message: (err as Error).message } }, 'Stripe did not send the invoice e-mail');
        }
      }
      if (invoice.status === 'open' || invoice.status === 'paid') {
        if (!invoice.hosted_invoice_url) throw new Error('Stripe returned an invoice without a hosted URL');
        await invoiceStore.markOpen(db, row.id, invoice.hosted_invoice_url);
        log.info({ stripeInvoiceId: invoice.id, email: maskEmail(user.email) }, 'invoice sent');
        if (invoice.status === 'paid') await this.recordPayment({ stripeInvoiceId: invoice.id, rowId: row.id });
      } else {
        await invoiceStore.markClosed(db, { stripeInvoiceId: invoice.id, rowId: row.id }, invoice.status === 'void' ? 'void' : 'uncollectible');
      }
    } catch (err) {
      log.warn({ err: { message: (err as Error).message, type: (err as { type?: string }).type } }, 'invoice creation failed');
      await invoiceStore.creationFailed(db, row.id, (err as Error).message).catch(() => {});
      throw new AppError(
        'upstream_unavailable',
        'We could not create your $1.00 invoice with our payment provider just now. Nothing was charged. Please try again in a minute.',
        { cause: err },
      );
    }
  }

  /** Records the payment and queues the activation, in one transaction; harmless when repeated. */
  async recordPayment(match: { stripeInvoiceId: string; rowId?: number }): Promise<boolean> {
    const queued = await this.deps.db.withTransaction((tx) => this.applyPayment(tx, match));
    if (queued) this.deps.onQueued();
    return queued;
  }

  private async applyPayment(tx: Queryable, match: { stripeInvoiceId: string; rowId?: number }) {
    const paid = await invoiceStore.markPaid(tx, match);
    if (!paid) {
      const twice = await invoiceStore.markPaidTwice(tx, match);
      if (twice) {
        this.deps.logger.error(
          { invoiceId: twice.id, activationId: twice.activation_id, stripeInvoiceId: match.stripeInvoiceId },
          'second payment for an activation that is paid already: refund this invoice at Stripe',
        );
      }
    }
    const activationId = paid?.activation_id ?? (match.rowId ? (await invoiceStore.byId(tx, match.rowId))?.activation_id : undefined);
    if (!activationId) return false;
    const queued = await activationStore.enqueuePaid(tx, activationId);
    if (queued) this.deps.logger.info({ activationId, stripeInvoiceId: match.stripeInvoiceId }, 'payment recorded; activation queued');
    return queued;
  }

  /** A verified webhook event, applied once: the effect and the event id commit together. */
  async handleEvent(event: StripeEvent): Promise<EventOutcome> {
    // Types we do not act on are acknowledged without a write (Stripe sends several per invoice).
    if (!HANDLED_EVENTS.has(event.type)) return 'ignored';
    const isInvoiceEvent = event.type.startsWith('invoice.');
    const invoice = isInvoiceEvent ? (event.data.object as StripeInvoice) : undefined;
    const rowId = Number(invoice?.metadata?.dotm_invoice_id);
    const match = invoice?.id ? { stripeInvoiceId: invoice.id, rowId: Number.isSafeInteger(rowId) ? rowId : undefined } : undefined;
    let queued = false;
    const outcome = await this.deps.db.withTransaction(async (tx): Promise<EventOutcome> => {
      if (!(await invoiceStore.recordEvent(tx, { id: event.id, type: event.type, stripeInvoiceId: invoice?.id }))) return 'duplicate';
      if (!match) return 'ignored';
      switch (event.type) {
        case 'invoice.paid':
        case 'invoice.payment_succeeded':
          queued = await this.applyPayment(tx, match);
          return queued ? 'applied' : 'ignored';
        case 'invoice.voided':
          return (await invoiceStore.markClosed(tx, match, 'void')) > 0 ? 'applied' : 'ignored';
        case 'invoice.marked_uncollectible':
          return (await invoiceStore.markClosed(tx, match, 'uncollectible')) > 0 ? 'applied' : 'ignored';
        default:
          return 'ignored';
      }
    });
    if (queued) this.deps.onQueued();
    return outcome;
  }
}
