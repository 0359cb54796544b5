// `/v1/invoiceitems`: an amount added to a draft invoice, or pending for the customer's next one.
import { Params } from '../params.js';
import { renderInvoiceItem } from '../render.js';
import type { Resources } from './resources.js';

export function invoiceItemRoutes({ api, route, store, expand }: Resources): void {
  api.post(
    '/invoiceitems',
    route((ctx) => {
      const params = new Params(ctx.params, ['customer', 'invoice', 'amount', 'currency', 'description', 'metadata']);
      const item = store.addInvoiceItem({
        customer: params.string('customer', { required: true })!,
        invoice: params.string('invoice') ?? null,
        amount: params.integer('amount', { required: true, min: -99_999_999, max: 99_999_999 })!,
        currency: params.has('currency') ? params.currency('currency', 'usd') : null,
        description: params.nullableString('description', { maxLength: 500 }) ?? null,
        metadata: params.metadata() ?? {},
      });
      return expand(renderInvoiceItem(item), params.expand());
    }),
  );
}
