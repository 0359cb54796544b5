// The endpoint's plain envelope check agrees with the SDK's JSONRPCMessageSchema on every message,
// so nothing the SDK would refuse is taken for a notification (and answered with an empty 202).
import {
  JSONRPCErrorResponseSchema,
  JSONRPCMessageSchema,
  JSONRPCNotificationSchema,
  JSONRPCRequestSchema,
  JSONRPCResultResponseSchema,
} from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyMessage } from '../../src/mcp/endpoint.js';

const sdkKind = (m: unknown) => {
  if (!JSONRPCMessageSchema.safeParse(m).success) return undefined;
  if (JSONRPCRequestSchema.safeParse(m).success) return 'request';
  if (JSONRPCNotificationSchema.safeParse(m).success) return 'notification';
  if (JSONRPCResultResponseSchema.safeParse(m).success || JSONRPCErrorResponseSchema.safeParse(m).success) return 'response';
  throw new Error('unreachable');
};

/** Values near the edges of each rule: ids, codes, tokens and shapes. */
const scalar = fc.oneof(
  fc.constantFrom(0, 1, -1, 1.5, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -0, '', '1', '2.0', 'ping', true, false, null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 5 }),
);
/** Mostly well formed, sometimes not. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: bad, weight: 1 });
const requestId = mostly(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), scalar);
const meta = mostly(
  fc.record(
    {
      progressToken: requestId,
      'io.modelcontextprotocol/related-task': mostly(fc.record({ taskId: mostly(fc.string({ maxLength: 3 }), scalar) }), scalar),
      other: scalar,
    },
    { requiredKeys: [] },
  ),
  fc.oneof(scalar, fc.constant([])),
);
const bag = mostly(
  fc.record({ _meta: meta, name: scalar, arguments: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
  fc.oneof(scalar, fc.constant([])),
);
const errorObject = mostly(
  fc.record({ code: mostly(fc.integer(), scalar), message: mostly(fc.string({ maxLength: 5 }), scalar), data: fc.jsonValue({ maxDepth: 1 }) }, {
    requiredKeys: ['code', 'message'],
  }),
  fc.oneof(scalar, fc.constant({})),
);
const method = mostly(fc.constantFrom('ping', 'tools/list', 'notifications/cancelled'), scalar);
const jsonrpc = mostly(fc.constant('2.0'), scalar);
const shaped = fc.oneof(
  fc.record({ jsonrpc, id: requestId, method, params: bag }, { requiredKeys: ['jsonrpc', 'id', 'method'] }),
  fc.record({ jsonrpc, method, params: bag }, { requiredKeys: ['jsonrpc', 'method'] }),
  fc.record({ jsonrpc, id: requestId, result: bag }, { requiredKeys: ['jsonrpc', 'id', 'result'] }),
  fc.record({ jsonrpc, id: requestId, error: errorObject }, { requiredKeys: ['jsonrpc', 'error'] }),
);
/** A well-shaped message, sometimes with one field added, replaced or removed. */
const message = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(shaped, fc.option(fc.tuple(fc.constantFrom('jsonrpc', 'id', 'method', 'params', 'result', 'error', 'extra'), fc.option(fc.oneof(scalar, bag))), { freq: 2 })).map(([m, change]) => {
    if (!change) return m;
    const copy: Record<string, unknown> = { ...m };
    if (change[1] === null) delete copy[change[0]];
    else copy[change[0]] = change[1];
    return copy;
  }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

describe('classifyMessage', () => {
  it('agrees with the SDK schema on generated messages', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(classifyMessage(m)).toBe(sdkKind(m));
      }),
      { numRuns: 20_000 },
    );
  });

  it('generates every kind of message often enough to matter', () => {
    const kinds = new Map<string, number>();
    for (const m of fc.sample(message, { numRuns: 5_000, seed: 1 })) {
      const kind = sdkKind(m) ?? 'invalid';
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    for (const kind of ['request', 'notification', 'response', 'invalid']) expect(kinds.get(kind) ?? 0).toBeGreaterThan(50);
  });

  it('agrees on the plain cases', () => {
    for (const m of [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'a', result: {} },
      { jsonrpc: '2.0', error: { code: -32600, message: 'x' } },
      { jsonrpc: '2.0', id: 1, method: 'ping', extra: 1 },
      { jsonrpc: '2.0', id: 2 ** 53, method: 'ping' },
      { jsonrpc: '2.0', id: null, error: { code: 1, message: 'x' } },
    ]) {
      expect(classifyMessage(m)).toBe(sdkKind(m));
    }
  });
});
