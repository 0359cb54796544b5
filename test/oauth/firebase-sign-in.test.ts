// The production sign-in path (Firebase configured, no emulator): the page loads the Firebase Web SDK
// with the configured project, and what it posts back is a Firebase ID token that the server has
// verified before the user is registered and the consent page shown. Firebase itself is not reachable
// offline, so the ID token verifier is a stand-in here; everything else is the real module.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Caller } from '../../src/identity/caller.js';
import { InvalidTokenError, type TokenVerifier } from '../../src/identity/firebase-verifier.js';
import { createLogger } from '../../src/logger.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import { createOAuthModule, type OAuthModule } from '../../src/oauth/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FormBrowser, hiddenFields, pkce } from './support.js';

describe('sign-in with Firebase Authentication (production mode)', () => {
  let database: TestDatabase;
  let oauth: OAuthModule;
  let server: Server;
  let base = '';
  const verified: string[] = [];
  const firebaseVerifier: TokenVerifier = {
    async verify(token): Promise<Caller> {
      verified.push(token);
      if (token !== 'firebase-id-token-for-ada') throw new InvalidTokenError('The token is not a valid Firebase ID token for this service.');
      return { uid: 'firebase-uid-ada', email: 'ada@example.com', emailVerified: true, via: 'firebase' };
    },
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', FIREBASE_PROJECT_ID: 'dotm-prod', FIREBASE_WEB_API_KEY: 'web-api-key-123', LOG_LEVEL: 'silent' });
    expect(config.local.firebase).toBe(false);
    const app = express();
    oauth = await createOAuthModule({ db: database.db, config, logger: createLogger('silent'), baseUrl: () => base, firebaseVerifier });
    oauth.mount(app);
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await oauth.close();
    await database.drop();
  });

  it('serves the Firebase sign-in page, verifies the posted ID token and registers the user', async () => {
    const redirectUri = 'https://chatgpt.com/connector_platform_oauth_redirect';
    const reg = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'ChatGPT', redirect_uris: [redirectUri] }) });
    const client = (await reg.json()) as { client_id: string };
    const { challenge } = pkce();
    const authorize = new URL(`${base}/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state: 's', resource: `${base}${MCP_PATH}` })) {
      authorize.searchParams.set(k, v);
    }
    const browser = new FormBrowser(new URL(base).origin);
    const page = await browser.go(authorize.href);
    expect(page.status).toBe(200);
    expect(page.html).toContain('"apiKey":"web-api-key-123"');
    expect(page.html).toContain('"authDomain":"dotm-prod.firebaseapp.com"');
    expect(page.html).toContain('https://www.gstatic.com/firebasejs/');
    const csp = page.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(page.html).toContain(`<script type="module" nonce="${nonce}">`);
    expect(csp).toContain('https://dotm-prod.firebaseapp.com');

    const fields = hiddenFields(page.html);
    const refused = await browser.visit('/oauth/sign-in', { form: { ...fields, id_token: 'forged' } });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Sign-in failed');

    const consent = await browser.go('/oauth/sign-in', { form: { ...fields, id_token: 'firebase-id-token-for-ada' } });
    expect(consent.url).toContain('/oauth/consent');
    expect(consent.html).toContain('ada@example.com');
    expect(verified).toEqual(['forged', 'firebase-id-token-for-ada']);
    const { rows } = await database.db.query('SELECT firebase_uid, email, email_verified FROM users');
    expect(rows).toEqual([{ firebase_uid: 'firebase-uid-ada', email: 'ada@example.com', email_verified: true }]);

    const answer = await browser.visit('/oauth/consent', { form: { ...hiddenFields(consent.html), decision: 'allow' } });
    const back = new URL(answer.location!);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('code')).toMatch(/^dotm_ac_/);
  });
});
