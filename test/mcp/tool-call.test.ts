// tools/call answered with one parse of the request (answerToolCallsDirectly) must answer exactly
// as the SDK's own handler: a server with it and a stock one get the same requests — malformed
// ones, unknown and disabled tools, task augmentation, tools that throw, tools whose results the
// SDK's result schema rewrites or refuses — and must give the same answers.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, type CallToolResult, type JSONRPCRequest, type JSONRPCResponse } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/logger.js';
import { createMcpDispatcher, type McpDispatcher } from '../../src/mcp/dispatcher.js';
import { answerToolCallsDirectly, isPlainToolResult } from '../../src/mcp/tool-call.js';
import { answerProtocolErrorsPlainly, validateToolsSynchronously } from '../../src/mcp/tool.js';

const logger = createLogger('silent');

/** Results a test decides, including ones no tool of ours would give. */
const RESULTS: Record<string, () => unknown> = {
  plain: () => ({ content: [{ type: 'text', text: 'ok' }], structuredContent: { n: 1 } }),
  extra_block_key: () => ({ content: [{ type: 'text', text: 'ok', note: 'stripped by the schema' }] }),
  image: () => ({ content: [{ type: 'image', data: 'aGk=', mimeType: 'image/png' }] }),
  no_content: () => ({ structuredContent: { n: 1 } }),
  bad_block: () => ({ content: [{ type: 'text', text: 42 }] }),
  meta: () => ({ content: [], _meta: { 'example/x': 1 } }),
  error_flag: () => ({ content: [{ type: 'text', text: 'no' }], isError: true }),
};

async function serve(ours: boolean): Promise<McpDispatcher> {
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
  server.registerTool(
    'typed',
    { description: 'typed', inputSchema: { n: z.number().int() }, outputSchema: { doubled: z.number() } },
    async ({ n }) => (n === 13 ? Promise.reject(new Error('unlucky')) : { content: [{ type: 'text', text: String(n * 2) }], structuredContent: { doubled: n * 2 } }),
  );
  server.registerTool('shaped', { description: 'shaped', inputSchema: { kind: z.string() } }, async ({ kind }) => RESULTS[kind]?.() as CallToolResult);
  server.registerTool('no_input', { description: 'no input' }, async () => ({ content: [{ type: 'text', text: 'none' }] }));
  server.registerTool('off', { description: 'disabled' }, async () => ({ content: [] })).disable();
  validateToolsSynchronously(server);
  if (ours) answerToolCallsDirectly(server);
  answerProtocolErrorsPlainly(server, logger);
  return createMcpDispatcher(server, { timeoutMs: 10_000, directToolCalls: ours });
}

let servers: [McpDispatcher, McpDispatcher];
beforeAll(async () => {
  servers = [await serve(true), await serve(false)];
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function both(params: unknown): Promise<[JSONRPCResponse, JSONRPCResponse]> {
  const request = { jsonrpc: '2.0', id: 7, method: 'tools/call', params } as JSONRPCRequest;
  const [a, b] = await Promise.all(servers.map((s) => s.request(request, {})));
  return [a!, b!];
}

describe('tools/call with one parse of the request', () => {
  it('answers every kind of call as the SDK does', async () => {
    const cases: unknown[] = [
      { name: 'typed', arguments: { n: 2 } },
      { name: 'typed', arguments: { n: 13 } },
      { name: 'typed', arguments: { n: 'two' } },
      { name: 'typed' },
      { name: 'typed', arguments: [1, 2] },
      { name: 'typed', arguments: { n: 2 }, _meta: { progressToken: 'p' } },
      { name: 'typed', arguments: { n: 2 }, task: { ttl: 1000 } },
      { name: 'no_input' },
      { name: 'no_input', arguments: { ignored: true } },
      { name: 'off' },
      { name: 'missing' },
      { name: 'constructor' },
      { name: '__proto__' },
      { name: 42 },
      { arguments: {} },
      undefined,
      'tools',
      ...Object.keys(RESULTS).map((kind) => ({ name: 'shaped', arguments: { kind } })),
    ];
    for (const params of cases) {
      const [ours, stock] = await both(params);
      expect(ours, JSON.stringify(params)).toEqual(stock);
    }
  });

  it('answers generated calls as the SDK does', async () => {
    const names = fc.oneof(fc.constantFrom('typed', 'shaped', 'no_input', 'off', 'missing'), fc.string({ maxLength: 12 }));
    const args = fc.oneof(fc.record({ n: fc.oneof(fc.integer(), fc.double(), fc.string()) }), fc.record({ kind: fc.constantFrom(...Object.keys(RESULTS)) }), fc.anything({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(fc.record({ name: names, arguments: args }, { requiredKeys: ['name'] }), async (params) => {
        const [ours, stock] = await both(params);
        expect(ours).toEqual(stock);
      }),
      { numRuns: 200 },
    );
  });

  it('takes a result as its own parse only where the SDK’s result schema gives it back unchanged', () => {
    const block = fc.oneof(
      fc.record({ type: fc.constant('text'), text: fc.string() }),
      fc.record({ type: fc.constantFrom('text', 'image'), text: fc.anything({ maxDepth: 1 }), data: fc.string() }, { requiredKeys: ['type'] }),
    );
    const result = fc.oneof(
      fc.record(
        { content: fc.array(block, { maxLength: 3 }), structuredContent: fc.dictionary(fc.string(), fc.anything({ maxDepth: 1 })), isError: fc.boolean() },
        { requiredKeys: ['content'] },
      ),
      fc.record(
        { content: fc.oneof(fc.array(block, { maxLength: 3 }), fc.anything({ maxDepth: 1 })), structuredContent: fc.oneof(fc.dictionary(fc.string(), fc.anything({ maxDepth: 1 })), fc.anything({ maxDepth: 1 })), isError: fc.anything({ maxDepth: 0 }), other: fc.string() },
        { requiredKeys: [] },
      ),
      fc.anything({ maxDepth: 2 }),
    );
    let plain = 0;
    fc.assert(
      fc.property(result, (value) => {
        if (!isPlainToolResult(value)) return;
        plain += 1;
        const parsed = CallToolResultSchema.safeParse(value);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(value);
      }),
      { numRuns: 2000 },
    );
    expect(plain).toBeGreaterThan(20);
    // Found by this property: the schema's record drops an own `__proto__` key.
    const protoKey = JSON.parse('{"content":[],"structuredContent":{"__proto__":{}}}') as unknown;
    expect(isPlainToolResult(protoKey)).toBe(false);
    expect(CallToolResultSchema.parse(protoKey)).not.toStrictEqual(protoKey);
  });
});
