// OAUTH_SIGNING_KEY as operators write it (PKCS#8 PEM, with real or escaped newlines, or a JWK), and
// access tokens signed and checked with it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { createAccessTokens } from '../../src/oauth/access-tokens.js';
import { loadSigningKey } from '../../src/oauth/keys.js';

const noDatabase = undefined as unknown as Database;
const ecPem = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('OAUTH_SIGNING_KEY', () => {
  it('reads an EC P-256 PKCS#8 PEM, also with "\\n" written for newlines', async () => {
    const pem = ecPem();
    const key = await loadSigningKey(noDatabase, pem);
    expect(key.alg).toBe('ES256');
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: key.kid });
    expect(key.publicJwk.d).toBeUndefined();
    const escaped = await loadSigningKey(noDatabase, pem.trim().replace(/\n/g, '\\n'));
    expect(escaped.kid).toBe(key.kid);
  });

  it('reads a private JWK and keeps its kid; RSA keys sign RS256', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
    const key = await loadSigningKey(noDatabase, JSON.stringify({ ...jwk, kid: 'dotm-2026-01' }));
    expect(key.kid).toBe('dotm-2026-01');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect((await loadSigningKey(noDatabase, rsa)).alg).toBe('RS256');
  });

  it('refuses what is not a usable private key', async () => {
    await expect(loadSigningKey(noDatabase, 'not a key')).rejects.toThrow(/OAUTH_SIGNING_KEY/);
    const publicJwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
    await expect(loadSigningKey(noDatabase, JSON.stringify(publicJwk))).rejects.toThrow(/private/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await expect(loadSigningKey(noDatabase, weak)).rejects.toThrow(/2048/);
  });

  it('signs access tokens that verify for this issuer and audience only', async () => {
    const key = await loadSigningKey(noDatabase, ecPem());
    const issuer = () => 'https://api.dotm.example';
    const tokens = createAccessTokens({ key, issuer, audience: () => 'https://api.dotm.example/mcp/v2/messages', ttlSeconds: 600 });
    const { token, expiresIn } = await tokens.mint({ uid: 'u1', clientId: 'c1', grantId: 7, scopes: ['esim'] });
    expect(expiresIn).toBe(600);
    expect(await tokens.verify(token)).toMatchObject({ uid: 'u1', clientId: 'c1', grantId: 7, scopes: ['esim'] });
    expect(tokens.claimsToBeOurs(token)).toBe(true);

    const elsewhere = createAccessTokens({ key, issuer, audience: () => 'https://other.example/mcp', ttlSeconds: 600 });
    await expect(elsewhere.verify(token)).rejects.toThrow(/another resource/);
    const otherKey = createAccessTokens({ key: await loadSigningKey(noDatabase, ecPem()), issuer, audience: () => 'https://api.dotm.example/mcp/v2/messages', ttlSeconds: 600 });
    await expect(otherKey.verify(token)).rejects.toThrow(/not signed by this service/);
    expect(tokens.claimsToBeOurs('not.a.jwt')).toBe(false);
  });
});
