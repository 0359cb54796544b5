// The stand-in's records as the store keeps them, and what every part of it shares: Stripe-shaped
// ids, timestamps in seconds, and cursor pages over newest-first lists.
import { randomBytes } from 'node:crypto';
import { noSuchReference } from './errors.js';

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
export type CollectionMethod = 'send_invoice' | 'charge_automatically';
export type InvoiceEventType =
  | 'invoice.created'
  | 'invoice.finalized'
  | 'invoice.sent'
  | 'invoice.paid'
  | 'invoice.payment_succeeded'
  | 'invoice.voided'
  | 'invoice.marked_uncollectible';

export interface CustomerRecord {
  id: string;
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  invoicePrefix: string;
  nextInvoiceSequence: number;
}

export interface InvoiceItemRecord {
  id: string;
  /** The id of the invoice line this item becomes (`il_…`). */
  lineId: string;
  customer: string;
  invoice: string | null;
  amount: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
  date: number;
}

export interface InvoiceRecord {
  id: string;
  customer: string;
  created: number;
  status: InvoiceStatus;
  collectionMethod: CollectionMethod;
  currency: string;
  description: string | null;
  footer: string | null;
  statementDescriptor: string | null;
  metadata: Record<string, string>;
  autoAdvance: boolean;
  daysUntilDue: number | null;
  dueDate: number | null;
  number: string | null;
  itemIds: string[];
  amountPaid: number;
  paidOutOfBand: boolean;
  /** Copied from the customer at finalization, as Stripe freezes them then. */
  frozenCustomer: { email: string | null; name: string | null } | null;
  finalizedAt: number | null;
  paidAt: number | null;
  voidedAt: number | null;
  markedUncollectibleAt: number | null;
}

/** Who asked for a state change: an API request (its id and idempotency key) or nobody (the hosted page). */
export interface RequestOrigin {
  id: string | null;
  idempotencyKey: string | null;
}

export type InvoiceEventSink = (type: InvoiceEventType, invoice: InvoiceRecord, origin: RequestOrigin | null) => void;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function stripeId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return `${prefix}_${out}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface CreateInvoiceInput {
  customer: string;
  collectionMethod: CollectionMethod;
  daysUntilDue: number | null;
  dueDate: number | null;
  description: string | null;
  footer: string | null;
  statementDescriptor: string | null;
  currency: string;
  autoAdvance: boolean;
  includePendingItems: boolean;
  metadata: Record<string, string>;
}

export interface ListPage<T> {
  data: T[];
  hasMore: boolean;
}

export interface PageRequest {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
}

export function paginate<T extends { id: string }>(newestFirst: T[], page: PageRequest, kind: string): ListPage<T> {
  if (page.startingAfter !== undefined) {
    const at = newestFirst.findIndex((x) => x.id === page.startingAfter);
    if (at < 0) throw noSuchReference(kind, page.startingAfter, 'starting_after');
    const rest = newestFirst.slice(at + 1);
    return { data: rest.slice(0, page.limit), hasMore: rest.length > page.limit };
  }
  if (page.endingBefore !== undefined) {
    const at = newestFirst.findIndex((x) => x.id === page.endingBefore);
    if (at < 0) throw noSuchReference(kind, page.endingBefore, 'ending_before');
    const before = newestFirst.slice(0, at);
    return { data: before.slice(Math.max(0, before.length - page.limit)), hasMore: before.length > page.limit };
  }
  return { data: newestFirst.slice(0, page.limit), hasMore: newestFirst.length > page.limit };
}

/** What the store keeps across restarts: every record, in creation order. */
export interface StripeStoreState {
  customers: CustomerRecord[];
  invoices: InvoiceRecord[];
  items: InvoiceItemRecord[];
}
