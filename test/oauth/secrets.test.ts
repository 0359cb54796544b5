// The pure pieces of the authorization server: PKCE, CSRF tokens, resource matching, HTML escaping.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/oauth/pages.js';
import { sameResource } from '../../src/oauth/provider.js';
import { csrfToken, csrfTokenValid, pkceMatches } from '../../src/oauth/secrets.js';

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'.split('');
const verifierArb = fc.array(fc.constantFrom(...UNRESERVED), { minLength: 43, maxLength: 128 }).map((a) => a.join(''));
const s256 = (v: string) => createHash('sha256').update(v).digest('base64url');

describe('PKCE (S256)', () => {
  it('accepts exactly the verifier the challenge was made from', () => {
    fc.assert(
      fc.property(verifierArb, verifierArb, (v, other) => {
        expect(pkceMatches(v, s256(v))).toBe(true);
        if (other !== v) expect(pkceMatches(other, s256(v))).toBe(false);
      }),
    );
  });

  it('refuses verifiers outside RFC 7636 (too short, too long, other characters), and the plain method', () => {
    const short = 'a'.repeat(42);
    const long = 'a'.repeat(129);
    const spaced = `${'a'.repeat(42)} `;
    for (const v of [short, long, spaced]) expect(pkceMatches(v, s256(v))).toBe(false);
    const v = 'b'.repeat(50);
    expect(pkceMatches(v, v)).toBe(false);
  });
});

describe('CSRF tokens', () => {
  const key = Buffer.alloc(32, 7);
  it('are bound to the purpose, the request and the browser', () => {
    const token = csrfToken(key, 'consent', 'req1', 'nonce1');
    expect(csrfTokenValid(key, 'consent', 'req1', 'nonce1', token)).toBe(true);
    expect(csrfTokenValid(key, 'sign-in', 'req1', 'nonce1', token)).toBe(false);
    expect(csrfTokenValid(key, 'consent', 'req2', 'nonce1', token)).toBe(false);
    expect(csrfTokenValid(key, 'consent', 'req1', 'nonce2', token)).toBe(false);
    expect(csrfTokenValid(Buffer.alloc(32, 8), 'consent', 'req1', 'nonce1', token)).toBe(false);
    expect(csrfTokenValid(key, 'consent', 'req1', 'nonce1', undefined)).toBe(false);
  });
});

describe('resource matching', () => {
  const endpoint = 'https://api.dotm.example/mcp/v2/messages';
  it.each([
    [endpoint, true],
    ['https://api.dotm.example', true],
    ['https://api.dotm.example/', true],
    ['https://API.dotm.example:443/mcp/v2/messages', true],
    ['https://api.dotm.example/mcp/v2/messages/', false],
    ['https://api.dotm.example/mcp/v2/messages#x', false],
    ['https://api.dotm.example/mcp/v2/messages?x=1', false],
    ['https://api.dotm.example/admin', false],
    ['http://api.dotm.example/mcp/v2/messages', false],
    ['https://evil.example/mcp/v2/messages', false],
    ['not a url', false],
  ])('%s → %s', (given, expected) => {
    expect(sameResource(given, endpoint)).toBe(expected);
  });
});

describe('escapeHtml', () => {
  it('leaves no markup-significant character unescaped', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(escapeHtml(s)).not.toMatch(/[<>"']/);
        expect(escapeHtml(s).replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
      }),
    );
  });
});
