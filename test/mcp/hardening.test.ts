// The MCP endpoint against hostile and unlucky callers: nobody can cancel someone else's request,
// every request gets one answer within a deadline, and shutdown ends what is in flight. The
// envelope (every message that carries an id is answered, never an empty 202) is in contract.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { sleep, waitUntil } from '../support/time.js';


interface Answer {
  jsonrpc: string;
  id: string | number | null;
  result?: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ text: string }> };
  error?: { code: number; message: string };
}

async function post(t: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(t.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const activate = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'activate_esim', arguments: {} } });

const until = (check: () => boolean, what: string, timeoutMs = 10_000) => waitUntil(check, { what, timeoutMs, intervalMs: 10 });

describe('requests in flight', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { overrides: { startWorkers: false } });
  });
  afterAll(() => t.close());

  it('a batch of 100 notifications/cancelled for r1..r100 does not stop another caller’s activate_esim', async () => {
    // Stripe answers slowly, so the legitimate call is in flight while the attacker sends.
    t.service.local.stripe!.injectFailure({ path: /^\/v1\//, mode: 'timeout', delayMs: 1_500, times: 1 });
    let settled = false;
    const legit = post(t, activate(42), { authorization: `Bearer ${t.token('cancel.victim@example.com')}` }).finally(() => (settled = true));
    const cancellations = Array.from({ length: 100 }, (_, i) => ({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: `r${i + 1}`, reason: 'attack' },
    }));
    // Without a token, repeatedly, while the call is running.
    for (let i = 0; i < 10 && !settled; i++) {
      const attack = await post(t, cancellations);
      expect(attack.status).toBe(202);
      await sleep(100);
    }
    const answer = await legit;
    expect(answer.status).toBe(200);
    const body = answer.body as Answer;
    expect(body.id).toBe(42);
    expect(body.result?.isError).toBeFalsy();
    expect(body.result?.structuredContent?.status).toBeDefined();
  }, 20_000);

  it('a caller who hangs up is forgotten too', async () => {
    t.service.local.stripe!.injectFailure({ path: /^\/v1\//, mode: 'timeout', delayMs: 1_000, times: 1 });
    const hangUp = new AbortController();
    const call = fetch(t.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token('hangup@example.com')}` },
      body: JSON.stringify(activate(1)),
      signal: hangUp.signal,
    }).catch(() => 'aborted');
    await until(() => t.service.mcp.inFlight() === 1, 'the call to be in flight');
    hangUp.abort();
    expect(await call).toBe('aborted');
    await until(() => t.service.mcp.inFlight() === 0, 'the call to be forgotten');
    // The abandoned call goes on in the background; let it end before the app closes.
    await sleep(1_200);
  }, 20_000);
});

describe('deadline', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MCP_REQUEST_TIMEOUT_MS: '300' }, { overrides: { startWorkers: false } });
  });
  afterAll(() => t.close());

  it('a call that does not finish in MCP_REQUEST_TIMEOUT_MS is answered with a JSON-RPC error and forgotten', async () => {
    t.service.local.stripe!.injectFailure({ path: /^\/v1\//, mode: 'timeout', delayMs: 1_500, times: 1 });
    const res = await post(t, activate('slow-1'), { authorization: `Bearer ${t.token('deadline@example.com')}` });
    expect(res.status).toBe(200);
    const body = res.body as Answer;
    expect(body.id).toBe('slow-1');
    expect(body.error?.code).toBe(-32001);
    expect(body.error?.message).toMatch(/took too long/);
    expect(t.service.mcp.inFlight()).toBe(0);
    // The abandoned call goes on in the background; let it end before the app closes.
    await sleep(1_500);
  }, 20_000);
});

describe('shutdown with a request in flight', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SHUTDOWN_GRACE_MS: '100' }, { overrides: { startWorkers: false } });
  });
  afterAll(() => t.close());

  it('answers the request with an error and completes', async () => {
    t.service.local.stripe!.injectFailure({ path: /^\/v1\//, mode: 'timeout', delayMs: 8_000, times: 1 });
    const call = post(t, activate(5), { authorization: `Bearer ${t.token('shutdown@example.com')}` });
    await until(() => t.service.mcp.inFlight() === 1, 'the call to be in flight');
    await t.service.shutdown();
    const res = await call;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 5, error: { code: -32000, message: expect.stringMatching(/restarting/) } });
  }, 20_000);
});
