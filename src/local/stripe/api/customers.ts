// `/v1/customers`: create, list (by e-mail) and retrieve.
import { Params } from '../params.js';
import { renderCustomer } from '../render.js';
import { list, pageOf } from './expand.js';
import type { Resources } from './resources.js';

export function customerRoutes({ api, route, store, expand }: Resources): void {
  api.post(
    '/customers',
    route((ctx) => {
      const params = new Params(ctx.params, ['email', 'name', 'description', 'phone', 'metadata']);
      const customer = store.createCustomer({
        email: params.email('email') ?? null,
        name: params.nullableString('name', { maxLength: 256 }) ?? null,
        description: params.nullableString('description', { maxLength: 350 }) ?? null,
        phone: params.nullableString('phone', { maxLength: 20 }) ?? null,
        metadata: params.metadata() ?? {},
      });
      return expand(renderCustomer(customer), params.expand());
    }),
  );

  api.get(
    '/customers',
    route((ctx) => {
      const params = new Params(ctx.params, ['email', 'limit', 'starting_after', 'ending_before']);
      const page = store.listCustomers({ email: params.string('email') }, pageOf(params));
      return expand(list('/v1/customers', page.data.map(renderCustomer), page.hasMore), params.expand());
    }),
  );

  api.get(
    '/customers/:id',
    route((ctx, req) => {
      const params = new Params(ctx.params, []);
      return expand(renderCustomer(store.customer(String(req.params.id))), params.expand());
    }),
  );
}
