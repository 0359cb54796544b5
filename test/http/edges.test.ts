// The HTTP edge as an attacker or a broken client meets it: bodies that cannot be decoded, and
// forwarded addresses behind the load balancer.
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { authorizeUrl, pkce, registerClient } from '../oauth/support.js';

/** A raw POST: fetch refuses to send a Content-Encoding it did not produce itself, node:http does not. */
function post(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const garbage = Buffer.from('this is not a compressed stream at all, just bytes \x00\x01\x02\xff', 'latin1');

describe('request bodies that cannot be decoded', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000' });
  });
  afterAll(() => t.close());

  const routes = [
    { path: MCP_PATH, type: 'application/json', format: 'json-rpc' },
    { path: '/token', type: 'application/x-www-form-urlencoded', format: 'oauth' },
    { path: '/register', type: 'application/json', format: 'oauth' },
    { path: '/oauth/consent', type: 'application/x-www-form-urlencoded', format: 'html' },
    { path: '/webhooks/stripe', type: 'application/json', format: 'json' },
  ] as const;

  const expectFormat = (format: (typeof routes)[number]['format'], res: { headers: Record<string, unknown>; text: string }) => {
    if (format === 'html') {
      expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
      return;
    }
    const body = JSON.parse(res.text) as Record<string, unknown>;
    if (format === 'json-rpc') {
      expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: expect.any(Number), message: expect.any(String) } });
    } else if (format === 'oauth') {
      expect(body).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
    } else {
      expect(body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
  };

  const errorLines = () => t.logs.filter((l) => l.level === 'error' || l.level === 'fatal');

  it('answers a corrupt gzip or brotli body with 400 in the route’s own error format, logged as a warning', async () => {
    for (const route of routes) {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await post(`${t.url}${route.path}`, garbage, { 'content-type': route.type, 'content-encoding': encoding, origin: t.url });
        expect(res.status, `${encoding} ${route.path}`).toBe(400);
        expectFormat(route.format, res);
        if (route.format === 'json-rpc') expect((JSON.parse(res.text) as { error: { code: number } }).error.code).toBe(-32700);
      }
    }
    expect(errorLines()).toEqual([]);
    expect(t.logs.some((l) => l.level === 'warn' && l.msg === 'request body could not be read')).toBe(true);
  });

  it('answers an unknown Content-Encoding with 415', async () => {
    for (const route of routes) {
      for (const encoding of ['foo', 'gzip, foo']) {
        const res = await post(`${t.url}${route.path}`, garbage, { 'content-type': route.type, 'content-encoding': encoding, origin: t.url });
        expect(res.status, `${encoding} ${route.path}`).toBe(415);
        expectFormat(route.format, res);
      }
    }
    expect(errorLines()).toEqual([]);
  });

  it('still reads a well-formed gzip body', async () => {
    const body = gzipSync(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }));
    const res = await post(t.mcpUrl, body, { 'content-type': 'application/json', accept: 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ jsonrpc: '2.0', id: 7, result: {} });
  });
});

describe('TRUST_PROXY behind one load balancer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: 'true', OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '4' });
  });
  afterAll(() => t.close());

  // The test plays the load balancer: it keeps what the client sent and appends the address it saw.
  const viaProxy = (url: string, clientSays: string, clientIs: string) =>
    fetch(url, { redirect: 'manual', headers: { 'x-forwarded-for': `${clientSays}, ${clientIs}` } });

  it('counts the address the load balancer appended, not the one the client wrote', async () => {
    const redirectUri = 'https://assistant.example/callback';
    const client = await registerClient(t, [redirectUri]);
    const url = () => authorizeUrl(t, { clientId: client.client_id, redirectUri, challenge: pkce().challenge });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await viaProxy(url(), `1.2.3.${i}`, '203.0.113.9')).status);
    expect(statuses).toEqual([303, 303, 303, 303, 429, 429]);
    // Another real address is not held back by the first one.
    expect((await viaProxy(url(), '1.2.3.4', '203.0.113.10')).status).toBe(303);
  });
});
