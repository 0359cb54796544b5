// Helpers for the OAuth tests: an MCP client-side OAuth provider kept in memory, a browser stand-in
// that walks the sign-in and consent pages over plain HTTP (cookies and form posts, no JavaScript),
// and raw registration / token calls.
import { createHash, randomBytes } from 'node:crypto';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { TestApp } from '../support/app.js';

/** What an assistant keeps between the 401 and the redirect back: all in memory here. */
export class MemoryOAuthClient implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier?: string;
  authorizationUrl?: URL;
  constructor(
    readonly redirectUrl: string,
    readonly clientName = 'Test Assistant',
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.clientName, redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  state() {
    return 'state-' + randomBytes(8).toString('hex');
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
}

export interface PageVisit {
  status: number;
  location?: string;
  html: string;
  headers: Headers;
}

/** A browser without JavaScript: keeps cookies, follows redirects within the service, posts forms. */
export class FormBrowser {
  private cookies = new Map<string, string>();
  constructor(private readonly origin: string) {}

  async visit(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<PageVisit> {
    const headers = new Headers();
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      headers.set('origin', this.origin);
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(new URL(url, this.origin), { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: res.status, location: res.headers.get('location') ?? undefined, html: await res.text(), headers: res.headers };
  }

  /** Follows redirects while they stay on the service; returns the last page, or the redirect leaving it. */
  async go(url: string, init: { form?: Record<string, string> } = {}): Promise<PageVisit & { url: string }> {
    let current = new URL(url, this.origin).href;
    let visit = await this.visit(current, init);
    for (let hops = 0; visit.location && hops < 10; hops++) {
      const next = new URL(visit.location, current);
      if (next.origin !== this.origin) return { ...visit, url: current };
      current = next.href;
      visit = await this.visit(current);
    }
    return { ...visit, url: current };
  }

  forget(name: string) {
    this.cookies.delete(name);
  }
}

export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replace(/&amp;/g, '&');
  return fields;
}

/**
 * Signs in on the local e-mail form and answers the consent page; returns where the browser is
 * sent back to (the client's redirect URI with code or error).
 */
export async function signInAndConsent(
  browser: FormBrowser,
  authorizationUrl: string | URL,
  email: string,
  decision: 'allow' | 'deny' = 'allow',
): Promise<URL> {
  const signIn = await browser.go(String(authorizationUrl));
  if (signIn.status !== 200 || !signIn.url.includes('/oauth/sign-in')) throw new Error(`sign-in page not reached: ${signIn.status} ${signIn.html.slice(0, 300)}`);
  const consent = await browser.go('/oauth/sign-in', { form: { ...hiddenFields(signIn.html), email } });
  if (consent.status !== 200 || !consent.url.includes('/oauth/consent')) throw new Error(`consent page not reached: ${consent.status} ${consent.html.slice(0, 300)}`);
  const answer = await browser.visit('/oauth/consent', { form: { ...hiddenFields(consent.html), decision } });
  if (answer.status !== 303 || !answer.location) throw new Error(`no redirect after consent: ${answer.status} ${answer.html.slice(0, 300)}`);
  return new URL(answer.location);
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function registerClient(t: TestApp, redirectUris: string[], name = 'Raw Client'): Promise<{ client_id: string } & Record<string, unknown>> {
  const res = await fetch(`${t.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: redirectUris, token_endpoint_auth_method: 'none' }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { client_id: string };
}

export function authorizeUrl(t: TestApp, p: { clientId: string; redirectUri?: string; challenge: string; state?: string; resource?: string; method?: string }): string {
  const u = new URL(`${t.url}/authorize`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', p.clientId);
  if (p.redirectUri) u.searchParams.set('redirect_uri', p.redirectUri);
  u.searchParams.set('code_challenge', p.challenge);
  u.searchParams.set('code_challenge_method', p.method ?? 'S256');
  if (p.state) u.searchParams.set('state', p.state);
  u.searchParams.set('resource', p.resource ?? t.mcpUrl);
  return u.href;
}

export async function tokenRequest(t: TestApp, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A whole authorization by hand: registration, pages, code. */
export async function authorizeByHand(t: TestApp, email: string, redirectUri = 'https://assistant.example/callback') {
  const client = await registerClient(t, [redirectUri]);
  const { verifier, challenge } = pkce();
  const browser = new FormBrowser(new URL(t.url).origin);
  const back = await signInAndConsent(browser, authorizeUrl(t, { clientId: client.client_id, redirectUri, challenge, state: 'xyz' }), email);
  return { client, verifier, challenge, redirectUri, code: back.searchParams.get('code')!, back, browser };
}

type Authorized = { client: { client_id: string }; code: string; verifier: string; redirectUri: string };

/** The token request form that exchanges an authorization code. */
export const codeExchange = (t: TestApp, a: Authorized): Record<string, string> => ({
  grant_type: 'authorization_code',
  client_id: a.client.client_id,
  code: a.code,
  code_verifier: a.verifier,
  redirect_uri: a.redirectUri,
  resource: t.mcpUrl,
});

export async function exchangeCode(t: TestApp, a: Authorized) {
  return tokenRequest(t, codeExchange(t, a));
}

/** Signs a token with the service's own (database-kept) key: for tokens the service would never issue. */
export async function signWithServiceKey(t: TestApp, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const { rows } = await t.service.db.query<{ private_jwk: JWK }>(`SELECT private_jwk FROM oauth_signing_keys WHERE name = 'access-tokens'`);
  const jwk = rows[0]!.private_jwk;
  const jwks = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
  const key = await importJWK(jwk, 'ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwks.keys[0]!.kid, ...header }).sign(key);
}

export const callActivate = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'activate_esim', arguments: {} } };

export async function mcpCall(t: TestApp, token: string | undefined, body: unknown = callActivate) {
  const res = await fetch(t.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
