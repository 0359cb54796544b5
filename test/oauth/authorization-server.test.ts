// The authorization server over raw HTTP: metadata, registration, /authorize checks, the token
// endpoint's refusals (PKCE, replay, redirect URI, resource), access tokens at the MCP endpoint,
// refresh rotation and revocation.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  authorizeByHand,
  authorizeUrl,
  exchangeCode,
  FormBrowser,
  mcpCall,
  pkce,
  registerClient,
  signInAndConsent,
  signWithServiceKey,
  tokenRequest,
} from './support.js';

const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('OAuth authorization server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000' });
  });
  afterAll(() => t.close());

  describe('metadata', () => {
    it('serves RFC 8414 metadata with this service as issuer, S256 only, public clients', async () => {
      const res = await fetch(`${t.url}/.well-known/oauth-authorization-server`);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const m = (await res.json()) as Record<string, unknown>;
      expect(m).toMatchObject({
        issuer: t.url,
        authorization_endpoint: `${t.url}/authorize`,
        token_endpoint: `${t.url}/token`,
        registration_endpoint: `${t.url}/register`,
        revocation_endpoint: `${t.url}/revoke`,
        jwks_uri: `${t.url}/.well-known/jwks.json`,
        code_challenge_methods_supported: ['S256'],
        client_id_metadata_document_supported: true,
        authorization_response_iss_parameter_supported: true,
        grant_types_supported: ['authorization_code', 'refresh_token'],
        response_types_supported: ['code'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    });

    it('names this service as the authorization server in the protected-resource metadata, at both addresses', async () => {
      for (const path of ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${MCP_PATH}`]) {
        const m = (await (await fetch(`${t.url}${path}`)).json()) as Record<string, unknown>;
        expect(m).toMatchObject({ resource: t.mcpUrl, authorization_servers: [t.url], bearer_methods_supported: ['header'] });
      }
    });

    it('publishes the public signing key only', async () => {
      const { keys } = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
      expect(keys[0]!.d).toBeUndefined();
    });
  });

  describe('registration', () => {
    it('registers assistants as public clients, even when they ask for a secret', async () => {
      const res = await fetch(`${t.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'ChatGPT', redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'], token_endpoint_auth_method: 'client_secret_post' }),
      });
      expect(res.status).toBe(201);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ client_id: expect.any(String), token_endpoint_auth_method: 'none', client_name: 'ChatGPT' });
      expect(body.client_secret).toBeUndefined();
      const { rows } = await t.service.db.query<{ metadata: Record<string, unknown> }>('SELECT metadata FROM oauth_clients WHERE client_id = $1', [body.client_id]);
      expect(rows[0]!.metadata.redirect_uris).toEqual(['https://chatgpt.com/connector_platform_oauth_redirect']);
    });

    it.each([
      ['plain http to a public host', ['http://evil.example/cb']],
      ['a fragment', ['https://assistant.example/cb#x']],
      ['no redirect URI', []],
      ['javascript:', ['javascript:alert(1)']],
    ])('refuses %s', async (_label, uris) => {
      const res = await fetch(`${t.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: uris }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    });
  });

  describe('/authorize', () => {
    it('refuses an unknown client or an unregistered redirect URI without redirecting', async () => {
      const { challenge } = pkce();
      const unknown = await fetch(authorizeUrl(t, { clientId: 'nope', redirectUri: 'https://a.example/cb', challenge }), { redirect: 'manual' });
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: string }).error).toBe('invalid_client');

      const client = await registerClient(t, ['https://assistant.example/callback']);
      for (const uri of ['https://assistant.example/callback/other', 'https://assistant.example:8443/callback', 'https://evil.example/callback']) {
        const res = await fetch(authorizeUrl(t, { clientId: client.client_id, redirectUri: uri, challenge }), { redirect: 'manual' });
        expect(res.status, uri).toBe(400);
      }
    });

    it('lets a loopback redirect URI differ in port only (RFC 8252)', async () => {
      const client = await registerClient(t, ['http://127.0.0.1:7777/oauth/callback']);
      const { challenge } = pkce();
      const ok = await fetch(authorizeUrl(t, { clientId: client.client_id, redirectUri: 'http://127.0.0.1:51234/oauth/callback', challenge }), { redirect: 'manual' });
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toMatch(/^\/oauth\/sign-in\?request=/);
      for (const uri of ['http://127.0.0.1:51234/other', 'http://localhost:7777/oauth/callback']) {
        const res = await fetch(authorizeUrl(t, { clientId: client.client_id, redirectUri: uri, challenge }), { redirect: 'manual' });
        expect(res.status, uri).toBe(400);
      }
    });

    const invalidRequests = (clientId: string, redirectUri: string) => {
      const { challenge } = pkce();
      const base = { clientId, redirectUri, challenge, state: 's1' };
      const without = (name: string) => {
        const u = new URL(authorizeUrl(t, base));
        u.searchParams.delete(name);
        return u.href;
      };
      const responseType = new URL(authorizeUrl(t, base));
      responseType.searchParams.set('response_type', 'token');
      // [url, error, whether `state` comes back: the SDK's handler answers a malformed request
      // (method "plain", no challenge, another response_type) before it has read `state`]
      return [
        [authorizeUrl(t, { ...base, method: 'plain' }), 'invalid_request', false],
        [authorizeUrl(t, { ...base, challenge: 'too-short' }), 'invalid_request', true],
        [without('code_challenge'), 'invalid_request', false],
        [responseType.href, 'invalid_request', false],
        [authorizeUrl(t, { ...base, resource: 'https://other.example/mcp' }), 'invalid_target', true],
        [authorizeUrl(t, { ...base, resource: `${t.url}/admin/rate-limit` }), 'invalid_target', true],
      ] as const;
    };

    it('answers an invalid request with an error page, never a redirect to a URI no user has approved', async () => {
      // Anyone can register any https redirect URI: an automatic redirect there is an open redirect.
      const redirectUri = 'https://evil.example/cb';
      const client = await registerClient(t, [redirectUri]);
      for (const [url] of invalidRequests(client.client_id, redirectUri)) {
        const res = await fetch(url, { redirect: 'manual' });
        expect(res.status, url).toBe(400);
        expect(res.headers.get('location'), url).toBeNull();
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await res.text()).toContain('Sign-in request not valid');
      }
      // The same from a browser that answered the consent page for another client.
      const other = await authorizeByHand(t, 'other-client@example.com');
      const [url] = invalidRequests(client.client_id, redirectUri)[0]!;
      const visit = await other.browser.visit(url);
      expect(visit.status).toBe(400);
      expect(visit.location).toBeUndefined();
    });

    it('redirects errors to the client once this browser’s user answered the consent page for it', async () => {
      const a = await authorizeByHand(t, 'errors-back@example.com');
      for (const [url, error, stateEchoed] of invalidRequests(a.client.client_id, a.redirectUri)) {
        const res = await a.browser.visit(url);
        expect(res.status, url).toBe(302);
        const back = new URL(res.location!);
        expect(`${back.origin}${back.pathname}`).toBe(a.redirectUri);
        expect(back.searchParams.get('error')).toBe(error);
        // RFC 9207: an error response names its issuer too.
        expect(back.searchParams.get('iss')).toBe(t.url);
        if (stateEchoed) expect(back.searchParams.get('state')).toBe('s1');
      }
      // The browser cookie that proves it reaches /authorize (and the pages), nothing else.
      const fresh = await fetch(authorizeUrl(t, { clientId: a.client.client_id, redirectUri: a.redirectUri, challenge: pkce().challenge }), { redirect: 'manual' });
      expect(fresh.headers.getSetCookie().map((c) => /Path=([^;]+)/.exec(c)?.[1]).sort()).toEqual(['/authorize', '/oauth']);
    });
  });

  describe('/token', () => {
    it('exchanges a code once for an access token bound to the MCP endpoint', async () => {
      const a = await authorizeByHand(t, 'first@example.com');
      expect(a.back.searchParams.get('state')).toBe('xyz');
      const res = await exchangeCode(t, a);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'esim', refresh_token: expect.stringMatching(/^dotm_rt_/) });
      const claims = decode(res.body.access_token as string);
      expect(claims).toMatchObject({ iss: t.url, aud: t.mcpUrl, sub: uidForEmail('first@example.com'), client_id: a.client.client_id, scope: 'esim' });
      expect(claims.email).toBeUndefined();
      expect((await mcpCall(t, res.body.access_token as string)).status).toBe(200);

      // Codes and refresh tokens are kept only as hashes.
      const dump = JSON.stringify((await t.service.db.query('SELECT * FROM oauth_codes')).rows) + JSON.stringify((await t.service.db.query('SELECT * FROM oauth_refresh_tokens')).rows);
      expect(dump).not.toContain(a.code);
      expect(dump).not.toContain(res.body.refresh_token as string);
    });

    it('refuses a wrong or missing code_verifier (PKCE)', async () => {
      const a = await authorizeByHand(t, 'pkce@example.com');
      const wrong = await exchangeCode(t, { ...a, verifier: pkce().verifier });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
      const missing = await tokenRequest(t, { grant_type: 'authorization_code', client_id: a.client.client_id, code: a.code, redirect_uri: a.redirectUri });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toBe('invalid_request');
    });

    it('refuses a replayed code and ends what the first exchange issued', async () => {
      const a = await authorizeByHand(t, 'replay@example.com');
      const first = await exchangeCode(t, a);
      expect(first.status).toBe(200);
      const second = await exchangeCode(t, a);
      expect(second.status).toBe(400);
      expect(second.body.error).toBe('invalid_grant');
      expect((await mcpCall(t, first.body.access_token as string)).status).toBe(401);
      const refresh = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: first.body.refresh_token as string });
      expect(refresh.body.error).toBe('invalid_grant');
      expect(t.rawLogs()).toContain('oauth code replayed');
    });

    it('racing exchanges of one code, or of one refresh token, succeed exactly once', async () => {
      const a = await authorizeByHand(t, 'race@example.com');
      const codes = await Promise.all(Array.from({ length: 5 }, () => exchangeCode(t, a)));
      expect(codes.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400]);

      const b = await authorizeByHand(t, 'race-refresh@example.com');
      const tokens = (await exchangeCode(t, b)).body;
      const refreshes = await Promise.all(
        Array.from({ length: 5 }, () => tokenRequest(t, { grant_type: 'refresh_token', client_id: b.client.client_id, refresh_token: tokens.refresh_token as string })),
      );
      expect(refreshes.filter((r) => r.status === 200)).toHaveLength(1);
      expect(refreshes.filter((r) => r.body.error === 'invalid_grant')).toHaveLength(4);
    });

    it('refuses a redirect URI other than the one authorized', async () => {
      const a = await authorizeByHand(t, 'redirect@example.com');
      const res = await exchangeCode(t, { ...a, redirectUri: 'https://assistant.example/elsewhere' });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('refuses a code presented by another client, an unknown code and an expired code', async () => {
      const a = await authorizeByHand(t, 'other@example.com');
      const other = await registerClient(t, [a.redirectUri]);
      const stolen = await exchangeCode(t, { ...a, client: other });
      expect(stolen.body.error).toBe('invalid_grant');
      expect((await exchangeCode(t, { ...a, code: 'dotm_ac_unknown' })).body.error).toBe('invalid_grant');
      // Left unused by the other client's attempt, so the rightful client still gets it.
      expect((await exchangeCode(t, a)).status).toBe(200);

      const b = await authorizeByHand(t, 'late@example.com');
      await t.service.db.query(`UPDATE oauth_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`);
      const late = await exchangeCode(t, b);
      expect(late.status).toBe(400);
      expect(late.body.error).toBe('invalid_grant');
    });

    it('refuses a resource other than the MCP endpoint', async () => {
      const a = await authorizeByHand(t, 'resource@example.com');
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: a.client.client_id,
        code: a.code,
        code_verifier: a.verifier,
        redirect_uri: a.redirectUri,
        resource: 'https://other.example/mcp',
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_target');
    });

    it('takes the service origin for the MCP endpoint (earlier Gemini CLI releases send it); the token is for the endpoint', async () => {
      const redirectUri = 'http://localhost:7777/oauth/callback';
      const client = await registerClient(t, [redirectUri], 'Gemini CLI MCP Client');
      const { verifier, challenge } = pkce();
      const back = await signInAndConsent(new FormBrowser(new URL(t.url).origin), authorizeUrl(t, { clientId: client.client_id, redirectUri, challenge, resource: t.url }), 'gemini@example.com');
      const res = await tokenRequest(t, { grant_type: 'authorization_code', client_id: client.client_id, code: back.searchParams.get('code')!, code_verifier: verifier, redirect_uri: redirectUri, resource: t.url });
      expect(res.status).toBe(200);
      expect(decode(res.body.access_token as string).aud).toBe(t.mcpUrl);
    });

    it('rotates refresh tokens: the old one stops working, and presenting it again ends the grant', async () => {
      const a = await authorizeByHand(t, 'rotate@example.com');
      const first = (await exchangeCode(t, a)).body;
      const second = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: first.refresh_token as string, resource: t.mcpUrl });
      expect(second.status).toBe(200);
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect((await mcpCall(t, second.body.access_token as string)).status).toBe(200);

      const old = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: first.refresh_token as string });
      expect(old.status).toBe(400);
      expect(old.body.error).toBe('invalid_grant');
      // The reuse looks like a leak: the current tokens end too.
      const current = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: second.body.refresh_token as string });
      expect(current.body.error).toBe('invalid_grant');
      expect((await mcpCall(t, second.body.access_token as string)).status).toBe(401);
    });

    it('refuses to refresh for another client or another resource', async () => {
      const a = await authorizeByHand(t, 'refresh-checks@example.com');
      const tokens = (await exchangeCode(t, a)).body;
      const other = await registerClient(t, [a.redirectUri]);
      const foreign = await tokenRequest(t, { grant_type: 'refresh_token', client_id: other.client_id, refresh_token: tokens.refresh_token as string });
      expect(foreign.body.error).toBe('invalid_grant');
      const target = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: tokens.refresh_token as string, resource: 'https://other.example/mcp' });
      expect(target.body.error).toBe('invalid_target');
      // Neither attempt used it up.
      const ok = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: tokens.refresh_token as string });
      expect(ok.status).toBe(200);
    });

    it('ends the grant when the Firebase account is disabled', async () => {
      const email = 'disabled@example.com';
      const a = await authorizeByHand(t, email);
      const tokens = (await exchangeCode(t, a)).body;
      const firebase = t.service.local.firebase!;
      firebase.disableUser(uidForEmail(email));
      try {
        const res = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: tokens.refresh_token as string });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_grant');
        expect((await mcpCall(t, tokens.access_token as string)).status).toBe(401);
      } finally {
        firebase.enableUser(uidForEmail(email));
      }
    });

    it('unknown grant types and clients get OAuth errors, never a 500', async () => {
      const a = await registerClient(t, ['https://assistant.example/callback']);
      const grant = await tokenRequest(t, { grant_type: 'password', client_id: a.client_id, username: 'x', password: 'y' });
      expect(grant.status).toBe(400);
      expect(grant.body.error).toBe('unsupported_grant_type');
      const client = await tokenRequest(t, { grant_type: 'refresh_token', client_id: 'nobody', refresh_token: 'dotm_rt_x' });
      expect(client.status).toBe(400);
      expect(client.body.error).toBe('invalid_client');
      const refresh = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client_id, refresh_token: 'dotm_rt_x' });
      expect(refresh.status).toBe(400);
      expect(refresh.body.error).toBe('invalid_grant');
    });
  });

  describe('access tokens at the MCP endpoint', () => {
    let base: Record<string, unknown>;
    beforeAll(async () => {
      const a = await authorizeByHand(t, 'endpoint@example.com');
      base = decode((await exchangeCode(t, a)).body.access_token as string);
    });

    const expect401 = async (token: string, reason: RegExp) => {
      const res = await mcpCall(t, token);
      expect(res.status).toBe(401);
      const header = res.headers.get('www-authenticate') ?? '';
      expect(header).toContain('error="invalid_token"');
      expect(header).toContain(`resource_metadata="${t.url}/.well-known/oauth-protected-resource${MCP_PATH}"`);
      expect(header).toMatch(reason);
    };

    it('refuses an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(await signWithServiceKey(t, { ...base, iat: now - 7200, exp: now - 60 }), /expired/);
    });

    it('refuses a token minted for another resource', async () => {
      await expect401(await signWithServiceKey(t, { ...base, aud: 'https://other.example/mcp' }), /another resource/);
    });

    it('refuses a token from another issuer key or another issuer', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT(base).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'forged' }).sign(privateKey);
      await expect401(forged, /not signed by this service/);
      await expect401(await signWithServiceKey(t, { ...base, iss: 'https://elsewhere.example' }), /not valid/);
    });

    it('refuses a token for a grant that does not exist', async () => {
      await expect401(await signWithServiceKey(t, { ...base, sid: '999999' }), /revoked/);
    });

    it('still accepts Firebase ID tokens (first-party callers and curl)', async () => {
      const res = await mcpCall(t, t.token('curl-user@example.com'));
      expect(res.status).toBe(200);
    });
  });

  describe('/revoke', () => {
    it('revoking the refresh token ends the access token too', async () => {
      const a = await authorizeByHand(t, 'revoke@example.com');
      const tokens = (await exchangeCode(t, a)).body;
      expect((await mcpCall(t, tokens.access_token as string)).status).toBe(200);
      const res = await fetch(`${t.url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: a.client.client_id, token: tokens.refresh_token as string, token_type_hint: 'refresh_token' }),
      });
      expect(res.status).toBe(200);
      const after = await mcpCall(t, tokens.access_token as string);
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toMatch(/revoked/);
      const refresh = await tokenRequest(t, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: tokens.refresh_token as string });
      expect(refresh.body.error).toBe('invalid_grant');
    });

    it('revokes by access token; another client cannot revoke; unknown tokens answer 200', async () => {
      const a = await authorizeByHand(t, 'revoke-access@example.com');
      const tokens = (await exchangeCode(t, a)).body;
      const other = await registerClient(t, [a.redirectUri]);
      const revoke = (clientId: string, token: string) =>
        fetch(`${t.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: clientId, token }) });
      expect((await revoke(other.client_id, tokens.access_token as string)).status).toBe(200);
      expect((await mcpCall(t, tokens.access_token as string)).status).toBe(200);
      expect((await revoke(a.client.client_id, 'no-such-token')).status).toBe(200);
      expect((await revoke(a.client.client_id, tokens.access_token as string)).status).toBe(200);
      expect((await mcpCall(t, tokens.access_token as string)).status).toBe(401);
    });
  });

  describe('the pages', () => {
    const start = async (name = 'Page Test') => {
      const redirectUri = 'https://assistant.example/callback';
      const client = await registerClient(t, [redirectUri], name);
      const browser = new FormBrowser(new URL(t.url).origin);
      const page = await browser.go(authorizeUrl(t, { clientId: client.client_id, redirectUri, challenge: pkce().challenge, state: 'st' }));
      const fields = Object.fromEntries([...page.html.matchAll(/name="(request|csrf)" value="([^"]+)"/g)].map((m) => [m[1], m[2]])) as { request: string; csrf: string };
      return { browser, page, fields, client };
    };

    it('the sign-in page is a plain form, with no script, framing refused', async () => {
      const { page } = await start();
      expect(page.status).toBe(200);
      expect(page.html).toContain('<form method="post" action="/oauth/sign-in">');
      expect(page.html).toContain('type="email"');
      expect(page.html).not.toContain('<script');
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(page.headers.get('cache-control')).toBe('no-store');
    });

    it('escapes the name the assistant registered', async () => {
      const { page } = await start('<img src=x onerror=alert(1)>');
      expect(page.html).not.toContain('<img src=x');
      expect(page.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    });

    it('refuses a post without the CSRF token, from another browser, or from another origin', async () => {
      const { browser, fields } = await start();
      const noCsrf = await browser.visit('/oauth/sign-in', { form: { request: fields.request, email: 'a@example.com' } });
      expect(noCsrf.status).toBe(403);
      const other = new FormBrowser(new URL(t.url).origin);
      const elsewhere = await other.visit('/oauth/sign-in', { form: { ...fields, email: 'a@example.com' } });
      expect(elsewhere.status).toBe(403);
      const res = await fetch(`${t.url}/oauth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        body: new URLSearchParams({ ...fields, email: 'a@example.com' }),
      });
      expect(res.status).toBe(403);
    });

    it('asks again for an invalid e-mail address', async () => {
      const { browser, fields } = await start();
      const res = await browser.visit('/oauth/sign-in', { form: { ...fields, email: 'not-an-address' } });
      expect(res.status).toBe(400);
      expect(res.html).toContain('Enter a valid e-mail address');
    });

    it('consent names the assistant and the user; deny sends access_denied back; the request is then finished', async () => {
      const { browser, page } = await start('Friendly Assistant');
      const consent = await browser.go('/oauth/sign-in', { form: { ...Object.fromEntries([...page.html.matchAll(/name="(request|csrf)" value="([^"]+)"/g)].map((m) => [m[1], m[2]])), email: 'deny@example.com' } });
      expect(consent.html).toContain('Friendly Assistant');
      expect(consent.html).toContain('deny@example.com');
      expect(consent.html).toContain('https://assistant.example');
      const fields = Object.fromEntries([...consent.html.matchAll(/name="(request|csrf)" value="([^"]+)"/g)].map((m) => [m[1], m[2]!]));
      const denied = await browser.visit('/oauth/consent', { form: { ...fields, decision: 'deny' } });
      expect(denied.status).toBe(303);
      const back = new URL(denied.location!);
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe('st');
      expect(back.searchParams.get('code')).toBeNull();
      const again = await browser.visit('/oauth/consent', { form: { ...fields, decision: 'allow' } });
      expect(again.status).toBe(400);
    });

    it('a sign-in page that has expired says so', async () => {
      const { browser, fields } = await start();
      await t.service.db.query(`UPDATE oauth_authorization_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [fields.request]);
      const res = await browser.visit(`/oauth/sign-in?request=${fields.request}`);
      expect(res.status).toBe(400);
      expect(res.html).toContain('expired');
    });
  });

  it('signing in registers the user with a verified address, logged masked', async () => {
    const browser = new FormBrowser(new URL(t.url).origin);
    const client = await registerClient(t, ['https://assistant.example/callback']);
    await signInAndConsent(browser, authorizeUrl(t, { clientId: client.client_id, redirectUri: 'https://assistant.example/callback', challenge: pkce().challenge }), 'New.Person@Example.com');
    const { rows } = await t.service.db.query<{ email: string; email_verified: boolean }>('SELECT email, email_verified FROM users WHERE firebase_uid = $1', [
      uidForEmail('new.person@example.com'),
    ]);
    expect(rows[0]).toEqual({ email: 'new.person@example.com', email_verified: true });
    expect(t.rawLogs()).toContain('n***@example.com');
    expect(t.rawLogs()).not.toContain('new.person@example.com');
  });
});
