// Tool arguments and structured output are checked by compiled zod objects first
// (validateToolsSynchronously), on the one-parse tools/call path (answerToolCallsDirectly);
// whatever does not pass goes to the SDK's own check. Here a server with both and a stock one (the SDK's checks only) get the same calls and must give the same
// answers: generated arguments for every catalogue tool, outputs that break their schema, a schema
// that needs zod's async path, and the SDK's element limit.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCRequest, JSONRPCResponse } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { createLogger } from '../../src/logger.js';
import { createMcpDispatcher, type McpDispatcher } from '../../src/mcp/dispatcher.js';
import { answerProtocolErrorsPlainly, defineTool, registerTools, validateToolsSynchronously, type AnyTool } from '../../src/mcp/tool.js';
import { TOOLS } from '../../src/mcp/tools/index.js';
import { answerToolCallsDirectly } from '../../src/mcp/tool-call.js';

const catalog = loadCatalog();
const logger = createLogger('silent');
/** Only the catalogue tools are registered here: nothing activates. */
const noActivation = {
  activateEsim: () => Promise.reject(new Error('activate_esim is not registered in this test')),
  activationStatus: () => Promise.reject(new Error('get_activation_status is not registered in this test')),
};

/** Outputs a test decides: the structured content is returned as given. */
const echoTool = (name: string, output: z.ZodRawShape, input: z.ZodRawShape = { value: z.unknown() }) =>
  defineTool({
    name,
    title: name,
    description: name,
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args: { value?: unknown }) {
      return { structured: args.value as never, text: 'ok' };
    },
  });

const testTools: AnyTool[] = [
  echoTool('strict_output', { count: z.number().int(), items: z.array(z.object({ id: z.string().min(1) })) }),
  echoTool('async_output', { ok: z.string().refine(async (s) => s === 'yes', 'must be yes') }),
  echoTool('async_input', { ok: z.boolean() }, { value: z.unknown(), token: z.string().refine(async (s) => s.startsWith('t'), 'bad token') }),
];

async function serve(ours: boolean, options?: { maxToolInputElements?: number }): Promise<McpDispatcher> {
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} }, ...options });
  registerTools(server, [...TOOLS.filter((t) => !t.requiresAuth), ...testTools], { catalog, logger, activation: noActivation });
  if (ours) {
    validateToolsSynchronously(server);
    answerToolCallsDirectly(server);
  }
  answerProtocolErrorsPlainly(server, logger);
  return createMcpDispatcher(server, { timeoutMs: 10_000, directToolCalls: ours });
}

const call = (id: number, name: string, args: unknown): JSONRPCRequest => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args as Record<string, unknown> } });

async function both(servers: [McpDispatcher, McpDispatcher], name: string, args: unknown): Promise<[JSONRPCResponse, JSONRPCResponse]> {
  const [a, b] = await Promise.all(servers.map((s) => s.request(call(1, name, args), {})));
  return [a!, b!];
}

const ids = fc.oneof(fc.constantFrom(...catalog.services.map((s) => s.id)), fc.string({ maxLength: 120 }));
const anything = fc.anything({ maxDepth: 2 });
const argumentsFor: Record<string, fc.Arbitrary<unknown>> = {
  search_services: fc.oneof(
    fc.record({ query: fc.string({ maxLength: 600 }), service_type: fc.option(fc.constantFrom('beta_program', 'add_on', 'nope'), { nil: undefined }), max_price: fc.option(fc.oneof(fc.double(), fc.integer()), { nil: undefined }) }, { requiredKeys: [] }),
    anything,
  ),
  get_service_details: fc.oneof(fc.record({ service_id: ids }, { requiredKeys: [] }), anything),
  calculate_pricing: fc.oneof(fc.record({ service_ids: fc.oneof(fc.array(ids, { maxLength: 60 }), anything) }), anything),
  compare_memberships: fc.oneof(fc.record({ include_add_ons: fc.oneof(fc.boolean(), anything) }, { requiredKeys: [] }), anything),
  check_device_compatibility: fc.oneof(fc.record({ device: fc.oneof(fc.constantFrom('iPhone 12', ' Pixel 8 ', ''), fc.string({ maxLength: 120 })) }), anything),
};

describe('tool arguments and outputs checked by compiled schemas', () => {
  it('answers every catalogue call as the SDK alone does', async () => {
    const servers: [McpDispatcher, McpDispatcher] = [await serve(true), await serve(false)];
    const tools = Object.keys(argumentsFor);
    expect(TOOLS.filter((t) => !t.requiresAuth).map((t) => t.name).sort()).toEqual(tools.sort());
    let passed = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tools).chain((name) => fc.tuple(fc.constant(name), argumentsFor[name]!)), async ([name, args]) => {
        const [ours, stock] = await both(servers, name, args);
        expect(ours).toEqual(stock);
        if ('result' in ours && !ours.result.isError) passed += 1;
      }),
      { numRuns: 400 },
    );
    // Both kinds were met: calls that ran and calls refused.
    expect(passed).toBeGreaterThan(20);
    expect(passed).toBeLessThan(400);
    await Promise.all(servers.map((s) => s.close()));
  });

  it('refuses outputs that break the schema with the SDK’s own error, and passes good ones', async () => {
    const servers: [McpDispatcher, McpDispatcher] = [await serve(true), await serve(false)];
    const outputs: unknown[] = [
      { count: 1, items: [{ id: 'a' }] },
      { count: 1, items: [{ id: 'a', extra: true }], more: 'stripped' },
      { count: 1.5, items: [] },
      { count: 1, items: [{ id: '' }] },
      { count: '1', items: [] },
      { items: [] },
      [],
      'text',
    ];
    for (const value of outputs) {
      const [ours, stock] = await both(servers, 'strict_output', { value });
      expect(ours).toEqual(stock);
    }
    const [bad] = await both(servers, 'strict_output', { value: { count: 1.5, items: [] } });
    expect(bad).toMatchObject({ result: { isError: true, content: [{ text: expect.stringContaining('Output validation error') }] } });
    await Promise.all(servers.map((s) => s.close()));
  });

  it('leaves schemas that need zod’s async path, and the element limit, to the SDK', async () => {
    const servers: [McpDispatcher, McpDispatcher] = [await serve(true), await serve(false)];
    for (const value of [{ ok: 'yes' }, { ok: 'no' }]) {
      const [ours, stock] = await both(servers, 'async_output', { value });
      expect(ours).toEqual(stock);
    }
    expect((await both(servers, 'async_output', { value: { ok: 'no' } }))[0]).toMatchObject({ result: { isError: true } });
    for (const token of ['top', 'bad']) {
      const [ours, stock] = await both(servers, 'async_input', { value: { ok: true }, token });
      expect(ours).toEqual(stock);
    }
    await Promise.all(servers.map((s) => s.close()));

    const limited: [McpDispatcher, McpDispatcher] = [await serve(true, { maxToolInputElements: 3 }), await serve(false, { maxToolInputElements: 3 })];
    const many = { service_ids: ['beta_esim_activation', 'basic_membership', 'a', 'b', 'c'] };
    const [ours, stock] = await both(limited, 'calculate_pricing', many);
    expect(ours).toEqual(stock);
    expect(ours).toMatchObject({ result: { isError: true, content: [{ text: expect.stringContaining('maximum of 3') }] } });
    await Promise.all(limited.map((s) => s.close()));
  });
});
