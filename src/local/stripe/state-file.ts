// The stand-in's state file (`stripe.json` in the local state folder): customers, invoices, invoice
// items and the webhook events not delivered yet. No keys: the API key and the webhook signing
// secret are made afresh at every start (events are signed when they are sent).
import { z } from 'zod';
import type { CustomerRecord, InvoiceItemRecord, InvoiceRecord, StripeStoreState } from './records.js';
import type { StripeEventObject } from './webhooks.js';

export const STRIPE_STATE_FILE = 'stripe.json';
const VERSION = 1;

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9]+$`));
const seconds = z.number().int().nonnegative();
const metadata = z.record(z.string(), z.string());
const currency = z.string().regex(/^[a-z]{3}$/);

const customer: z.ZodType<CustomerRecord> = z.object({
  id: id('cus'),
  created: seconds,
  email: z.string().nullable(),
  name: z.string().nullable(),
  description: z.string().nullable(),
  phone: z.string().nullable(),
  metadata,
  invoicePrefix: z.string().regex(/^[A-Z0-9]{1,12}$/),
  nextInvoiceSequence: z.number().int().positive(),
});

const invoice: z.ZodType<InvoiceRecord> = z.object({
  id: id('in'),
  customer: id('cus'),
  created: seconds,
  status: z.enum(['draft', 'open', 'paid', 'void', 'uncollectible']),
  collectionMethod: z.enum(['send_invoice', 'charge_automatically']),
  currency,
  description: z.string().nullable(),
  footer: z.string().nullable(),
  statementDescriptor: z.string().nullable(),
  metadata,
  autoAdvance: z.boolean(),
  daysUntilDue: z.number().int().nonnegative().nullable(),
  dueDate: seconds.nullable(),
  number: z.string().nullable(),
  itemIds: z.array(id('ii')),
  amountPaid: z.number().int().nonnegative(),
  paidOutOfBand: z.boolean(),
  frozenCustomer: z.object({ email: z.string().nullable(), name: z.string().nullable() }).nullable(),
  finalizedAt: seconds.nullable(),
  paidAt: seconds.nullable(),
  voidedAt: seconds.nullable(),
  markedUncollectibleAt: seconds.nullable(),
});

const item: z.ZodType<InvoiceItemRecord> = z.object({
  id: id('ii'),
  lineId: id('il'),
  customer: id('cus'),
  invoice: id('in').nullable(),
  amount: z.number().int(),
  currency,
  description: z.string().nullable(),
  metadata,
  date: seconds,
});

// An event is sent as it was recorded; what matters here is that it can be queued and sent.
const pendingEvent = z
  .looseObject({
    id: id('evt'),
    object: z.literal('event'),
    type: z.enum([
      'invoice.created',
      'invoice.finalized',
      'invoice.sent',
      'invoice.paid',
      'invoice.payment_succeeded',
      'invoice.voided',
      'invoice.marked_uncollectible',
    ]),
    data: z.object({ object: z.looseObject({ id: id('in') }) }),
  })
  .transform((event) => event as unknown as StripeEventObject);

export const stripeStateSchema = z.object({
  version: z.literal(VERSION),
  customers: z.array(customer),
  invoices: z.array(invoice),
  items: z.array(item),
  pendingEvents: z.array(pendingEvent),
});

export type StripeStateFile = z.infer<typeof stripeStateSchema>;

export function stripeStateFile(store: StripeStoreState, pendingEvents: StripeEventObject[]): StripeStateFile {
  return { version: VERSION, ...store, pendingEvents };
}
