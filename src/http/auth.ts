import type { Request } from 'express';
import type { Caller } from '../identity/caller.js';
import { InvalidTokenError, type TokenVerifier } from '../identity/firebase-verifier.js';

/** Reads `Authorization: Bearer …`; a missing token is fine unless `required`, a bad one never is. */
export function createAuthenticator(verifier: TokenVerifier) {
  return async (req: Request, required: boolean): Promise<Caller | undefined> => {
    const header = req.headers.authorization;
    if (!header) {
      if (required) throw new InvalidTokenError('Sign-in required: send the user\'s token as "Authorization: Bearer <token>".');
      return undefined;
    }
    const match = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
    if (!match) throw new InvalidTokenError('The Authorization header must be "Bearer <token>".');
    return verifier.verify(match[1]!);
  };
}

export function wwwAuthenticate(resourceMetadataUrl: string, description: string): string {
  const quoted = description.replace(/["\\]/g, '');
  return `Bearer error="invalid_token", error_description="${quoted}", resource_metadata="${resourceMetadataUrl}"`;
}
