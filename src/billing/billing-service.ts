// The $1 invoice: created once per activation (one open invoice per user), finished by whoever
// holds the row's lease, replaced when voided or uncollectible; payments recorded exactly once,
// from the webhook or from the "I paid" look-up, with the activation queued in the same transaction.
// Any other Stripe invoice for the activation is withdrawn, and any second payment kept for a refund.
import type { Database, Queryable } from '../db/database.js';
import { AppError } from '../errors.js';
import type { User } from '../identity/user-store.js';
import { userStore } from '../identity/user-store.js';
import { maskEmail, type Logger } from '../logger.js';
import { activationStore, type Activation } from '../activation/activation-store.js';
import { invoiceStore, type DuplicateInvoice, type InvoiceRow } from './invoice-store.js';
import type { InvoiceRequest, StripeEvent, StripeGateway, StripeInvoice } from './stripe-gateway.js';

export const INVOICE_DESCRIPTION = 'eSIM Beta Activation';
/** Beyond one Stripe call: the database round trips around it. */
const LEASE_MARGIN_MS = 1000;

export interface BillingDeps {
  db: Database;
  gateway: StripeGateway;
  logger: Logger;
  daysUntilDue: number;
  /** Price of the plan being sold, in cents. */
  priceCents(planId: string): number;
  /** The longest one Stripe call can take, retries included (stripeCallMaxMs). */
  stripeCallMaxMs: number;
  /** The "I paid" look-up asks Stripe about one invoice at most this often, across instances. */
  lookUpIntervalSeconds: number;
  /** A payment queued an activation (after commit): wake the worker. */
  onQueued(): void;
  /** A second payment for an activation was recorded (after commit). */
  onSecondPayment?(): void;
}

export type EventOutcome = 'applied' | 'duplicate' | 'ignored' | 'refund_due';

interface PaymentMatch {
  stripeInvoiceId: string;
  rowId?: number;
  /** What Stripe says was paid, for the refund listing. */
  amountPaidCents?: number;
  currency?: string;
}

interface PaymentResult {
  queued: boolean;
  /** Recorded now: a payment to refund. */
  secondPayment?: DuplicateInvoice;
  /** The row's earlier Stripe invoice, replaced by the one that was paid: to void at Stripe. */
  replaced?: { stripeInvoiceId: string; rowId: number };
}

/** This attempt no longer holds the invoice row: another one took over after its lease ran out. */
class LeaseLost extends Error {}

const paymentOf = (invoice: StripeInvoice, rowId?: number): PaymentMatch => ({
  stripeInvoiceId: invoice.id,
  rowId,
  amountPaidCents: invoice.amount_paid,
  currency: invoice.currency,
});

const HANDLED_EVENTS: ReadonlySet<string> = new Set([
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.voided',
  'invoice.marked_uncollectible',
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BillingService {
  /** Look-ups in flight in this process, by invoice row: concurrent callers share one. */
  private readonly lookUps = new Map<number, Promise<StripeInvoice | undefined>>();
  private readonly leaseSeconds: number;

  constructor(private readonly deps: BillingDeps) {
    this.leaseSeconds = (deps.stripeCallMaxMs + LEASE_MARGIN_MS) / 1000;
  }

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
        const leased = await invoiceStore.takeCreationLease(db, invoice.id, this.leaseSeconds);
        if (leased) {
          if (await this.createInStripe(user, leased)) createdNow = true;
        } else {
          await this.waitWhileCreating(invoice.id);
        }
        continue;
      }
      // open
      if (!createdNow && invoice.stripe_invoice_id) {
        const atStripe = await this.settleAtStripe(invoice);
        if (atStripe === 'paid') return { invoice: { ...invoice, status: 'paid' }, paid: true };
        if (atStripe !== 'open') {
          this.deps.logger.info({ invoiceId: invoice.id, status: atStripe }, 'invoice closed at Stripe; replacing it');
          continue;
        }
      }
      return { invoice, paid: false };
    }
    throw new AppError('upstream_unavailable', 'Your invoice is still being prepared. Please ask again in a few seconds.');
  }

  /**
   * For an activation awaiting payment, without creating or replacing an invoice: its current one
   * (undefined when there is none to pay) and whether it has been paid. An open invoice gets the
   * same bounded "I paid" look-up at Stripe as in invoiceFor; what Stripe says is recorded (a
   * payment queues the activation; a voided or uncollectible invoice is closed here too).
   */
  async paymentStatus(activation: Activation): Promise<{ invoice: InvoiceRow | undefined; paid: boolean }> {
    const invoice = await invoiceStore.currentForActivation(this.deps.db, activation.id);
    if (!invoice) return { invoice: undefined, paid: false };
    if (invoice.status === 'paid') {
      await this.recordPayment({ stripeInvoiceId: invoice.stripe_invoice_id ?? '', rowId: invoice.id });
      return { invoice, paid: true };
    }
    if (invoice.status === 'open' && invoice.stripe_invoice_id) {
      const atStripe = await this.settleAtStripe(invoice);
      if (atStripe === 'paid') return { invoice: { ...invoice, status: 'paid' }, paid: true };
      if (atStripe !== 'open') return { invoice: undefined, paid: false };
    }
    return { invoice, paid: false };
  }

  /**
   * The "I paid" look-up of an open invoice (bounded, shared by concurrent callers), with what
   * Stripe says recorded here: a payment queues the activation; a voided or uncollectible invoice
   * is closed. Answers the invoice's status at Stripe as far as it matters here.
   */
  private async settleAtStripe(invoice: InvoiceRow): Promise<'paid' | 'void' | 'uncollectible' | 'open'> {
    const remote = await this.checkAtStripe(invoice);
    if (remote?.status === 'paid') {
      await this.recordPayment(paymentOf(remote, invoice.id));
      return 'paid';
    }
    if (remote?.status === 'void' || remote?.status === 'uncollectible') {
      const closed = remote.status === 'void' ? 'void' : 'uncollectible';
      await invoiceStore.markClosed(this.deps.db, { stripeInvoiceId: remote.id, rowId: invoice.id }, closed);
      return closed;
    }
    return 'open';
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

  /**
   * The "I paid" look-up, bounded for Stripe's rate limit: callers in this process share the request
   * in flight, and an invoice is asked about at most once per interval across instances (the time of
   * the last check is on its row). Undefined when it was checked moments ago: the webhook will tell.
   */
  private checkAtStripe(invoice: InvoiceRow): Promise<StripeInvoice | undefined> {
    let pending = this.lookUps.get(invoice.id);
    if (!pending) {
      pending = (async () => {
        if (!(await invoiceStore.claimLookUp(this.deps.db, invoice.id, this.deps.lookUpIntervalSeconds))) return undefined;
        return this.lookUp(invoice.stripe_invoice_id!);
      })().finally(() => this.lookUps.delete(invoice.id));
      this.lookUps.set(invoice.id, pending);
    }
    return pending;
  }

  /** Stripe's view of the invoice, or undefined if Stripe cannot be reached now. */
  private async lookUp(stripeInvoiceId: string): Promise<StripeInvoice | undefined> {
    try {
      return await this.deps.gateway.retrieve(stripeInvoiceId);
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message }, stripeInvoiceId }, 'could not check the invoice at Stripe');
      return undefined;
    }
  }

  /** Until the holder finishes, gives up, or lets its lease run out (then the caller takes over). */
  private async waitWhileCreating(id: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (!(await invoiceStore.creationInProgress(this.deps.db, id))) return;
      await sleep(100);
    }
  }

  /**
   * Creates, finalizes and sends the row's invoice at Stripe. The lease is renewed before every
   * Stripe call, so it covers the call in flight however slow Stripe is (up to its timeout), and an
   * attempt that lost it (stalled past it, then taken over) stops before it changes anything more.
   * False when another attempt took over: it finishes the invoice.
   */
  private async createInStripe(user: User, row: InvoiceRow): Promise<boolean> {
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
    const hold = async () => {
      if (!(await invoiceStore.renewCreationLease(db, row.id, req.attempt, this.leaseSeconds))) throw new LeaseLost();
    };
    try {
      await hold();
      const customerId = await gateway.ensureCustomer(req);
      if (!user.stripe_customer_id) {
        await userStore.setStripeCustomer(db, user.id, customerId);
        user.stripe_customer_id = customerId;
      }
      await hold();
      // A takeover (attempt > 1) first looks for what the earlier attempt created, by our row id.
      let invoice = (req.attempt > 1 || req.stripeInvoiceId ? await gateway.findInvoiceForRow(customerId, req) : undefined) ??
        (await gateway.createDraft(customerId, req));
      const { holding, stored } = await invoiceStore.setStripeId(db, row.id, req.attempt, invoice.id);
      if (stored !== null && stored !== invoice.id) {
        await this.withdraw(invoice, row, stored);
        if (!holding) throw new LeaseLost();
        throw new Error('the invoice row has another Stripe invoice');
      }
      // Lost with nothing stored yet: the draft stays, for the attempt that took over to find by our
      // row id (only the holder of a stored invoice ever finalizes one, so a draft cannot be paid).
      if (!holding) throw new LeaseLost();
      if (invoice.status === 'draft') {
        if ((invoice.lines?.data?.length ?? 0) === 0) {
          await hold();
          await gateway.addLine(customerId, invoice.id, req);
        }
        await hold();
        invoice = await gateway.finalize(invoice.id, req);
        await hold();
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
        if (!(await invoiceStore.markOpen(db, row.id, req.attempt, invoice.hosted_invoice_url))) throw new LeaseLost();
        log.info({ stripeInvoiceId: invoice.id, email: maskEmail(user.email) }, 'invoice sent');
        if (invoice.status === 'paid') await this.recordPayment(paymentOf(invoice, row.id));
      } else {
        await invoiceStore.markClosed(db, { stripeInvoiceId: invoice.id, rowId: row.id }, invoice.status === 'void' ? 'void' : 'uncollectible');
      }
      return true;
    } catch (err) {
      if (err instanceof LeaseLost) {
        log.warn('another attempt took over the invoice creation; leaving it to that one');
        return false;
      }
      log.warn({ err: { message: (err as Error).message, type: (err as { type?: string }).type } }, 'invoice creation failed');
      const stillHolding = await invoiceStore.creationFailed(db, row.id, req.attempt, (err as Error).message).catch(() => true);
      if (!stillHolding) return false;
      throw new AppError(
        'upstream_unavailable',
        'We could not create your $1.00 invoice with our payment provider just now. Nothing was charged. Please try again in a minute.',
        { cause: err },
      );
    }
  }

  /**
   * A Stripe invoice that is not the one stored for its row (made by an attempt that lost its lease):
   * recorded, then withdrawn at Stripe so that it can never be paid. Should withdrawing fail, a
   * payment of it is still caught and flagged for a refund.
   */
  private async withdraw(invoice: StripeInvoice, row: InvoiceRow, kept: string | null): Promise<void> {
    const log = this.deps.logger.child({ invoiceId: row.id, activationId: row.activation_id, stripeInvoiceId: invoice.id, keptStripeInvoiceId: kept });
    await invoiceStore.recordSuperseded(this.deps.db, { stripeInvoiceId: invoice.id, invoiceId: row.id, activationId: row.activation_id });
    try {
      if (invoice.status === 'draft') await this.deps.gateway.deleteDraft(invoice.id);
      else if (invoice.status === 'open' || invoice.status === 'uncollectible') await this.deps.gateway.voidInvoice(invoice.id, row.id);
      log.warn({ status: invoice.status }, 'a second Stripe invoice for one invoice row was withdrawn');
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'could not withdraw a second Stripe invoice: void it at Stripe');
    }
  }

  /** Records the payment and queues the activation, in one transaction; harmless when repeated. */
  async recordPayment(match: PaymentMatch): Promise<boolean> {
    const result = await this.deps.db.withTransaction((tx) => this.applyPayment(tx, match));
    await this.afterPayment(result);
    return result.queued;
  }

  /**
   * The first payment of an activation queues it, whichever of its Stripe invoices was paid; any
   * later one is recorded for a refund. Decided under the activation's lock.
   */
  private async applyPayment(tx: Queryable, match: PaymentMatch): Promise<PaymentResult> {
    const row = await invoiceStore.forPayment(tx, match);
    if (!row) return { queued: false };
    const paid = await invoiceStore.paidForActivation(tx, row.activation_id);
    if (paid) {
      if (paid.stripe_invoice_id === match.stripeInvoiceId) return { queued: false }; // the same payment again
      const secondPayment = await invoiceStore.recordSecondPayment(tx, {
        stripeInvoiceId: match.stripeInvoiceId,
        invoiceId: row.id,
        activationId: row.activation_id,
        amountPaidCents: match.amountPaidCents ?? null,
        currency: match.currency ?? null,
      });
      if (secondPayment && row.stripe_invoice_id === match.stripeInvoiceId) await invoiceStore.notePaidTwice(tx, row.id, match.stripeInvoiceId);
      return { queued: false, secondPayment };
    }
    // Paid by a Stripe invoice other than the one stored for the row: that payment counts, and the
    // stored invoice is recorded and voided so that it cannot be paid as well.
    let replaced: PaymentResult['replaced'];
    if (row.stripe_invoice_id && row.stripe_invoice_id !== match.stripeInvoiceId) {
      await invoiceStore.recordSuperseded(tx, { stripeInvoiceId: row.stripe_invoice_id, invoiceId: row.id, activationId: row.activation_id });
      replaced = { stripeInvoiceId: row.stripe_invoice_id, rowId: row.id };
    }
    await invoiceStore.markPaid(tx, row.id, match.stripeInvoiceId);
    const queued = await activationStore.enqueuePaid(tx, row.activation_id);
    if (queued) this.deps.logger.info({ activationId: row.activation_id, stripeInvoiceId: match.stripeInvoiceId }, 'payment recorded; activation queued');
    return { queued, replaced };
  }

  /** Effects of a committed payment: wake the worker, flag a second payment, void a replaced invoice. */
  private async afterPayment(result: PaymentResult): Promise<void> {
    if (result.queued) this.deps.onQueued();
    const second = result.secondPayment;
    if (second) {
      this.deps.onSecondPayment?.();
      // The e-mail helps the refund; the record is committed already, so a failed read loses nothing.
      const owner = await invoiceStore.byId(this.deps.db, second.invoice_id).catch(() => undefined);
      const user = owner ? await userStore.byId(this.deps.db, owner.user_id).catch(() => undefined) : undefined;
      this.deps.logger.error(
        {
          invoiceId: second.invoice_id,
          activationId: second.activation_id,
          stripeInvoiceId: second.stripe_invoice_id,
          amountPaidCents: second.amount_paid_cents,
          currency: second.currency,
          email: maskEmail(user?.email),
        },
        'second payment for an activation that is paid already: refund this invoice at Stripe',
      );
    }
    if (result.replaced) {
      const { stripeInvoiceId, rowId } = result.replaced;
      try {
        await this.deps.gateway.voidInvoice(stripeInvoiceId, rowId);
        this.deps.logger.warn({ invoiceId: rowId, stripeInvoiceId }, 'paid by another of its Stripe invoices; the stored one was voided');
      } catch (err) {
        this.deps.logger.error(
          { err: { message: (err as Error).message }, invoiceId: rowId, stripeInvoiceId },
          'paid by another of its Stripe invoices; could not void the stored one: void it at Stripe',
        );
      }
    }
  }

  /** A verified webhook event, applied once: the effect and the event id commit together. */
  async handleEvent(event: StripeEvent): Promise<EventOutcome> {
    // Types we do not act on are acknowledged without a write (Stripe sends several per invoice).
    if (!HANDLED_EVENTS.has(event.type)) return 'ignored';
    const isInvoiceEvent = event.type.startsWith('invoice.');
    const invoice = isInvoiceEvent ? (event.data.object as StripeInvoice) : undefined;
    const rowId = Number(invoice?.metadata?.dotm_invoice_id);
    const match = invoice?.id ? paymentOf(invoice, Number.isSafeInteger(rowId) && rowId > 0 ? rowId : undefined) : undefined;
    let payment: PaymentResult | undefined;
    const outcome = await this.deps.db.withTransaction(async (tx): Promise<EventOutcome> => {
      if (!(await invoiceStore.recordEvent(tx, { id: event.id, type: event.type, stripeInvoiceId: invoice?.id }))) return 'duplicate';
      if (!match) return 'ignored';
      switch (event.type) {
        case 'invoice.paid':
        case 'invoice.payment_succeeded':
          payment = await this.applyPayment(tx, match);
          return payment.queued ? 'applied' : payment.secondPayment ? 'refund_due' : 'ignored';
        case 'invoice.voided':
          return (await invoiceStore.markClosed(tx, match, 'void')) > 0 ? 'applied' : 'ignored';
        case 'invoice.marked_uncollectible':
          return (await invoiceStore.markClosed(tx, match, 'uncollectible')) > 0 ? 'applied' : 'ignored';
        default:
          return 'ignored';
      }
    });
    if (payment) await this.afterPayment(payment);
    return outcome;
  }
}
