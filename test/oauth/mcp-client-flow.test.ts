// The whole MCP authorization dance with the SDK client's own OAuth support, as an assistant does it:
// 401 → protected-resource metadata → authorization-server metadata → dynamic registration →
// /authorize (the pages, over HTTP) → code → tokens → activate_esim as the signed-in user; then an
// expired access token is refreshed by the client on its own, and the rotated-out refresh token is dead.
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userStore } from '../../src/identity/user-store.js';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { FormBrowser, MemoryOAuthClient, signInAndConsent, signWithServiceKey, tokenRequest } from './support.js';

describe('MCP authorization with the SDK client', () => {
  let t: TestApp;
  const email = 'traveller@example.com';
  const provider = new MemoryOAuthClient('http://localhost:8765/oauth/callback', 'Gemini CLI (test)');
  let client: Client;
  let transport: StreamableHTTPClientTransport;

  beforeAll(async () => {
    t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000' });
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await t.close();
  });

  it('discovers, registers, signs in through the pages and calls activate_esim as the user', async () => {
    transport = new StreamableHTTPClientTransport(new URL(t.mcpUrl), { authProvider: provider });
    client = new Client({ name: 'assistant', version: '1.0.0' });
    await client.connect(transport);
    // The catalogue needs no sign-in.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);

    // activate_esim does: the 401 starts discovery, registration and the authorization request.
    await expect(client.callTool({ name: 'activate_esim', arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.info?.client_id).toMatch(/.+/);
    expect((provider.info as { client_secret?: string }).client_secret).toBeUndefined();
    const url = provider.authorizationUrl!;
    expect(`${url.origin}${url.pathname}`).toBe(`${t.url}/authorize`);
    expect(url.searchParams.get('resource')).toBe(t.mcpUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');

    const back = await signInAndConsent(new FormBrowser(new URL(t.url).origin), url, email);
    expect(`${back.origin}${back.pathname}`).toBe('http://localhost:8765/oauth/callback');
    expect(back.searchParams.get('state')).toBe(url.searchParams.get('state'));
    expect(back.searchParams.get('iss')).toBe(t.url);
    const code = back.searchParams.get('code')!;
    expect(code).toMatch(/^dotm_ac_/);

    await transport.finishAuth(code);
    expect(provider.saved).toMatchObject({ token_type: expect.stringMatching(/bearer/i), scope: 'esim' });
    expect(provider.saved!.refresh_token).toMatch(/^dotm_rt_/);

    const result = await client.callTool({ name: 'activate_esim', arguments: {} });
    // The call reached the tool as the signed-in user (its outcome depends on billing, built elsewhere).
    expect(result.content).toBeDefined();
    const user = await userStore.byUid(t.service.db, uidForEmail(email));
    expect(user).toMatchObject({ email, email_verified: true });
    const text = JSON.stringify(result);
    expect(text).not.toMatch(/Sign in first|Sign-in required/);

    const logs = t.rawLogs();
    expect(logs).toContain('oauth tokens issued');
    expect(logs).not.toContain(code);
    expect(logs).not.toContain(provider.saved!.access_token);
    expect(logs).not.toContain(email);
  });

  it('refreshes an expired access token by itself, and the old refresh token stops working', async () => {
    const before = provider.saved!;
    // What the client holds now: an access token past its expiry.
    const claims = JSON.parse(Buffer.from(before.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    provider.saved = { ...before, access_token: await signWithServiceKey(t, { ...claims, iat: now - 7200, exp: now - 3600 }) };

    const result = await client.callTool({ name: 'search_services', arguments: { query: 'Global Data eSIM' } });
    expect(result.isError).toBeFalsy();
    const again = await client.callTool({ name: 'activate_esim', arguments: {} });
    expect(JSON.stringify(again)).not.toMatch(/Sign in first|Sign-in required/);
    expect(provider.saved!.access_token).not.toBe(before.access_token);
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token);

    const old = await tokenRequest(t, { grant_type: 'refresh_token', client_id: provider.info!.client_id, refresh_token: before.refresh_token! });
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_grant');
  });
});
