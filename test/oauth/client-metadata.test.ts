// Client ID Metadata Documents end to end: the SDK client's own `clientMetadataUrl` support signs a
// user in with its document's URL as client_id (metadata → /authorize → pages → code → tokens →
// refresh → revocation), and every document this server must not trust is refused at /authorize
// with an error page (no redirect to a URI nobody verified), a clear OAuth error, and nothing stored.
// The documents are served over https with a self-signed certificate the service trusts through
// NODE_EXTRA_CA_CERTS.
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startDocumentServer, type DocumentServer } from './metadata-documents.js';
import { authorizeUrl, FormBrowser, hiddenFields, MemoryOAuthClient, pkce, tokenRequest } from './support.js';

/** An assistant that publishes its client metadata document (the SDK uses it when the server advertises support). */
class DocumentClient extends MemoryOAuthClient {
  constructor(
    readonly clientMetadataUrl: string,
    redirectUrl: string,
  ) {
    super(redirectUrl, 'Metadata Assistant');
  }
}

const unescape = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('Client ID Metadata Documents', () => {
  let docs: DocumentServer;
  let t: TestApp;

  beforeAll(async () => {
    docs = await startDocumentServer();
    t = await startTestApp({
      OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000',
      OAUTH_CLIENT_METADATA_FETCHES_PER_IP_PER_MINUTE: '1000',
      OAUTH_CLIENT_METADATA_TIMEOUT_MS: '2500',
      OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS: '0',
      NODE_EXTRA_CA_CERTS: docs.caFile,
    });
  });
  afterAll(async () => {
    await t?.close();
    await docs?.close();
  });

  const stored = async (clientId: string) => {
    const clients = await t.service.db.query('SELECT 1 FROM oauth_clients WHERE client_id = $1', [clientId]);
    const requests = await t.service.db.query('SELECT 1 FROM oauth_authorization_requests WHERE client_id = $1', [clientId]);
    return clients.rows.length + requests.rows.length;
  };
  const authorize = (clientId: string, redirectUri = 'https://assistant.example/callback') =>
    fetch(authorizeUrl(t, { clientId, redirectUri, challenge: pkce().challenge, state: 's1' }), { redirect: 'manual' });

  it('advertises metadata documents and `iss` in authorization responses', async () => {
    const m = (await (await fetch(`${t.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(m).toMatchObject({ client_id_metadata_document_supported: true, authorization_response_iss_parameter_supported: true, token_endpoint_auth_methods_supported: ['none'] });
  });

  describe('with the SDK client', () => {
    const redirectUri = 'http://localhost:8765/oauth/callback';
    const path = '/sdk/client.json';
    let provider: DocumentClient;
    let client: Client;

    beforeAll(() => {
      const id = docs.url(path);
      docs.serve(path, {
        headers: { 'cache-control': 'public, max-age=600' },
        body: {
          client_id: id,
          client_name: 'Metadata Assistant',
          client_uri: 'https://assistant.example/',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      });
      provider = new DocumentClient(id, redirectUri);
    });
    afterAll(() => client?.close().catch(() => {}));

    it('signs in with the document URL as client_id, then calls activate_esim as the user', async () => {
      const transport = new StreamableHTTPClientTransport(new URL(t.mcpUrl), { authProvider: provider });
      client = new Client({ name: 'assistant', version: '1.0.0' });
      await client.connect(transport);
      await expect(client.callTool({ name: 'activate_esim', arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
      // No registration: the URL is the client_id.
      expect(provider.info?.client_id).toBe(docs.url(path));
      const url = provider.authorizationUrl!;
      expect(url.searchParams.get('client_id')).toBe(docs.url(path));

      const browser = new FormBrowser(new URL(t.url).origin);
      const signIn = await browser.go(url.href);
      expect(signIn.status).toBe(200);
      expect(signIn.html).toContain('Metadata Assistant');
      const consent = await browser.go('/oauth/sign-in', { form: { ...hiddenFields(signIn.html), email: 'cimd.user@example.com' } });
      expect(consent.url).toContain('/oauth/consent');
      // The document's name, where the answer goes, and who publishes the document.
      expect(consent.html).toContain('Allow Metadata Assistant to use DOTM for you?');
      expect(consent.html).toContain('<code>http://localhost:8765</code>');
      expect(consent.html).toContain(`publishes at <code>localhost:${docs.port}</code>`);
      const answer = await browser.visit('/oauth/consent', { form: { ...hiddenFields(consent.html), decision: 'allow' } });
      expect(answer.status).toBe(303);
      const back = new URL(answer.location!);
      expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
      expect(back.searchParams.get('iss')).toBe(t.url);
      expect(back.searchParams.get('state')).toBe(url.searchParams.get('state'));

      await transport.finishAuth(back.searchParams.get('code')!);
      expect(provider.saved?.refresh_token).toMatch(/^dotm_rt_/);
      const result = await client.callTool({ name: 'activate_esim', arguments: {} });
      expect(JSON.stringify(result)).not.toMatch(/Sign in first|Sign-in required/);

      // Fetched once; kept as the client the user consented to.
      expect(docs.hits(path)).toBe(1);
      const { rows } = await t.service.db.query<{ metadata: Record<string, unknown>; last_used_at: Date | null }>(
        'SELECT metadata, last_used_at FROM oauth_clients WHERE client_id = $1',
        [docs.url(path)],
      );
      expect(rows[0]!.metadata).toMatchObject({ client_name: 'Metadata Assistant', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      expect(rows[0]!.metadata.client_secret).toBeUndefined();
      expect(rows[0]!.last_used_at).not.toBeNull();
    });

    it('refreshes and revokes with the URL client_id, as a public client', async () => {
      const clientId = docs.url(path);
      const refreshed = await tokenRequest(t, { grant_type: 'refresh_token', client_id: clientId, refresh_token: provider.saved!.refresh_token! });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.refresh_token).toMatch(/^dotm_rt_/);
      const claims = JSON.parse(Buffer.from(String(refreshed.body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ client_id: clientId, iss: t.url, aud: t.mcpUrl });

      // Another client may not use its refresh token.
      const foreign = await tokenRequest(t, { grant_type: 'refresh_token', client_id: `${clientId}x`, refresh_token: String(refreshed.body.refresh_token) });
      expect(foreign.status).toBe(400);
      expect(foreign.body.error).toBe('invalid_client');

      const revoked = await fetch(`${t.url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, token: String(refreshed.body.refresh_token) }),
      });
      expect(revoked.status).toBe(200);
      const after = await tokenRequest(t, { grant_type: 'refresh_token', client_id: clientId, refresh_token: String(refreshed.body.refresh_token) });
      expect(after.body.error).toBe('invalid_grant');
      // /token and /revoke read the stored client: the document was not fetched again.
      expect(docs.hits(path)).toBe(1);
    });
  });

  it('fetches a document once while its caching headers allow, however many requests arrive at once', async () => {
    const path = '/cached/client.json';
    const id = docs.serveDocument(path, {}, { 'cache-control': 'max-age=600' });
    const answers = await Promise.all(Array.from({ length: 6 }, () => authorize(id)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(303));
    expect((await authorize(id)).status).toBe(303);
    expect(docs.hits(path)).toBe(1);
  });

  it('fetches a document without caching headers again, and keeps the client as it is published now', async () => {
    // This app's lower bound is 0 s: a document without caching headers is not reused.
    const path = '/renamed/client.json';
    const id = docs.serveDocument(path, { client_name: 'Old Name' });
    const nameStored = async () =>
      (await t.service.db.query<{ name: string }>(`SELECT metadata->>'client_name' AS name FROM oauth_clients WHERE client_id = $1`, [id])).rows[0]?.name;
    expect((await authorize(id)).status).toBe(303);
    expect(await nameStored()).toBe('Old Name');
    docs.serveDocument(path, { client_name: 'New Name' });
    expect((await authorize(id)).status).toBe(303);
    expect(await nameStored()).toBe('New Name');
    expect(docs.hits(path)).toBe(2);
  });

  describe('refuses, with an error page and nothing stored,', () => {
    const large = { client_name: 'Big', padding: 'x'.repeat(6000) };
    const cases: Array<[string, (path: string) => { clientId: string; redirectUri?: string }, string, RegExp]> = [
      [
        'a document whose client_id differs from its URL',
        (path) => {
          docs.serveDocument(path, { client_id: docs.url('/someone-else.json') });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /its client_id \("https:\/\/localhost:\d+\/someone-else.json"\) is not the URL it was fetched from/,
      ],
      [
        'a redirect_uri the document does not list',
        (path) => ({ clientId: docs.serveDocument(path), redirectUri: 'https://evil.example/callback' }),
        'invalid_request',
        /redirect_uri is not one of the redirect_uris in the client metadata document/,
      ],
      [
        'a redirect_uri that differs from a listed one in the port only',
        (path) => ({ clientId: docs.serveDocument(path, { redirect_uris: ['http://127.0.0.1:7777/cb'] }), redirectUri: 'http://127.0.0.1:7778/cb' }),
        'invalid_request',
        /compared exactly/,
      ],
      [
        'a document that redirects',
        (path) => {
          docs.serveDocument(`${path}/target`);
          docs.serve(path, { status: 302, headers: { location: docs.url(`${path}/target`) } });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /answered with a redirect \(HTTP 302\); redirects are not followed/,
      ],
      [
        'a document larger than the cap',
        (path) => ({ clientId: docs.serveDocument(path, large) }),
        'invalid_client',
        /it is larger than 5120 bytes/,
      ],
      [
        'a document larger than the cap, sent without a length',
        (path) => {
          const body = JSON.stringify({ client_id: docs.url(path), redirect_uris: ['https://assistant.example/callback'], ...large });
          docs.serve(path, { chunks: [body.slice(0, 3000), body.slice(3000)] });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /it is larger than 5120 bytes/,
      ],
      [
        'a document that never arrives',
        (path) => {
          docs.serve(path, { hang: true });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /it did not answer within 2500 ms/,
      ],
      [
        'a client_id URL that is not https',
        (path) => ({ clientId: `http://localhost:${docs.port}${path}` }),
        'invalid_client',
        /a client metadata document URL must use https/,
      ],
      [
        'a document on a private address',
        () => ({ clientId: 'https://10.0.0.1/client.json' }),
        'invalid_client',
        /it is on a private address, which this server does not fetch from/,
      ],
      [
        'a document on the cloud metadata address',
        () => ({ clientId: 'https://169.254.169.254/latest/meta-data/client.json' }),
        'invalid_client',
        /linkLocal address/,
      ],
      [
        'a client_id URL without a path',
        () => ({ clientId: `${docs.origin}/` }),
        'invalid_client',
        /must have a path/,
      ],
      [
        'a client_id URL with a user name',
        (path) => ({ clientId: `https://user@localhost:${docs.port}${path}` }),
        'invalid_client',
        /must not contain a user name or password/,
      ],
      [
        'a client_id URL not in normal form',
        (path) => ({ clientId: `https://localhost:${docs.port}/x/..${path}` }),
        'invalid_client',
        /must be written in normal form/,
      ],
      [
        'a document not served as JSON',
        (path) => {
          docs.serve(path, { headers: { 'content-type': 'text/html' }, body: '<html></html>' });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /served as text\/html, not as JSON/,
      ],
      [
        'a document that is not JSON',
        (path) => {
          docs.serve(path, { body: '{"client_id": ' });
          return { clientId: docs.url(path) };
        },
        'invalid_client',
        /not valid JSON/,
      ],
      [
        'a document that is missing',
        () => ({ clientId: docs.url('/missing/client.json') }),
        'invalid_client',
        /answered HTTP 404, not 200/,
      ],
      [
        'a confidential client',
        (path) => ({ clientId: docs.serveDocument(path, { token_endpoint_auth_method: 'client_secret_basic' }) }),
        'invalid_client',
        /only public clients/,
      ],
      [
        'a document carrying a client secret',
        (path) => ({ clientId: docs.serveDocument(path, { client_secret: 'shh' }) }),
        'invalid_client',
        /must not carry a client secret/,
      ],
      [
        'a document without redirect URIs',
        (path) => ({ clientId: docs.serveDocument(path, { redirect_uris: [] }) }),
        'invalid_client',
        /lists no redirect_uris/,
      ],
      [
        'a document with a plain-http redirect URI to a public host',
        (path) => ({ clientId: docs.serveDocument(path, { redirect_uris: ['http://assistant.example/callback'] }), redirectUri: 'http://assistant.example/callback' }),
        'invalid_client',
        /plain http is allowed only for loopback/,
      ],
      [
        'a document with a javascript: redirect URI',
        (path) => ({ clientId: docs.serveDocument(path, { redirect_uris: ['javascript:alert(1)'] }), redirectUri: 'javascript:alert(1)' }),
        'invalid_client',
        /redirect_uris/,
      ],
    ];

    it.each(cases)('%s', async (_label, setUp, error, description) => {
      const path = `/refused/${Math.random().toString(36).slice(2)}.json`;
      const { clientId, redirectUri } = setUp(path);
      const res = await authorize(clientId, redirectUri);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const text = unescape(await res.text());
      expect(text).toContain('Sign-in request not valid');
      expect(text).toContain(`(${error}: `);
      expect(text).toMatch(description);
      expect(await stored(clientId)).toBe(0);
      // A redirect is never followed.
      expect(docs.hits(`${path}/target`)).toBe(0);
      expect(t.logs.some((l) => l.msg === 'oauth authorization request refused' && l.clientId === clientId)).toBe(true);
    });
  });

  it('remembers a failed look-up for a while instead of fetching again', async () => {
    const path = '/flaky/client.json';
    docs.serve(path, { status: 500, body: 'oops' });
    const id = docs.url(path);
    expect((await authorize(id)).status).toBe(400);
    docs.serveDocument(path);
    const again = await authorize(id);
    expect(again.status).toBe(400);
    expect(unescape(await again.text())).toMatch(/answered HTTP 500/);
    expect(docs.hits(path)).toBe(1);
  });

  it('limits the fetches one address may start, and only fetches count', async () => {
    const cachedPath = '/limits/cached.json';
    const cached = docs.serveDocument(cachedPath, {}, { 'cache-control': 'max-age=600' });
    expect((await authorize(cached)).status).toBe(303);
    // This address has started its minute's fetches (this minute and the next, whichever it is now).
    const key = 'ip:127.0.0.1:client-metadata';
    await t.service.db.query(
      `INSERT INTO oauth_rate_buckets (key, bucket_start, hits)
       SELECT $1, date_trunc('minute', clock_timestamp()) + make_interval(mins => m), 1000 FROM generate_series(0, 1) AS m
       ON CONFLICT (key, bucket_start) DO UPDATE SET hits = 1000`,
      [key],
    );
    try {
      const path = '/limits/new.json';
      const id = docs.serveDocument(path);
      const res = await authorize(id);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.text()).toContain('Too many client metadata documents looked up from your network');
      expect(docs.hits(path)).toBe(0);
      expect(await stored(id)).toBe(0);
      // A document in the cache costs no fetch.
      expect((await authorize(cached)).status).toBe(303);
      expect(docs.hits(cachedPath)).toBe(1);
    } finally {
      await t.service.db.query('DELETE FROM oauth_rate_buckets WHERE key = $1', [key]);
    }
  });

  it('keeps registered clients as they were', async () => {
    const res = await fetch(`${t.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Registered', redirect_uris: ['https://assistant.example/callback'], token_endpoint_auth_method: 'none' }),
    });
    expect(res.status).toBe(201);
    const { client_id } = (await res.json()) as { client_id: string };
    expect(client_id).not.toMatch(/^https:/);
    expect((await authorize(client_id)).status).toBe(303);
  });
});
