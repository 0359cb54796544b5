// Firebase ID token verification with firebase-admin. In emulator mode firebase-admin reads
// FIREBASE_AUTH_EMULATOR_HOST itself and accepts unsigned tokens, still checking every claim and
// looking the account up (disabled users are refused).
import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getAuth, type Auth } from 'firebase-admin/auth';
import { AppError } from '../errors.js';
import type { Caller } from './caller.js';

export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
  close?(): Promise<void>;
}

/** A bad token: answered 401 with WWW-Authenticate. */
export class InvalidTokenError extends AppError {
  constructor(message: string) {
    super('unauthenticated', message, { httpStatus: 401 });
    this.name = 'InvalidTokenError';
  }
}

const REASONS: Record<string, string> = {
  'auth/id-token-expired': 'The token has expired; sign in again.',
  'auth/id-token-revoked': 'The token has been revoked; sign in again.',
  'auth/user-disabled': 'This account is disabled.',
  'auth/user-not-found': 'This account no longer exists.',
  'auth/argument-error': 'The token is not a valid Firebase ID token for this service.',
  'auth/invalid-id-token': 'The token is not a valid Firebase ID token for this service.',
};

export function createFirebaseVerifier(opts: { projectId: string }): TokenVerifier {
  const app: App = initializeApp({ projectId: opts.projectId }, `dotm-${randomUUID()}`);
  const auth: Auth = getAuth(app);
  return {
    async verify(token) {
      try {
        // checkRevoked: also looks the account up, so disabled or deleted users are refused.
        const decoded = await auth.verifyIdToken(token, true);
        return {
          uid: decoded.uid,
          email: decoded.email ?? null,
          emailVerified: decoded.email_verified === true,
          via: 'firebase',
        };
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code in REASONS) throw new InvalidTokenError(REASONS[code]!);
        if (code.startsWith('auth/') && !/internal-error|network|unavailable/.test(code)) {
          throw new InvalidTokenError('The token could not be verified.');
        }
        throw new AppError('upstream_unavailable', 'Sign-in could not be checked right now; please try again shortly.', { cause: err });
      }
    },
    async close() {
      await deleteApp(app).catch(() => {});
    },
  };
}

/** Tries each verifier in order (OAuth access tokens first, then Firebase ID tokens). */
export function firstMatchingVerifier(verifiers: Array<TokenVerifier & { accepts?(token: string): boolean }>): TokenVerifier {
  return {
    async verify(token) {
      const candidates = verifiers.filter((v) => !v.accepts || v.accepts(token));
      if (candidates.length === 0) throw new InvalidTokenError('The token is not one this service accepts.');
      return candidates[0]!.verify(token);
    },
  };
}
