// The browser that began an authorization keeps a random nonce in a cookie; the request row keeps
// its hash. The sign-in and consent pages answer only that browser, and their CSRF tokens are bound
// to it, so a leaked page address is useless in another browser.
import type { Request, Response } from 'express';

export const BROWSER_COOKIE = 'dotm_oauth_browser';
export const PAGES_PATH = '/oauth';
export const AUTHORIZE_PATH = '/authorize';
const NONCE = /^[A-Za-z0-9_-]{32,64}$/;

export function readBrowserNonce(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === BROWSER_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return NONCE.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * Sent to the pages and to /authorize only: /authorize reads it to know whether this browser's user
 * already answered the consent page for a client (see authorize-errors.ts).
 */
export function setBrowserNonce(res: Response, nonce: string, opts: { secure: boolean; maxAgeSeconds: number }): void {
  for (const path of [PAGES_PATH, AUTHORIZE_PATH]) {
    res.append(
      'set-cookie',
      `${BROWSER_COOKIE}=${nonce}; Path=${path}; Max-Age=${opts.maxAgeSeconds}; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}`,
    );
  }
}
