// The sign-in and consent pages in a real browser (headless Chromium, JavaScript switched off): the
// user types an e-mail address, allows the assistant, and the browser lands on the assistant's
// loopback callback (as Gemini CLI listens for it) with a code that the token endpoint accepts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, LAUNCH_ARGS, chromiumPresent } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { authorizeUrl, exchangeCode, pkce, registerClient } from './support.js';

const hasChromium = chromiumPresent('oauth browser test');

describe('sign-in in headless Chromium', () => {
  let t: TestApp;
  let browser: Browser | undefined;
  let callback: Server;
  const received: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) return;
    t = await startTestApp({ OAUTH_SIGN_IN_PER_IP_PER_MINUTE: '10000' });
    callback = createServer((req, res) => {
      received.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>Signed in. You can close this window.</p>');
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    if (callback) await new Promise((resolve) => callback.close(resolve));
    await t?.close();
  });

  it.skipIf(!hasChromium)('signs in and consents with plain forms; the redirect carries a code', async () => {
    const { port } = callback.address() as AddressInfo;
    const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    const client = await registerClient(t, [redirectUri], 'Browser Assistant');
    const { verifier, challenge } = pkce();

    const context = await browser!.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(authorizeUrl(t, { clientId: client.client_id, redirectUri, challenge, state: 'chromium-state' }));
    expect(page.url()).toContain('/oauth/sign-in?request=');
    expect(await page.textContent('main')).toContain('Browser Assistant');

    await page.fill('input[name="email"]', 'chromium.user@example.com');
    await Promise.all([page.waitForURL(/\/oauth\/consent\?request=/), page.click('button[type="submit"]')]);
    expect(await page.textContent('h1')).toContain('Allow Browser Assistant');
    expect(await page.textContent('main')).toContain('chromium.user@example.com');

    await Promise.all([page.waitForURL((url) => url.port === String(port)), page.click('button[value="allow"]')]);
    const back = new URL(page.url());
    expect(back.pathname).toBe('/oauth/callback');
    expect(back.searchParams.get('state')).toBe('chromium-state');
    expect(back.searchParams.get('iss')).toBe(t.url);
    const code = back.searchParams.get('code');
    expect(code).toMatch(/^dotm_ac_/);
    expect(received.filter((u) => u.startsWith('/oauth/callback'))).toHaveLength(1);
    await context.close();

    const tokens = await exchangeCode(t, { client, code: code!, verifier, redirectUri });
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toEqual(expect.any(String));
  });
});
