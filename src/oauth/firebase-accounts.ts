// Looks a Firebase account up with firebase-admin before a refresh token is honoured: an account
// disabled or deleted since, or signed out everywhere (tokens revoked after the grant began), must
// not keep its access through an assistant for the life of a refresh token.
import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';

export type AccountStatus =
  | { state: 'active'; email: string | null; emailVerified: boolean; tokensValidAfter?: Date }
  | { state: 'disabled' | 'missing' };

export interface FirebaseAccounts {
  /** Throws when Firebase cannot be asked (the caller answers a server error, not a refusal). */
  status(uid: string): Promise<AccountStatus>;
  close(): Promise<void>;
}

export function createFirebaseAccounts(opts: { projectId: string }): FirebaseAccounts {
  const app: App = initializeApp({ projectId: opts.projectId }, `dotm-oauth-${randomUUID()}`);
  const auth = getAuth(app);
  return {
    async status(uid) {
      try {
        const user = await auth.getUser(uid);
        if (user.disabled) return { state: 'disabled' };
        const validAfter = user.tokensValidAfterTime ? new Date(user.tokensValidAfterTime) : undefined;
        return {
          state: 'active',
          email: user.email ?? null,
          emailVerified: user.emailVerified,
          tokensValidAfter: validAfter && !Number.isNaN(validAfter.getTime()) ? validAfter : undefined,
        };
      } catch (err) {
        if ((err as { code?: string }).code === 'auth/user-not-found') return { state: 'missing' };
        throw err;
      }
    },
    async close() {
      await deleteApp(app).catch(() => {});
    },
  };
}
