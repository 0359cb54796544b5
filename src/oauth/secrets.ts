// Small, pure helpers for the secrets the authorization server hands out and checks: random
// tokens, their stored hashes, PKCE (S256) and the pages' CSRF tokens.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random, URL-safe secret with a recognisable prefix (secret scanners and support can tell them apart). */
export function randomSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** What the database keeps instead of a code or refresh token. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** RFC 7636: a code_challenge for S256 is BASE64URL(SHA256(verifier)), 43 characters. */
export const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function pkceMatches(codeVerifier: string, codeChallenge: string): boolean {
  if (!CODE_VERIFIER.test(codeVerifier)) return false;
  const computed = createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
  return safeEqual(computed, codeChallenge);
}

/**
 * The hidden form field of the sign-in and consent pages: bound to the purpose, the authorization
 * request and the browser's cookie nonce, so it cannot be replayed on another page or browser.
 */
export function csrfToken(key: Buffer, purpose: 'sign-in' | 'consent', requestId: string, browserNonce: string): string {
  return createHmac('sha256', key).update(`${purpose}\n${requestId}\n${browserNonce}`).digest('base64url');
}

export function csrfTokenValid(key: Buffer, purpose: 'sign-in' | 'consent', requestId: string, browserNonce: string, given: unknown): boolean {
  return typeof given === 'string' && safeEqual(csrfToken(key, purpose, requestId, browserNonce), given);
}
