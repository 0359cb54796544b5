// `/v1/events`: the events the stand-in emitted (newest first), as the app reads them to catch up.
import { noSuchResource } from '../errors.js';
import { Params } from '../params.js';
import type { StripeEventObject } from '../webhooks.js';
import { list, pageOf } from './expand.js';
import type { Resources } from './resources.js';

export interface EventLog {
  byId(id: string): StripeEventObject | undefined;
  newestFirst(): StripeEventObject[];
}

export function eventRoutes({ api, route }: Resources, events: EventLog): void {
  api.get(
    '/events',
    route((ctx) => {
      const params = new Params(ctx.params, ['type', 'limit', 'starting_after', 'ending_before']);
      const type = params.string('type');
      const all = events.newestFirst().filter((event) => type === undefined || event.type === type);
      const { limit, startingAfter } = pageOf(params);
      const from = startingAfter === undefined ? 0 : all.findIndex((event) => event.id === startingAfter) + 1;
      return list('/v1/events', all.slice(from, from + limit), all.length > from + limit);
    }),
  );

  api.get(
    '/events/:id',
    route((ctx, req) => {
      new Params(ctx.params, []);
      const event = events.byId(String(req.params.id));
      if (!event) throw noSuchResource('event', String(req.params.id));
      return event;
    }),
  );
}
