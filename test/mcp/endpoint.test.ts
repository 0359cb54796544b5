// Around the endpoint: health, readiness, metrics and request ids. The endpoint's own contract is
// in contract.test.ts.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';

describe('beside POST /mcp/v2/messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('health, readiness and Prometheus metrics by route and tool', async () => {
    // One successful tool call, so the metrics have a route and a tool to show.
    await request(t.url)
      .post(MCP_PATH)
      .send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'calculate_pricing', arguments: { service_ids: ['beta_esim_activation'] } } })
      .expect(200);
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
