// Firebase ID tokens for the Auth emulator: unsigned JWTs whose claims firebase-admin still checks.
import { createHash } from 'node:crypto';

export interface EmulatorTokenOptions {
  projectId: string;
  email: string;
  uid?: string;
  emailVerified?: boolean;
  /** Seconds from now until expiry (negative: already expired). */
  ttlSeconds?: number;
  now?: number;
}

/** The same e-mail always gets the same uid, so a user keeps their account between tokens. */
export function uidForEmail(email: string): string {
  return `local_${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 24)}`;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function mintEmulatorToken(o: EmulatorTokenOptions): string {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const ttl = o.ttlSeconds ?? 3600;
  const iat = ttl < 0 ? now + ttl - 3600 : now;
  const uid = o.uid ?? uidForEmail(o.email);
  const claims = {
    iss: `https://securetoken.google.com/${o.projectId}`,
    aud: o.projectId,
    auth_time: iat,
    user_id: uid,
    sub: uid,
    iat,
    exp: now + ttl,
    email: o.email,
    email_verified: o.emailVerified ?? true,
    firebase: { identities: { email: [o.email] }, sign_in_provider: 'password' },
  };
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}
