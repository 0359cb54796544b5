// The MCP endpoint's contract, as raw HTTP: what curl, simple clients and browsers see. Stateless
// mode, JSON or SSE by Accept, the tool list, the JSON-RPC error codes and the envelope, the HTTP
// layer's refusals (405, 413, 403 on a foreign Origin), and 401 pointing at the protected-resource
// metadata, served at both well-known addresses.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import { expectBearerChallenge } from '../support/challenge.js';
import { TOOLS } from '../../src/mcp/tools/index.js';

const call = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

interface Answer {
  jsonrpc: string;
  id: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

describe('POST /mcp/v2/messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ALLOWED_ORIGINS: 'https://chatgpt.com,https://gemini.google.com' });
  });
  afterAll(() => t.close());

  /** One POST as a plain-JSON client sends it; a string body goes as it is. */
  const post = (body: unknown) =>
    request(t.url)
      .post(MCP_PATH)
      .set('content-type', 'application/json')
      .set('accept', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));

  describe('transport', () => {
    it.each([
      ['curl (*/*)', '*/*'],
      ['no Accept', undefined],
      ['application/json only', 'application/json'],
    ])('answers %s with plain JSON, never 406', async (_label, accept) => {
      const req = request(t.url).post(MCP_PATH).set('content-type', 'application/json');
      if (accept) req.set('accept', accept);
      else req.unset('accept');
      const res = await req.send(call(1, 'calculate_pricing', { service_ids: ['beta_esim_activation'] }));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 1 });
      expect(res.body.result.structuredContent.totals.one_time.amount).toBe('1.00');
    });

    it('answers SSE to a client that accepts text/event-stream', async () => {
      const res = await request(t.url)
        .post(MCP_PATH)
        .set('accept', 'application/json, text/event-stream')
        .send({ jsonrpc: '2.0', id: 7, method: 'ping' })
        .buffer(true)
        .parse((r, cb) => {
          let data = '';
          r.on('data', (c: Buffer) => (data += c.toString()));
          r.on('end', () => cb(null, data));
        });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/event-stream/);
      const event = String(res.body).split('\n').find((l) => l.startsWith('data: '));
      expect(JSON.parse(event!.slice(6))).toEqual({ jsonrpc: '2.0', id: 7, result: {} });
    });

    it('works without initialize (stateless), and initialize works too', async () => {
      const list = await request(t.url).post(MCP_PATH).send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      expect(list.body.result.tools).toHaveLength(TOOLS.length);
      const init = await request(t.url)
        .post(MCP_PATH)
        .send({ jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } });
      expect(init.status).toBe(200);
      expect(init.body.result.serverInfo.name).toBe('dotm');
      expect(init.body.result.instructions).toContain('Global Data eSIM');
      expect(init.headers['mcp-session-id']).toBeUndefined();
    });

    it('GET and DELETE → 405 with a JSON-RPC error body', async () => {
      for (const method of ['get', 'delete'] as const) {
        const res = await request(t.url)[method](MCP_PATH);
        expect(res.status).toBe(405);
        expect(res.headers.allow).toBe('POST');
        expect(res.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
      }
    });

    it('bodies over 1 MB → 413', async () => {
      const big = JSON.stringify(call(5, 'search_services', { query: 'x'.repeat(1_100_000) }));
      const res = await request(t.url).post(MCP_PATH).set('content-type', 'application/json').send(big);
      expect(res.status).toBe(413);
      expect(res.body.jsonrpc).toBe('2.0');
    });

    it('a foreign Origin → 403; an allowed one and no Origin pass', async () => {
      const foreign = await request(t.url).post(MCP_PATH).set('origin', 'https://evil.example').send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(foreign.status).toBe(403);
      expect(foreign.body.error.code).toBe(-32000);
      const allowed = await request(t.url).post(MCP_PATH).set('origin', 'https://chatgpt.com').send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(allowed.status).toBe(200);
      const own = await request(t.url).post(MCP_PATH).set('origin', new URL(t.url).origin).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(own.status).toBe(200);
    });

    it('serves the same endpoint at /mcp (clients such as the Inspector CLI rewrite paths to it)', async () => {
      const res = await request(t.url).post('/mcp').send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(res.status).toBe(200);
      expect(res.body.result.tools).toHaveLength(TOOLS.length);
      const get = await request(t.url).get('/mcp');
      expect(get.status).toBe(405);
    });
  });

  describe('the tool list', () => {
    it('lists the tools with input and output schemas and all four annotations', async () => {
      const client = await t.client();
      const { tools } = await client.listTools();
      expect(tools.map((x) => x.name).sort()).toEqual(
        [
          'activate_esim',
          'calculate_pricing',
          'check_device_compatibility',
          'compare_memberships',
          'get_activation_status',
          'get_service_details',
          'search_services',
        ].sort(),
      );
      for (const tool of tools) {
        expect(tool.inputSchema.type).toBe('object');
        expect(tool.outputSchema?.type).toBe('object');
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
          expect(typeof tool.annotations?.[hint], `${tool.name}.${hint}`).toBe('boolean');
        }
        expect(tool.description).toMatch(/Global Data eSIM|DOT eSIM/);
      }
      const search = tools.find((x) => x.name === 'search_services')!;
      expect(Object.keys(search.inputSchema.properties ?? {}).sort()).toEqual(['max_price', 'query', 'service_type']);
      expect(search.inputSchema.required).toEqual(['query']);
      expect(tools.find((x) => x.name === 'calculate_pricing')!.inputSchema.required).toEqual(['service_ids']);
      expect(tools.find((x) => x.name === 'get_service_details')!.inputSchema.required).toEqual(['service_id']);
      expect(tools.find((x) => x.name === 'compare_memberships')!.inputSchema.required ?? []).toEqual([]);
      const readOnly = tools.filter((x) => x.name !== 'activate_esim');
      expect(readOnly.every((x) => x.annotations?.readOnlyHint === true && x.annotations?.destructiveHint === false)).toBe(true);
      const activate = tools.find((x) => x.name === 'activate_esim')!;
      expect(activate.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true });
      const status = tools.find((x) => x.name === 'get_activation_status')!;
      expect(status.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
      expect(status.inputSchema.required ?? []).toEqual([]);
      expect((status.outputSchema?.properties?.status as { enum: string[] }).enum).toContain('none');
      expect((activate.outputSchema?.properties?.status as { enum: string[] }).enum).not.toContain('none');
      expect(tools.find((x) => x.name === 'check_device_compatibility')!.inputSchema.required).toEqual(['device']);
    });

    it('declares per-tool security schemes on the descriptor and in _meta: noauth, or oauth2 with the scopes the server issues', async () => {
      const res = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const listed = res.body.result.tools as Array<{ name: string; securitySchemes?: unknown; _meta?: { securitySchemes?: unknown } }>;
      const metadata = (await fetch(`${t.url}/.well-known/oauth-authorization-server`).then((r) => r.json())) as { scopes_supported: string[] };
      expect(metadata.scopes_supported.length).toBeGreaterThan(0);
      const signedIn = ['activate_esim', 'get_activation_status'];
      for (const tool of listed) {
        const expected = signedIn.includes(tool.name) ? [{ type: 'oauth2', scopes: metadata.scopes_supported }] : [{ type: 'noauth' }];
        expect(tool.securitySchemes, tool.name).toEqual(expected);
        expect(tool._meta?.securitySchemes, tool.name).toEqual(expected);
      }
      expect(listed.filter((x) => signedIn.includes(x.name))).toHaveLength(2);
      // The SDK's client drops fields its Tool type lacks; the _meta copy reaches it.
      const viaSdk = await (await t.client()).listTools();
      expect(viaSdk.tools.find((x) => x.name === 'get_activation_status')!._meta?.securitySchemes).toEqual([{ type: 'oauth2', scopes: metadata.scopes_supported }]);
    });

    it('invalid tool arguments → a tool error naming the argument', async () => {
      const res = await request(t.url).post(MCP_PATH).send(call(4, 'calculate_pricing', { service_ids: 'basic_membership' }));
      expect(res.body.result.isError).toBe(true);
      expect(res.body.result.content[0].text).toContain('service_ids');
    });
  });

  describe('sign-in: 401 pointing at the protected-resource metadata (RFC 6750 / RFC 9728)', () => {
    it('activate_esim without an Authorization header → 401 with resource_metadata, and nothing happens', async () => {
      const before = t.service.local.stripe!.counts();
      const res = await post(call(1, 'activate_esim', {}));
      expect(res.status).toBe(401);
      const metadataUrl = expectBearerChallenge(res.headers['www-authenticate'], t.url);
      // Nothing leaks and nothing happens.
      expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|firebase-admin|stack/i);
      expect(t.service.local.stripe!.counts()).toEqual(before);

      const metadata = await fetch(metadataUrl!);
      expect(metadata.status).toBe(200);
      const doc = (await metadata.json()) as Record<string, unknown>;
      expect(doc.resource).toBe(`${t.url}${MCP_PATH}`);
      expect(doc.bearer_methods_supported).toEqual(expect.arrayContaining(['header']));
      expect(Array.isArray(doc.authorization_servers)).toBe(true);
      const servers = doc.authorization_servers as unknown[];
      expect(servers.length).toBeGreaterThan(0);
      for (const s of servers) expect(() => new URL(String(s))).not.toThrow();
    });

    it('get_activation_status without an Authorization header → the same 401; the tools without sign-in need none', async () => {
      const res = await post(call(1, 'get_activation_status', {}));
      expect(res.status).toBe(401);
      expectBearerChallenge(res.headers['www-authenticate'], t.url);
      const device = await post(call(2, 'check_device_compatibility', { device: 'iPhone 12' }));
      expect(device.status).toBe(200);
      expect(device.body.result.structuredContent).toMatchObject({ compatible: true, matched: 'Apple iPhone 12' });
    });

    it('the same metadata is served at the root well-known path', async () => {
      const [root, specific] = await Promise.all([
        fetch(`${t.url}/.well-known/oauth-protected-resource`).then((r) => r.json()),
        fetch(`${t.url}/.well-known/oauth-protected-resource${MCP_PATH}`).then((r) => r.json()),
      ]);
      expect(root).toEqual(specific);
    });
  });

  describe('JSON-RPC error codes', () => {
    it('malformed JSON → 400 with -32700', async () => {
      const res = await request(t.url).post(MCP_PATH).set('content-type', 'application/json').send('{"jsonrpc": "2.0", "id": 1,');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringContaining('Parse error') } });
    });

    it.each([
      ['not an object', '"hello"'],
      ['missing method', '{"jsonrpc":"2.0","id":1}'],
      ['wrong version', '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
      ['empty batch', '[]'],
    ])('invalid request (%s) → 400 with -32600', async (_label, body) => {
      const res = await request(t.url).post(MCP_PATH).set('content-type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(-32600);
      expect(res.body.jsonrpc).toBe('2.0');
    });

    it('unknown method → -32601 in a JSON-RPC answer', async () => {
      const res = await request(t.url).post(MCP_PATH).send({ jsonrpc: '2.0', id: 9, method: 'tools/explode' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32601 } });
    });

    it('tools/call without params → -32602 with a short message', async () => {
      for (const message of [
        { jsonrpc: '2.0', id: 2, method: 'tools/call' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 5 } },
        { jsonrpc: '2.0', id: 2, method: 'resources/read', params: {} },
      ]) {
        const res = await post(message);
        expect(res.status).toBe(200);
        const body = res.body as Answer;
        expect(body).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32602 } });
        expect(body.error!.message.length).toBeLessThan(200);
        expect(body.error!.message).not.toMatch(/[[{\n]/);
      }
    });
  });

  describe('the envelope', () => {
    it.each([
      ['an extra top-level field', '{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}', 1],
      ['an integer id beyond 2^53', '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}', 9007199254740992],
      ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 1.5],
      ['params that are an array', '{"jsonrpc":"2.0","id":"a","method":"tools/list","params":[]}', 'a'],
      ['a bad progress token', '{"jsonrpc":"2.0","id":"b","method":"ping","params":{"_meta":{"progressToken":1.5}}}', 'b'],
      ['a null id', '{"jsonrpc":"2.0","id":null,"method":"ping"}', null],
    ])('a message with %s is answered -32600 with its id, not 202', async (_label, body, id) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id, error: { code: -32600 } });
    });

    it('a batch gets one answer per request', async () => {
      const res = await request(t.url)
        .post(MCP_PATH)
        .send([
          { jsonrpc: '2.0', id: 1, method: 'ping' },
          call(2, 'get_service_details', { service_id: 'full_membership' }),
        ]);
      expect(res.status).toBe(200);
      const answers = (Array.isArray(res.body) ? res.body : [res.body]) as Array<{ id: number }>;
      expect(answers.map((a) => a.id).sort()).toEqual([1, 2]);
    });

    it('a batch answers each valid request and each invalid message with its id', async () => {
      const res = await post([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', id: 2, method: 'ping', extra: 1 },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        'junk',
      ]);
      expect(res.status).toBe(200);
      const answers = res.body as Answer[];
      expect(answers.map((a) => a.id)).toEqual([1, 2, 3, null]);
      expect(answers[0]!.result).toEqual({});
      expect(answers[1]!.error?.code).toBe(-32600);
      expect(answers[2]!.result).toBeDefined();
      expect(answers[3]!.error?.code).toBe(-32600);
    });

    it('a notification alone is accepted with 202', async () => {
      const res = await request(t.url).post(MCP_PATH).send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(res.status).toBe(202);
    });

    it('responses and notifications the SDK accepts get 202 (an error response may lack its id)', async () => {
      for (const message of [
        { jsonrpc: '2.0', error: { code: -1, message: 'x' } },
        { jsonrpc: '2.0', id: 'x', result: {} },
        { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
      ]) {
        expect((await post(message)).status).toBe(202);
      }
    });
  });
});
