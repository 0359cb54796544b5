// The authorization server's abuse limits as an outsider would try to spend them for someone else.
// Client ids are public: nothing an outsider sends naming one may hold back that client's users.
// Requests come from two real loopback addresses (127.0.0.1 and 127.0.0.2).
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../../src/oauth/limits.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { onPostgres } from '../support/db.js';
import { sleep } from '../support/time.js';
import { authorizeByHand, authorizeUrl, codeExchange, FormBrowser, pkce, registerClient, signInAndConsent } from './support.js';

const ATTACKER = '127.0.0.1';
const ELSEWHERE = '127.0.0.2';

/** A POST from a chosen local address. */
function postFrom(localAddress: string, url: string, body: string, contentType: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': contentType, accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const tokenFrom = (t: TestApp, address: string, form: Record<string, string>) =>
  postFrom(address, `${t.url}/token`, new URLSearchParams(form).toString(), 'application/x-www-form-urlencoded');
const registerFrom = (t: TestApp, address: string) =>
  postFrom(address, `${t.url}/register`, JSON.stringify({ client_name: 'Assistant', redirect_uris: ['https://assistant.example/cb'], token_endpoint_auth_method: 'none' }), 'application/json');
const bogus = (clientId: string, i: number) => ({ grant_type: 'refresh_token', client_id: clientId, refresh_token: `dotm_rt_bogus${i}` });

/** Windows are calendar minutes on the database clock: start a burst well inside one. */
async function awayFromMinuteEnd(t: TestApp): Promise<void> {
  const { rows } = await t.service.db.query<{ s: number }>(`SELECT extract(second FROM clock_timestamp())::float8 AS s`);
  if (rows[0]!.s > 45) await sleep((61 - rows[0]!.s) * 1000);
}

describe('OAuth abuse limits an outsider cannot spend for someone else', () => {
  // 600+ requests take a minute on the embedded database of a busy machine; the tests with small
  // limits below prove the same on both databases.
  describe.runIf(onPostgres())('with the default limits', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000' });
    });
    afterAll(() => t.close());

    it('lets real users exchange their codes after 600+ bogus token requests naming their assistant', async () => {
      const first = await authorizeByHand(t, 'victim.one@example.com');
      // A second user of the same assistant (the same client id).
      const { verifier, challenge } = pkce();
      const browser = new FormBrowser(new URL(t.url).origin);
      const back = await signInAndConsent(browser, authorizeUrl(t, { clientId: first.client.client_id, redirectUri: first.redirectUri, challenge }), 'victim.two@example.com');
      const second = { ...first, verifier, code: back.searchParams.get('code')! };

      const statuses: number[] = [];
      for (let batch = 0; batch < 61; batch++) {
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => tokenFrom(t, ATTACKER, bogus(first.client.client_id, batch * 10 + i))));
        statuses.push(...answers.map((a) => a.status));
      }
      expect(statuses.length).toBe(610);
      expect(statuses.every((s) => s === 400 || s === 429)).toBe(true);

      // The users' own codes pass, from another address and from the attacker's own.
      const fromElsewhere = await tokenFrom(t, ELSEWHERE, codeExchange(t, first));
      expect(fromElsewhere.status).toBe(200);
      expect((await tokenFrom(t, ATTACKER, codeExchange(t, second))).status).toBe(200);
      // And so does a refresh token.
      const refreshed = await tokenFrom(t, ATTACKER, { grant_type: 'refresh_token', client_id: first.client.client_id, refresh_token: fromElsewhere.body.refresh_token as string });
      expect(refreshed.status).toBe(200);
    }, 120_000);
  });

  describe('with small limits', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000',
        OAUTH_TOKEN_FAILURES_PER_IP_PER_MINUTE: '5',
        OAUTH_REGISTRATIONS_PER_IP_PER_MINUTE: '3',
      });
    });
    afterAll(() => t.close());

    it('refuses failed token requests per address, while a valid code or refresh token always passes', async () => {
      const a = await authorizeByHand(t, 'holder@example.com');
      const b = await authorizeByHand(t, 'holder.two@example.com');
      await awayFromMinuteEnd(t);
      for (let i = 0; i < 5; i++) expect((await tokenFrom(t, ATTACKER, bogus(a.client.client_id, i))).status).toBe(400);
      const limited = await tokenFrom(t, ATTACKER, bogus(a.client.client_id, 99));
      expect(limited.status).toBe(429);
      expect(limited.body.error).toBe('too_many_requests');
      // Without naming any client, too.
      expect((await tokenFrom(t, ATTACKER, { grant_type: 'password' })).status).toBe(429);
      // Another address is not held back by the first one.
      expect((await tokenFrom(t, ELSEWHERE, bogus(a.client.client_id, 100))).status).toBe(400);

      const exchanged = await tokenFrom(t, ATTACKER, codeExchange(t, a));
      expect(exchanged.status).toBe(200);
      const refreshed = await tokenFrom(t, ATTACKER, { grant_type: 'refresh_token', client_id: a.client.client_id, refresh_token: exchanged.body.refresh_token as string });
      expect(refreshed.status).toBe(200);
      expect((await tokenFrom(t, ATTACKER, codeExchange(t, b))).status).toBe(200);
      // A known code that fails (here: replayed) still gets its OAuth answer, not a 429.
      expect((await tokenFrom(t, ATTACKER, codeExchange(t, b))).body.error).toBe('invalid_grant');

      // Revocation: an unknown token counts as a failure, a token we issued always passes.
      const revoke = (token: string) =>
        postFrom(ATTACKER, `${t.url}/revoke`, new URLSearchParams({ client_id: a.client.client_id, token }).toString(), 'application/x-www-form-urlencoded');
      expect((await revoke('dotm_rt_unknown')).status).toBe(429);
      expect((await revoke(refreshed.body.access_token as string)).status).toBe(200);
      expect((await revoke(refreshed.body.refresh_token as string)).status).toBe(200);
    });

    it('counts registrations per address', async () => {
      // Addresses of their own: the test above registered from the others.
      const [flooder, assistant] = ['127.0.0.3', '127.0.0.4'];
      await awayFromMinuteEnd(t);
      const ours = [];
      for (let i = 0; i < 3; i++) ours.push((await registerFrom(t, flooder)).status);
      expect(ours).toEqual([201, 201, 201]);
      const fourth = await registerFrom(t, flooder);
      expect(fourth.status).toBe(429);
      expect(fourth.body.error).toBe('too_many_requests');
      // Another assistant, from its own address, still registers.
      expect((await registerFrom(t, assistant)).status).toBe(201);
    });

  });
});

describe('the sign-in pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '4' });
  });
  afterAll(() => t.close());

  it('are limited per address', async () => {
    const client = await registerClient(t, ['https://assistant.example/callback']);
    await awayFromMinuteEnd(t);
    const browser = new FormBrowser(new URL(t.url).origin);
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await browser.visit(authorizeUrl(t, { clientId: client.client_id, redirectUri: 'https://assistant.example/callback', challenge: pkce().challenge }))).status);
    }
    expect(statuses).toEqual([303, 303, 303, 303, 429]);
  });
});

describe('addressKey', () => {
  it('counts IPv4 as is and IPv6 per /64', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
