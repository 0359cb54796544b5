import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { maskEmail, type Logger } from '../logger.js';
import type { Caller } from './caller.js';
import { userStore, type User } from './user-store.js';

export interface RegistrationService {
  /** The caller's user row, created on first sight. Refuses callers without a verified e-mail. */
  register(caller: Caller): Promise<User>;
}

/**
 * The user row of a signed-in person with an e-mail address, created on first sight (and logged
 * once, with where they came from); a later sign-in refreshes the address. Counts no call and
 * checks nothing more: the OAuth sign-in records the user this way before consent.
 */
export async function recordUser(
  deps: { db: Database; logger: Logger },
  caller: Caller & { email: string },
  via?: string,
): Promise<User> {
  const user = await userStore.upsertFromToken(deps.db, { uid: caller.uid, email: caller.email, emailVerified: caller.emailVerified });
  if (user.inserted) {
    deps.logger.info({ userId: user.id, uid: caller.uid, email: maskEmail(caller.email), ...(via ? { via } : {}) }, 'user registered');
  }
  return user;
}

export function createRegistrationService(deps: { db: Database; logger: Logger; callsPerMinute: number }): RegistrationService {
  return {
    async register(caller) {
      if (!caller.email) {
        throw new AppError(
          'email_not_verified',
          'Your sign-in did not include an e-mail address. Sign in with an account that has an e-mail address: the invoice and the eSIM QR code are sent there.',
        );
      }
      const user = await recordUser(deps, { ...caller, email: caller.email });
      const calls = await userStore.countCall(deps.db, user.id);
      if (calls > deps.callsPerMinute) {
        throw new AppError('rate_limited', `Too many requests for this account (limit ${deps.callsPerMinute} a minute). Please wait a minute and try again.`);
      }
      if (!user.email_verified) {
        throw new AppError(
          'email_not_verified',
          `Your e-mail address (${maskEmail(user.email)}) is not verified yet. Verify it (check your inbox for the verification link from your sign-in provider), sign in again, then ask again: the $1.00 invoice and the eSIM QR code can only go to a verified address.`,
        );
      }
      return user;
    },
  };
}
