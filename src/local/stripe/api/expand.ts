// The parts of an answer every resource shares: `expand[]` (an id replaced by the object it names)
// and Stripe's list envelope with cursor paging.
import { invalidRequest } from '../errors.js';
import type { Params } from '../params.js';
import { type RenderContext, renderCustomer, renderInvoice } from '../render.js';
import type { PageRequest } from '../records.js';

/** Replaces the ids at the requested paths of `object` with the objects they name, in place. */
export type Expand = <T extends object>(object: T, paths: string[]) => T;

export function createExpand(render: RenderContext): Expand {
  const { store } = render;

  function resolveId(id: string): object | null {
    if (id.startsWith('cus_')) {
      const customer = store.findCustomer(id);
      return customer ? renderCustomer(customer) : null;
    }
    if (id.startsWith('in_')) {
      const invoice = store.findInvoice(id);
      return invoice ? renderInvoice(render, invoice) : null;
    }
    return null;
  }

  function expandPath(target: Record<string, unknown>, segments: string[], fullPath: string): void {
    const [head, ...rest] = segments;
    if (head === undefined || head === 'id' || !(head in target)) throw cannotExpand(fullPath);
    let value = target[head];
    if (typeof value === 'string') {
      const resolved = resolveId(value);
      if (!resolved) throw cannotExpand(fullPath);
      target[head] = resolved;
      value = resolved;
    }
    if (rest.length === 0) {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw cannotExpand(fullPath);
      return;
    }
    if (Array.isArray(value)) {
      for (const element of value) if (element && typeof element === 'object') expandPath(element as Record<string, unknown>, rest, fullPath);
    } else if (value && typeof value === 'object') {
      expandPath(value as Record<string, unknown>, rest, fullPath);
    }
  }

  return (object, paths) => {
    for (const path of paths) expandPath(object as Record<string, unknown>, path.split('.'), path);
    return object;
  };
}

function cannotExpand(path: string) {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
}

export function pageOf(params: Params): PageRequest {
  return {
    limit: params.integer('limit', { min: 1, max: 100 }) ?? 10,
    startingAfter: params.string('starting_after'),
    endingBefore: params.string('ending_before'),
  };
}

export function list<T>(url: string, data: T[], hasMore: boolean) {
  return { object: 'list' as const, data, has_more: hasMore, url };
}
