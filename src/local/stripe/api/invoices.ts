// `/v1/invoices`: create, list, retrieve, delete a draft, and the state machine's moves (finalize,
// send, void, mark uncollectible, pay).
import { Params } from '../params.js';
import { renderInvoice } from '../render.js';
import type { CollectionMethod, InvoiceRecord, InvoiceStatus, RequestOrigin } from '../records.js';
import { list, pageOf } from './expand.js';
import type { Resources } from './resources.js';

const INVOICE_STATUSES: readonly InvoiceStatus[] = ['draft', 'open', 'paid', 'uncollectible', 'void'];
const COLLECTION_METHODS: readonly CollectionMethod[] = ['send_invoice', 'charge_automatically'];

const CREATE_PARAMS = [
  'customer',
  'collection_method',
  'days_until_due',
  'due_date',
  'description',
  'footer',
  'statement_descriptor',
  'currency',
  'auto_advance',
  'pending_invoice_items_behavior',
  'metadata',
];

/** An invoice as the API answers it, with the request's `expand[]` applied. */
function invoiceAnswer({ render, expand }: Resources, invoice: InvoiceRecord, params: Params) {
  return expand(renderInvoice(render, invoice), params.expand());
}

export function invoiceRoutes(resources: Resources): void {
  const { api, route, store, render, expand } = resources;

  api.post(
    '/invoices',
    route((ctx) => {
      const params = new Params(ctx.params, CREATE_PARAMS);
      const invoice = store.createInvoice(
        {
          customer: params.string('customer', { required: true })!,
          collectionMethod: params.oneOf('collection_method', COLLECTION_METHODS) ?? 'charge_automatically',
          daysUntilDue: params.integer('days_until_due', { min: 0, max: 730 }) ?? null,
          dueDate: params.integer('due_date', { min: 0 }) ?? null,
          description: params.nullableString('description', { maxLength: 1500 }) ?? null,
          footer: params.nullableString('footer', { maxLength: 5000 }) ?? null,
          statementDescriptor: params.nullableString('statement_descriptor', { maxLength: 22 }) ?? null,
          currency: params.currency('currency', 'usd'),
          autoAdvance: params.boolean('auto_advance') ?? false,
          includePendingItems: params.oneOf('pending_invoice_items_behavior', ['include', 'exclude'] as const) === 'include',
          metadata: params.metadata() ?? {},
        },
        ctx.origin,
      );
      return invoiceAnswer(resources, invoice, params);
    }),
  );

  api.get(
    '/invoices',
    route((ctx) => {
      const params = new Params(ctx.params, ['customer', 'status', 'collection_method', 'limit', 'starting_after', 'ending_before']);
      const filter = {
        customer: params.string('customer'),
        status: params.oneOf('status', INVOICE_STATUSES),
        collectionMethod: params.oneOf('collection_method', COLLECTION_METHODS),
      };
      const page = store.listInvoices(filter, pageOf(params));
      const invoices = page.data.map((invoice) => renderInvoice(render, invoice));
      return expand(list('/v1/invoices', invoices, page.hasMore), params.expand());
    }),
  );

  api.get(
    '/invoices/:id',
    route((ctx, req) => {
      const params = new Params(ctx.params, []);
      return invoiceAnswer(resources, store.invoice(String(req.params.id)), params);
    }),
  );

  api.delete(
    '/invoices/:id',
    route((ctx, req) => {
      new Params(ctx.params, []);
      const invoice = store.deleteDraft(String(req.params.id));
      return { id: invoice.id, object: 'invoice', deleted: true };
    }),
  );
}

/** The moves of the invoice state machine (draft → open → paid | void | uncollectible). */
export function invoiceTransitionRoutes(resources: Resources): void {
  const { api, route, store } = resources;

  api.post(
    '/invoices/:id/finalize',
    route((ctx, req) => {
      const params = new Params(ctx.params, ['auto_advance']);
      const invoice = store.finalize(String(req.params.id), { autoAdvance: params.boolean('auto_advance') }, ctx.origin);
      return invoiceAnswer(resources, invoice, params);
    }),
  );

  // The moves that take no parameters.
  const plainMoves: Array<[string, (id: string, origin: RequestOrigin) => InvoiceRecord]> = [
    ['send', (id, origin) => store.send(id, origin)],
    ['void', (id, origin) => store.void(id, origin)],
    ['mark_uncollectible', (id, origin) => store.markUncollectible(id, origin)],
  ];
  for (const [move, carryOut] of plainMoves) {
    api.post(
      `/invoices/:id/${move}`,
      route((ctx, req) => {
        const params = new Params(ctx.params, []);
        return invoiceAnswer(resources, carryOut(String(req.params.id), ctx.origin), params);
      }),
    );
  }

  api.post(
    '/invoices/:id/pay',
    route((ctx, req) => {
      const params = new Params(ctx.params, ['paid_out_of_band']);
      const invoice = store.payViaApi(String(req.params.id), { paidOutOfBand: params.boolean('paid_out_of_band') ?? false }, ctx.origin);
      return invoiceAnswer(resources, invoice, params);
    }),
  );
}
