// The endpoint itself, as raw HTTP: what curl, simple clients and browsers see.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';

const call = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('POST /mcp/v2/messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ALLOWED_ORIGINS: 'https://chatgpt.com,https://gemini.google.com' });
  });
  afterAll(() => t.close());

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
    expect(list.body.result.tools).toHaveLength(5);
    const init = await request(t.url)
      .post(MCP_PATH)
      .send({ jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } });
    expect(init.status).toBe(200);
    expect(init.body.result.serverInfo.name).toBe('dotm');
    expect(init.body.result.instructions).toContain('Global Data eSIM');
    expect(init.headers['mcp-session-id']).toBeUndefined();
  });

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

  it('a notification alone is accepted with 202', async () => {
    const res = await request(t.url).post(MCP_PATH).send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(res.status).toBe(202);
  });

  it('invalid tool arguments → a tool error naming the argument', async () => {
    const res = await request(t.url).post(MCP_PATH).send(call(4, 'calculate_pricing', { service_ids: 'basic_membership' }));
    expect(res.body.result.isError).toBe(true);
    expect(res.body.result.content[0].text).toContain('service_ids');
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

  it('health, readiness and Prometheus metrics by route and tool', async () => {
    expect((await request(t.url).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(t.url).get('/readyz')).body).toMatchObject({ status: 'ready' });
    const metrics = await request(t.url).get('/metrics');
    expect(metrics.text).toMatch(/http_requests_total\{method="POST",route="\/mcp\/v2\/messages",status="200"\} \d+/);
    expect(metrics.text).toMatch(/mcp_tool_calls_total\{tool="calculate_pricing",outcome="ok"\} \d+/);
    expect(metrics.text).toContain('mcp_tool_duration_seconds_bucket');
  });

  it('every request log line carries a request id, echoed in X-Request-Id', async () => {
    const res = await request(t.url).post(MCP_PATH).set('x-request-id', 'req-abc-123').send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    const line = t.logs.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-abc-123');
    expect(line).toBeDefined();
  });
});

describe('the /mcp alias', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves the same endpoint at /mcp (clients such as the Inspector CLI rewrite paths to it)', async () => {
    const res = await request(t.url).post('/mcp').send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(200);
    expect(res.body.result.tools).toHaveLength(5);
    const get = await request(t.url).get('/mcp');
    expect(get.status).toBe(405);
  });
});
