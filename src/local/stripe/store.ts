// The stand-in's state: customers, invoices and invoice items in memory, and the invoice state
// machine (draft → open → paid | void | uncollectible) with the errors Stripe gives for a wrong move.
// Every state change is reported through `onInvoiceEvent`, which turns it into a webhook event, and
// through `onChange` (the state file, when the stand-in keeps one); `snapshot`/`restore` carry the
// records across a restart.
import { randomBytes } from 'node:crypto';
import { invalidRequest, noSuchReference, noSuchResource } from './errors.js';
import {
  nowSeconds,
  paginate,
  stripeId,
  type CollectionMethod,
  type CreateInvoiceInput,
  type CustomerRecord,
  type InvoiceEventSink,
  type InvoiceItemRecord,
  type InvoiceRecord,
  type InvoiceStatus,
  type ListPage,
  type PageRequest,
  type RequestOrigin,
  type StripeStoreState,
} from './records.js';

const DAY = 86_400;

export class LocalStripeStore {
  private readonly customers = new Map<string, CustomerRecord>();
  private readonly invoices = new Map<string, InvoiceRecord>();
  private readonly invoicesByCustomer = new Map<string, InvoiceRecord[]>();
  /** Every invoice in creation order; lists read it backwards (newest first). */
  private readonly invoiceOrder: InvoiceRecord[] = [];
  private readonly items = new Map<string, InvoiceItemRecord>();
  private readonly pendingItemsByCustomer = new Map<string, InvoiceItemRecord[]>();

  /** Counts changes: a request that moved it changed the state (and waits for it to be stored). */
  generation = 0;

  constructor(
    private readonly onInvoiceEvent: InvoiceEventSink,
    private readonly onChange: () => void = () => {},
  ) {}

  private changed(): void {
    this.generation += 1;
    this.onChange();
  }

  // ── across restarts ──────────────────────────────────────────────────────────────────────────

  /** Every record, in creation order. The arrays are the store's own: serialise them at once. */
  snapshot(): StripeStoreState {
    return { customers: [...this.customers.values()], invoices: this.invoiceOrder, items: [...this.items.values()] };
  }

  /** Loads a snapshot into an empty store (before the stand-in serves anything). */
  restore(state: StripeStoreState): void {
    for (const customer of state.customers) this.customers.set(customer.id, customer);
    for (const invoice of state.invoices) {
      this.invoices.set(invoice.id, invoice);
      this.invoiceOrder.push(invoice);
      const ofCustomer = this.invoicesByCustomer.get(invoice.customer) ?? [];
      ofCustomer.push(invoice);
      this.invoicesByCustomer.set(invoice.customer, ofCustomer);
    }
    for (const item of state.items) {
      this.items.set(item.id, item);
      // An item on no invoice yet is pending for its customer's next one.
      if (item.invoice === null) {
        const pending = this.pendingItemsByCustomer.get(item.customer) ?? [];
        pending.push(item);
        this.pendingItemsByCustomer.set(item.customer, pending);
      }
    }
  }

  // ── customers ────────────────────────────────────────────────────────────────────────────────

  createCustomer(input: { email: string | null; name: string | null; description: string | null; phone: string | null; metadata: Record<string, string> }): CustomerRecord {
    const customer: CustomerRecord = {
      id: stripeId('cus', 14),
      created: nowSeconds(),
      ...input,
      invoicePrefix: randomBytes(4).toString('hex').toUpperCase(),
      nextInvoiceSequence: 1,
    };
    this.customers.set(customer.id, customer);
    this.changed();
    return customer;
  }

  customer(id: string): CustomerRecord {
    const customer = this.customers.get(id);
    if (!customer) throw noSuchResource('customer', id);
    return customer;
  }

  findCustomer(id: string): CustomerRecord | undefined {
    return this.customers.get(id);
  }

  listCustomers(filter: { email?: string }, page: PageRequest): ListPage<CustomerRecord> {
    const all = [...this.customers.values()].reverse();
    const matching = filter.email === undefined ? all : all.filter((c) => c.email === filter.email);
    return paginate(matching, page, 'customer');
  }

  // ── invoices ─────────────────────────────────────────────────────────────────────────────────

  createInvoice(input: CreateInvoiceInput, origin: RequestOrigin | null): InvoiceRecord {
    if (!this.customers.has(input.customer)) throw noSuchReference('customer', input.customer, 'customer');
    if (input.collectionMethod === 'send_invoice' && input.daysUntilDue === null && input.dueDate === null) {
      throw invalidRequest('Missing required param: days_until_due. Invoices with collection_method=send_invoice need days_until_due or due_date.', {
        code: 'parameter_missing',
        param: 'days_until_due',
      });
    }
    if (input.collectionMethod === 'charge_automatically' && (input.daysUntilDue !== null || input.dueDate !== null)) {
      throw invalidRequest('Invoices with collection_method=charge_automatically cannot have days_until_due or due_date.', {
        param: input.daysUntilDue !== null ? 'days_until_due' : 'due_date',
      });
    }
    const created = nowSeconds();
    const invoice: InvoiceRecord = {
      id: stripeId('in'),
      customer: input.customer,
      created,
      status: 'draft',
      collectionMethod: input.collectionMethod,
      currency: input.currency,
      description: input.description,
      footer: input.footer,
      statementDescriptor: input.statementDescriptor,
      metadata: input.metadata,
      autoAdvance: input.autoAdvance,
      daysUntilDue: input.daysUntilDue,
      dueDate: input.dueDate ?? (input.daysUntilDue !== null ? created + input.daysUntilDue * DAY : null),
      number: null,
      itemIds: [],
      amountPaid: 0,
      paidOutOfBand: false,
      frozenCustomer: null,
      finalizedAt: null,
      paidAt: null,
      voidedAt: null,
      markedUncollectibleAt: null,
    };
    if (input.includePendingItems) {
      const pending = this.pendingItemsByCustomer.get(input.customer) ?? [];
      const kept: InvoiceItemRecord[] = [];
      for (const item of pending) {
        if (item.currency === invoice.currency) {
          item.invoice = invoice.id;
          invoice.itemIds.push(item.id);
        } else kept.push(item);
      }
      this.pendingItemsByCustomer.set(input.customer, kept);
    }
    this.invoices.set(invoice.id, invoice);
    this.invoiceOrder.push(invoice);
    const ofCustomer = this.invoicesByCustomer.get(invoice.customer) ?? [];
    ofCustomer.push(invoice);
    this.invoicesByCustomer.set(invoice.customer, ofCustomer);
    this.changed();
    this.onInvoiceEvent('invoice.created', invoice, origin);
    return invoice;
  }

  invoice(id: string): InvoiceRecord {
    const invoice = this.invoices.get(id);
    if (!invoice) throw noSuchResource('invoice', id);
    return invoice;
  }

  findInvoice(id: string): InvoiceRecord | undefined {
    return this.invoices.get(id);
  }

  listInvoices(filter: { customer?: string; status?: InvoiceStatus; collectionMethod?: CollectionMethod }, page: PageRequest): ListPage<InvoiceRecord> {
    const source = filter.customer !== undefined ? (this.invoicesByCustomer.get(filter.customer) ?? []) : this.invoiceOrder;
    const newestFirst: InvoiceRecord[] = [];
    for (let i = source.length - 1; i >= 0; i--) {
      const invoice = source[i]!;
      if (filter.status !== undefined && invoice.status !== filter.status) continue;
      if (filter.collectionMethod !== undefined && invoice.collectionMethod !== filter.collectionMethod) continue;
      newestFirst.push(invoice);
    }
    return paginate(newestFirst, page, 'invoice');
  }

  /** The invoice's amounts, derived from its items (no taxes or discounts here). */
  totals(invoice: InvoiceRecord): { subtotal: number; total: number; amountDue: number; amountRemaining: number } {
    let subtotal = 0;
    for (const id of invoice.itemIds) subtotal += this.items.get(id)?.amount ?? 0;
    const amountDue = Math.max(0, subtotal);
    const amountRemaining = invoice.status === 'void' ? 0 : Math.max(0, amountDue - invoice.amountPaid);
    return { subtotal, total: subtotal, amountDue, amountRemaining };
  }

  invoiceItems(invoice: InvoiceRecord): InvoiceItemRecord[] {
    return invoice.itemIds.map((id) => this.items.get(id)).filter((item): item is InvoiceItemRecord => item !== undefined);
  }

  // ── invoice items ────────────────────────────────────────────────────────────────────────────

  addInvoiceItem(input: { customer: string; invoice: string | null; amount: number; currency: string | null; description: string | null; metadata: Record<string, string> }): InvoiceItemRecord {
    if (!this.customers.has(input.customer)) throw noSuchReference('customer', input.customer, 'customer');
    let invoice: InvoiceRecord | null = null;
    if (input.invoice !== null) {
      invoice = this.invoices.get(input.invoice) ?? null;
      if (!invoice) throw noSuchReference('invoice', input.invoice, 'invoice');
      if (invoice.customer !== input.customer) {
        throw invalidRequest(`The invoice (${invoice.id}) belongs to customer ${invoice.customer}, not to ${input.customer}.`, { param: 'invoice' });
      }
      if (invoice.status !== 'draft') {
        throw invalidRequest(`You can only add invoice items to draft invoices; invoice ${invoice.id} is ${invoice.status}.`, {
          code: 'invoice_not_editable',
          param: 'invoice',
        });
      }
    }
    const currency = input.currency ?? invoice?.currency ?? 'usd';
    if (invoice && currency !== invoice.currency) {
      throw invalidRequest(`The currency of the invoice item (${currency}) must match the invoice's currency (${invoice.currency}).`, { param: 'currency' });
    }
    const item: InvoiceItemRecord = {
      id: stripeId('ii'),
      lineId: stripeId('il'),
      customer: input.customer,
      invoice: invoice?.id ?? null,
      amount: input.amount,
      currency,
      description: input.description,
      metadata: input.metadata,
      date: nowSeconds(),
    };
    this.items.set(item.id, item);
    if (invoice) invoice.itemIds.push(item.id);
    else {
      const pending = this.pendingItemsByCustomer.get(item.customer) ?? [];
      pending.push(item);
      this.pendingItemsByCustomer.set(item.customer, pending);
    }
    this.changed();
    return item;
  }

  // ── transitions ──────────────────────────────────────────────────────────────────────────────

  finalize(id: string, opts: { autoAdvance?: boolean }, origin: RequestOrigin | null): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.status !== 'draft') {
      throw invalidRequest(`This invoice is already finalized, you can't re-finalize a non-draft invoice.`, { code: 'invoice_not_editable' });
    }
    if (opts.autoAdvance !== undefined) invoice.autoAdvance = opts.autoAdvance;
    const customer = this.customers.get(invoice.customer);
    const now = nowSeconds();
    invoice.status = 'open';
    invoice.finalizedAt = now;
    invoice.frozenCustomer = { email: customer?.email ?? null, name: customer?.name ?? null };
    if (customer) {
      invoice.number = `${customer.invoicePrefix}-${String(customer.nextInvoiceSequence).padStart(4, '0')}`;
      customer.nextInvoiceSequence += 1;
    }
    if (invoice.daysUntilDue !== null) invoice.dueDate = now + invoice.daysUntilDue * DAY;
    this.changed();
    this.onInvoiceEvent('invoice.finalized', invoice, origin);
    // As in Stripe, an invoice with nothing to pay is paid the moment it is finalized.
    if (this.totals(invoice).amountDue === 0) this.markPaid(invoice, now, false, origin);
    return invoice;
  }

  send(id: string, origin: RequestOrigin | null): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.collectionMethod !== 'send_invoice') {
      throw invalidRequest(`You can only send invoices with collection_method=send_invoice.`);
    }
    if (invoice.status !== 'open') {
      throw invalidRequest(`You can only send invoices that are open; invoice ${invoice.id} is ${invoice.status}.`);
    }
    this.onInvoiceEvent('invoice.sent', invoice, origin);
    return invoice;
  }

  /** `DELETE /v1/invoices/:id`: as at Stripe, only a draft can be deleted; it is gone afterwards. */
  deleteDraft(id: string): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.status !== 'draft') {
      throw invalidRequest(`You can only delete draft invoices; invoice ${invoice.id} is ${invoice.status}.`);
    }
    this.invoices.delete(id);
    this.invoiceOrder.splice(this.invoiceOrder.indexOf(invoice), 1);
    const ofCustomer = this.invoicesByCustomer.get(invoice.customer) ?? [];
    ofCustomer.splice(ofCustomer.indexOf(invoice), 1);
    for (const itemId of invoice.itemIds) this.items.delete(itemId);
    this.changed();
    return invoice;
  }

  void(id: string, origin: RequestOrigin | null): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
      throw invalidRequest(`You can only void open or uncollectible invoices; invoice ${invoice.id} is ${invoice.status}.`);
    }
    invoice.status = 'void';
    invoice.voidedAt = nowSeconds();
    this.changed();
    this.onInvoiceEvent('invoice.voided', invoice, origin);
    return invoice;
  }

  markUncollectible(id: string, origin: RequestOrigin | null): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.status !== 'open') {
      throw invalidRequest(`You can only mark open invoices as uncollectible; invoice ${invoice.id} is ${invoice.status}.`);
    }
    invoice.status = 'uncollectible';
    invoice.markedUncollectibleAt = nowSeconds();
    this.changed();
    this.onInvoiceEvent('invoice.marked_uncollectible', invoice, origin);
    return invoice;
  }

  /**
   * `POST /v1/invoices/:id/pay`. A draft is finalized first, as Stripe does; paying an invoice
   * that is already paid is an error here (the hosted page uses `payFromHostedPage` instead).
   */
  payViaApi(id: string, opts: { paidOutOfBand: boolean }, origin: RequestOrigin | null): InvoiceRecord {
    const invoice = this.invoice(id);
    if (invoice.status === 'paid') throw invalidRequest('Invoice is already paid');
    if (invoice.status === 'void') throw invalidRequest('This invoice is void and can no longer be paid.');
    if (!opts.paidOutOfBand) {
      throw invalidRequest(
        'This customer has no attached payment source or default payment method. (The local Stripe stand-in only supports paid_out_of_band=true, or paying on the hosted invoice page.)',
      );
    }
    if (invoice.status === 'draft') {
      this.finalize(id, {}, origin);
      // Finalizing an invoice with nothing to pay has already paid it.
      if (this.invoice(id).status === 'paid') return invoice;
    }
    this.markPaid(invoice, nowSeconds(), true, origin);
    return invoice;
  }

  /** The hosted page's Pay button: pays an open or uncollectible invoice; anything else is left as it is. */
  payFromHostedPage(id: string): { invoice: InvoiceRecord; changed: boolean } {
    const invoice = this.invoice(id);
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return { invoice, changed: false };
    this.markPaid(invoice, nowSeconds(), false, null);
    return { invoice, changed: true };
  }

  counts(): { customers: number; invoices: number; openInvoices: number } {
    let openInvoices = 0;
    for (const invoice of this.invoiceOrder) if (invoice.status === 'open') openInvoices += 1;
    return { customers: this.customers.size, invoices: this.invoices.size, openInvoices };
  }

  private markPaid(invoice: InvoiceRecord, at: number, outOfBand: boolean, origin: RequestOrigin | null): void {
    invoice.status = 'paid';
    invoice.paidAt = at;
    invoice.paidOutOfBand = outOfBand;
    invoice.amountPaid = this.totals(invoice).amountDue;
    this.changed();
    this.onInvoiceEvent('invoice.paid', invoice, origin);
    this.onInvoiceEvent('invoice.payment_succeeded', invoice, origin);
  }
}

