// Access tokens: JWTs as RFC 9068 shapes them (typ at+jwt), signed by this service, `iss` exactly the
// metadata's issuer, `aud` the MCP endpoint (RFC 8707), `sub` the Firebase uid, `sid` the grant.
// They carry no e-mail address: the verifier reads the user from the database with the grant, so a
// revoked grant ends its access tokens at once.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { SigningKey } from './keys.js';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenClaims {
  uid: string;
  clientId: string;
  grantId: number;
  scopes: string[];
  expiresAt: number;
}

/** Why a token was refused, in words fit for a WWW-Authenticate error_description. */
export class AccessTokenRejected extends Error {}

export interface AccessTokens {
  mint(c: { uid: string; clientId: string; grantId: number; scopes: string[] }): Promise<{ token: string; expiresIn: number }>;
  verify(token: string): Promise<AccessTokenClaims>;
  /** Checks the signature and the issuer only (revocation accepts expired tokens). */
  verifySignature(token: string): Promise<AccessTokenClaims>;
  /** Unverified look: does this token claim to come from us? (to route it past the Firebase verifier) */
  claimsToBeOurs(token: string): boolean;
}

function toClaims(p: JWTPayload): AccessTokenClaims {
  const sid = Number(p.sid);
  if (typeof p.sub !== 'string' || !p.sub || typeof p.client_id !== 'string' || !Number.isSafeInteger(sid) || sid <= 0) {
    throw new AccessTokenRejected('The access token is missing required claims.');
  }
  return {
    uid: p.sub,
    clientId: p.client_id,
    grantId: sid,
    scopes: typeof p.scope === 'string' ? p.scope.split(' ').filter(Boolean) : [],
    expiresAt: p.exp ?? 0,
  };
}

/** Every verification failure as an AccessTokenRejected that says why. */
function reject(err: unknown): never {
  if (err instanceof AccessTokenRejected) throw err;
  if (err instanceof errors.JWTExpired) throw new AccessTokenRejected('The access token has expired; refresh it or sign in again.');
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    throw new AccessTokenRejected('The access token was issued for another resource.');
  }
  if (err instanceof errors.JWTClaimValidationFailed) throw new AccessTokenRejected(`The access token's "${err.claim}" claim is not valid here.`);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed) {
    throw new AccessTokenRejected('The access token was not signed by this service.');
  }
  throw new AccessTokenRejected('The access token is not valid.');
}

export function createAccessTokens(opts: { key: SigningKey; issuer: () => string; audience: () => string; ttlSeconds: number }): AccessTokens {
  const keySet = createLocalJWKSet({ keys: [opts.key.publicJwk] });

  return {
    async mint(c) {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ client_id: c.clientId, scope: c.scopes.join(' '), sid: String(c.grantId) })
        .setProtectedHeader({ alg: opts.key.alg, kid: opts.key.kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(opts.issuer())
        .setAudience(opts.audience())
        .setSubject(c.uid)
        .setIssuedAt(now)
        .setExpirationTime(now + opts.ttlSeconds)
        .setJti(randomUUID())
        .sign(opts.key.privateKey);
      return { token, expiresIn: opts.ttlSeconds };
    },

    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer: opts.issuer(),
          audience: opts.audience(),
          typ: ACCESS_TOKEN_TYPE,
          algorithms: [opts.key.alg],
          requiredClaims: ['exp', 'iat', 'sub'],
          clockTolerance: 5,
        });
        return toClaims(payload);
      } catch (err) {
        return reject(err);
      }
    },

    async verifySignature(token) {
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer: opts.issuer(),
          typ: ACCESS_TOKEN_TYPE,
          algorithms: [opts.key.alg],
          // Expired tokens may still be revoked (RFC 7009); a century covers any lifetime.
          clockTolerance: 100 * 365 * 86_400,
        });
        return toClaims(payload);
      } catch (err) {
        return reject(err);
      }
    },

    claimsToBeOurs(token) {
      try {
        if (decodeProtectedHeader(token).typ === ACCESS_TOKEN_TYPE) return true;
        return decodeJwt(token).iss === opts.issuer();
      } catch {
        return false;
      }
    },
  };
}
