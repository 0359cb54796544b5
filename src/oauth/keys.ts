// The key that signs access tokens. Production configures it (OAUTH_SIGNING_KEY: a PKCS#8 PEM or a
// private JWK as JSON); locally one ES256 key pair is generated once and kept in the database, so
// every instance and every restart signs and verifies with the same key.
import { createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Database } from '../db/database.js';
import { oauthStore } from './store.js';

export interface SigningKey {
  kid: string;
  alg: string;
  /** For signing. */
  privateKey: CryptoKey;
  /** As published at the JWKS URL. */
  publicJwk: JWK;
  /** A secret derived from the private key for the pages' CSRF tokens. */
  pageSecret: Buffer;
}

const LOCAL_KEY_NAME = 'access-tokens';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function algorithmFor(key: KeyObject, declared?: unknown): string {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  let alg: string;
  if (type === 'ec') {
    const curves: Record<string, string> = { prime256v1: 'ES256', 'P-256': 'ES256', secp384r1: 'ES384', 'P-384': 'ES384', secp521r1: 'ES512', 'P-521': 'ES512' };
    alg = curves[details.namedCurve ?? ''] ?? '';
    if (!alg) throw new Error(`OAUTH_SIGNING_KEY: unsupported EC curve ${details.namedCurve}`);
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new Error('OAUTH_SIGNING_KEY: an RSA key must have at least 2048 bits');
    alg = typeof declared === 'string' && /^(RS|PS)(256|384|512)$/.test(declared) ? declared : 'RS256';
  } else if (type === 'ed25519') {
    alg = 'EdDSA';
  } else {
    throw new Error(`OAUTH_SIGNING_KEY: unsupported key type ${type ?? 'unknown'} (use EC P-256, RSA or Ed25519)`);
  }
  if (typeof declared === 'string' && declared !== alg) throw new Error(`OAUTH_SIGNING_KEY: "alg" ${declared} does not fit the key (${alg})`);
  return alg;
}

/** Reads OAUTH_SIGNING_KEY: a PKCS#8 PEM (literal "\n" allowed, as env files write it) or a private JWK. */
function parseConfiguredKey(value: string): { key: KeyObject; kid?: string; alg?: unknown } {
  const text = value.trim();
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JWK;
      if (!jwk.d) throw new Error('the JWK has no private part ("d")');
      return { key: createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }), kid: jwk.kid, alg: jwk.alg };
    }
    return { key: createPrivateKey(text.replace(/\\n/g, '\n')) };
  } catch (err) {
    throw new Error(`OAUTH_SIGNING_KEY is not a usable private key (PKCS#8 PEM or JWK JSON): ${(err as Error).message}`, { cause: err });
  }
}

async function fromPrivateJwk(jwk: JWK, alg: string, kid?: string): Promise<SigningKey> {
  const publicJwk: JWK = { ...jwk };
  for (const m of PRIVATE_MEMBERS) delete (publicJwk as Record<string, unknown>)[m];
  delete publicJwk.key_ops;
  delete publicJwk.ext;
  const keyId = kid ?? (await calculateJwkThumbprint(publicJwk, 'sha256'));
  Object.assign(publicJwk, { kid: keyId, alg, use: 'sig' });
  const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  const pageSecret = createHmac('sha256', JSON.stringify([jwk.d, jwk.p ?? null])).update('dotm oauth pages').digest();
  return { kid: keyId, alg, privateKey, publicJwk, pageSecret };
}

export async function loadSigningKey(db: Database, configured: string | undefined): Promise<SigningKey> {
  if (configured) {
    const { key, kid, alg } = parseConfiguredKey(configured);
    const algorithm = algorithmFor(key, alg);
    return fromPrivateJwk(key.export({ format: 'jwk' }) as JWK, algorithm, kid);
  }
  let stored = (await oauthStore.getSigningKey(db, LOCAL_KEY_NAME)) as JWK | undefined;
  if (!stored) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    stored = (await oauthStore.storeSigningKey(db, LOCAL_KEY_NAME, { ...(await exportJWK(privateKey)) })) as JWK;
  }
  return fromPrivateJwk(stored, 'ES256');
}
