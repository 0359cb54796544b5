// Records → the JSON Stripe answers. Typed against the SDK's own interfaces, so a field the SDK
// declares and the app may read is never silently missing.
import type Stripe from 'stripe';
import type { CustomerRecord, InvoiceItemRecord, InvoiceRecord } from './records.js';
import type { LocalStripeStore } from './store.js';

/** On the wire a decimal is a string; the SDK turns it into its Decimal class when it reads the answer. */
const ONE = '1' as unknown as Stripe.Decimal;

export interface RenderContext {
  store: LocalStripeStore;
  /** Where the hosted invoice pages live, e.g. http://127.0.0.1:12111 (no trailing slash). */
  publicBaseUrl(): string;
  accountName: string;
  /** Resolves once every change made so far is in the state file (at once when there is none). */
  saved(): Promise<void>;
}

export function renderCustomer(c: CustomerRecord): Stripe.Customer {
  return {
    id: c.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: c.created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: c.description,
    discount: null,
    email: c.email,
    invoice_prefix: c.invoicePrefix,
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: { ...c.metadata },
    name: c.name,
    next_invoice_sequence: c.nextInvoiceSequence,
    phone: c.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function renderInvoiceItem(item: InvoiceItemRecord): Stripe.InvoiceItem {
  return {
    id: item.id,
    object: 'invoiceitem',
    amount: item.amount,
    currency: item.currency,
    customer: item.customer,
    customer_account: null,
    date: item.date,
    description: item.description,
    discountable: true,
    discounts: [],
    invoice: item.invoice,
    livemode: false,
    metadata: { ...item.metadata },
    net_amount: item.amount,
    parent: null,
    period: { start: item.date, end: item.date },
    pricing: null,
    proration: false,
    quantity: 1,
    quantity_decimal: ONE,
    tax_rates: [],
    test_clock: null,
  };
}

export function renderLineItem(item: InvoiceItemRecord, invoiceId: string): Stripe.InvoiceLineItem {
  return {
    id: item.lineId,
    object: 'line_item',
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: { ...item.metadata },
    parent: {
      type: 'invoice_item_details',
      invoice_item_details: { invoice_item: item.id, proration: false, proration_details: { credited_items: null }, subscription: null },
      subscription_item_details: null,
    },
    period: { start: item.date, end: item.date },
    pretax_credit_amounts: [],
    pricing: null,
    quantity: 1,
    quantity_decimal: ONE,
    subscription: null,
    subtotal: item.amount,
    taxes: [],
  };
}

export function hostedInvoiceUrl(ctx: RenderContext, invoiceId: string): string {
  return `${ctx.publicBaseUrl()}/i/${invoiceId}`;
}

export function renderInvoice(ctx: RenderContext, inv: InvoiceRecord): Stripe.Invoice {
  const customer = ctx.store.findCustomer(inv.customer);
  const who = inv.frozenCustomer ?? { email: customer?.email ?? null, name: customer?.name ?? null };
  const { subtotal, total, amountDue, amountRemaining } = ctx.store.totals(inv);
  const items = ctx.store.invoiceItems(inv);
  const finalized = inv.finalizedAt !== null;
  const periodStart = items.length ? Math.min(...items.map((i) => i.date)) : inv.created;
  const periodEnd = items.length ? Math.max(...items.map((i) => i.date)) : inv.created;
  return {
    id: inv.id,
    object: 'invoice',
    account_country: 'US',
    account_name: ctx.accountName,
    account_tax_ids: null,
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: inv.amountPaid,
    amount_paid_off_stripe: inv.paidOutOfBand ? inv.amountPaid : 0,
    amount_remaining: amountRemaining,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: inv.status === 'paid',
    auto_advance: inv.autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: 'manual',
    collection_method: inv.collectionMethod,
    created: inv.created,
    currency: inv.currency,
    custom_fields: null,
    customer: inv.customer,
    customer_account: null,
    customer_address: null,
    customer_email: who.email,
    customer_name: who.name,
    customer_phone: customer?.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: inv.description,
    discounts: [],
    due_date: inv.dueDate,
    effective_at: inv.finalizedAt,
    ending_balance: finalized ? 0 : null,
    footer: inv.footer,
    from_invoice: null,
    hosted_invoice_url: finalized ? hostedInvoiceUrl(ctx, inv.id) : null,
    invoice_pdf: finalized ? `${hostedInvoiceUrl(ctx, inv.id)}/pdf` : null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: {
      object: 'list',
      data: items.map((item) => renderLineItem(item, inv.id)),
      has_more: false,
      url: `/v1/invoices/${inv.id}/lines`,
      // Stripe includes total_count on embedded lists; the SDK's ApiList type does not declare it.
      ...({ total_count: items.length } as object),
    },
    livemode: false,
    metadata: { ...inv.metadata },
    next_payment_attempt: null,
    number: inv.number,
    on_behalf_of: null,
    parent: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: periodEnd,
    period_start: periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: inv.statementDescriptor,
    status: inv.status,
    status_transitions: {
      finalized_at: inv.finalizedAt,
      marked_uncollectible_at: inv.markedUncollectibleAt,
      paid_at: inv.paidAt,
      voided_at: inv.voidedAt,
    },
    subtotal,
    subtotal_excluding_tax: subtotal,
    test_clock: null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: inv.created,
  };
}
