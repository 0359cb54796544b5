// The tool list assistants carry in every conversation: its size (printed, and at most 12 KB), the
// schemas as published (JSON Schema 2020-12, MCP's default dialect, with money written once per
// tool and referred to) saying exactly what the SDK's own conversion says, and still checking the
// answers clients validate with them. Also the Gemini CLI extension that points at this endpoint.
import { existsSync, readFileSync } from 'node:fs';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { createLogger } from '../../src/logger.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import type { AnyTool, ToolContext } from '../../src/mcp/tool.js';
import { describeActivation, describeActivationStatus } from '../../src/mcp/tools/activate-esim.js';
import { TOOLS } from '../../src/mcp/tools/index.js';
import { startTestApp, type TestApp } from '../support/app.js';

const MAX_BYTES = 12 * 1024;
type Schema = Record<string, unknown>;
interface Listed {
  name: string;
  description: string;
  inputSchema: Schema;
  outputSchema: Schema;
  execution?: unknown;
}

/** What the SDK itself publishes for a shape (draft-07), in the 2020-12 spelling and without `$schema`. */
function sdkSchema(shape: z.ZodRawShape, io: 'input' | 'output'): Schema {
  const { $schema, ...schema } = z.toJSONSchema(z.object(shape), { target: 'draft-7', io }) as Schema;
  expect($schema).toBe('http://json-schema.org/draft-07/schema#');
  return JSON.parse(JSON.stringify(schema).replaceAll('"definitions":', '"$defs":').replaceAll('#/definitions/', '#/$defs/')) as Schema;
}

describe('tools/list', () => {
  let app: TestApp;
  let body: string;
  let tools: Listed[];
  beforeAll(async () => {
    app = await startTestApp();
    const res = await request(app.url).post(MCP_PATH).set('accept', 'application/json').send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(200);
    body = res.text;
    tools = (JSON.parse(body) as { result: { tools: Listed[] } }).result.tools;
  });
  afterAll(() => app.close());

  it(`is at most ${MAX_BYTES} bytes for every tool`, async ({ annotate }) => {
    const bytes = Buffer.byteLength(body);
    const line = `tools/list: ${bytes} bytes for ${tools.length} tools (limit ${MAX_BYTES})`;
    console.log(line);
    await annotate(line);
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS.map((t) => t.name).sort());
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES);
  });

  it('publishes what the SDK would, in MCP\'s default dialect: nothing dropped but `$schema` and the default `execution`', () => {
    for (const tool of TOOLS) {
      const listed = tools.find((t) => t.name === tool.name)!;
      expect(listed.inputSchema, tool.name).toEqual(sdkSchema(tool.inputSchema, 'input'));
      expect(listed.outputSchema, tool.name).toEqual(sdkSchema(tool.outputSchema, 'output'));
      expect(listed.execution, tool.name).toBeUndefined();
    }
    // Money is one definition per tool, referred to wherever it recurs.
    const pricing = tools.find((t) => t.name === 'calculate_pricing')!;
    expect(JSON.stringify(pricing.outputSchema).match(/"#\/\$defs\/money"/g)).toHaveLength(7);
    expect(Object.keys(pricing.outputSchema.$defs as Schema)).toEqual(['money']);
    // Input schemas stay plain: no references for clients that handle nothing else.
    for (const t of tools) expect(JSON.stringify(t.inputSchema), t.name).not.toMatch(/\$ref|\$defs/);
  });

  it('every description names the assistant\'s phrases', () => {
    for (const t of tools) expect(t.description, t.name).toMatch(/Global Data eSIM|DOT eSIM/);
    expect(tools.find((t) => t.name === 'check_device_compatibility')!.description).toContain('will it work on my phone?');
    expect(tools.find((t) => t.name === 'get_activation_status')!.description).toContain('I paid');
  });

  it('the published output schemas still check answers, as a validating client reads them', async () => {
    const validator = new AjvJsonSchemaValidator();
    const check = (name: string, value: unknown) => validator.getValidator(tools.find((t) => t.name === name)!.outputSchema)(value);
    const ctx: ToolContext = {
      catalog: loadCatalog(),
      logger: createLogger('silent'),
      activation: { activateEsim: () => Promise.reject(new Error('unused')), activationStatus: () => Promise.reject(new Error('unused')) },
    };
    const answers: Array<[AnyTool['name'], unknown]> = [];
    const call = async (name: string, args: unknown) => {
      const tool = TOOLS.find((t) => t.name === name)!;
      answers.push([name, (await tool.handler(z.object(tool.inputSchema).parse(args), ctx)).structured]);
    };
    await call('search_services', { query: 'Global Data eSIM' });
    await call('get_service_details', { service_id: 'beta_esim_activation' });
    await call('calculate_pricing', { service_ids: ['beta_esim_activation', 'basic_membership', 'network_vpn_access'] });
    await call('compare_memberships', {});
    for (const device of ['iPhone 12', 'iPhone 8', 'iPhone SE', 'Nokia 3310']) await call('check_device_compatibility', { device });
    const facts = { activationId: 'act_1', email: 'mia@example.com' };
    const states = [
      { ...facts, status: 'awaiting_payment' as const, invoiceUrl: 'https://pay.example/in_1', amountDue: { cents: 100, currency: 'usd' } },
      { ...facts, status: 'awaiting_payment' as const, invoiceUrl: undefined, amountDue: { cents: 100, currency: 'usd' } },
      { ...facts, status: 'queued' as const, queuePosition: 3, estimatedWaitMinutes: 12 },
      { ...facts, status: 'activating' as const },
      { ...facts, status: 'active' as const, phoneNumber: '+15550100' },
      { ...facts, status: 'failed' as const, amountPaid: { cents: 100, currency: 'usd' } },
    ];
    for (const s of states) {
      answers.push(['activate_esim', describeActivation(s)], ['get_activation_status', describeActivationStatus(s)]);
    }
    answers.push(['get_activation_status', describeActivationStatus({ status: 'none', email: facts.email })]);
    for (const [name, value] of answers) expect(check(name, value), `${name} ${JSON.stringify(value)}`).toMatchObject({ valid: true });

    // And they refuse what breaks them, through the shared money definition too.
    const pricing = answers.find(([n]) => n === 'calculate_pricing')![1] as { totals: { first_year: Record<string, unknown> } };
    const broken = structuredClone(pricing);
    broken.totals.first_year.amount_cents = '24.00';
    expect(check('calculate_pricing', broken).valid).toBe(false);
    expect(check('activate_esim', describeActivationStatus({ status: 'none', email: facts.email })).valid).toBe(false);
    expect(check('check_device_compatibility', { device: 'x', compatible: 'maybe', notes: [], how_to_check: [] }).valid).toBe(false);
    // The masked address is all an answer carries.
    for (const [, value] of answers) expect(JSON.stringify(value)).not.toContain('mia@example.com');
  });
});

describe('the Gemini CLI extension', () => {
  const root = new URL('../../', import.meta.url);
  const manifest = JSON.parse(readFileSync(new URL('gemini-extension.json', root), 'utf8')) as {
    name: string;
    version: string;
    description: string;
    mcpServers: Record<string, { httpUrl?: string }>;
    contextFileName: string;
  };
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };

  it('names the extension, its version and the public MCP endpoint', () => {
    expect(manifest.name).toBe('dotm');
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.description).toMatch(/Global Data eSIM/);
    const url = new URL(manifest.mcpServers.dotm!.httpUrl!);
    expect(url.protocol).toBe('https:');
    expect(url.pathname).toBe(MCP_PATH);
    expect(manifest.contextFileName).toBe('GEMINI.md');
    expect(existsSync(new URL(manifest.contextFileName, root))).toBe(true);
  });

  it('its context file names every tool, the phrases, the device check and the QR code by e-mail', () => {
    const context = readFileSync(new URL(manifest.contextFileName, root), 'utf8');
    for (const tool of TOOLS) expect(context, tool.name).toContain(`\`${tool.name}\``);
    for (const phrase of ['I need a Global Data eSIM', 'my friend recommended', 'Will it work on my phone?', 'I paid', '*#06#']) expect(context).toContain(phrase);
    expect(context).toMatch(/QR code goes by e-mail/);
  });
});
