// Abuse limits of the authorization server, in place of the SDK router's per-IP ones: an assistant's
// users all arrive from the assistant's addresses, so the token and revocation endpoints count per
// registered client and per user, and registration counts all clients together. Only the pages a
// browser opens before anyone is signed in (/authorize, sign-in, consent) count per IP. Windows are
// rows in the database, so the limits hold across instances.
import type { Request, RequestHandler, Response } from 'express';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { messagePage, contentSecurityPolicy } from './pages.js';
import { hashSecret, randomSecret } from './secrets.js';
import { oauthStore } from './store.js';

export interface LimitSettings {
  signInPerIpPerMinute: number;
  clientRequestsPerMinute: number;
  userRequestsPerMinute: number;
  registrationsPerMinute: number;
}

export interface Limits {
  /** The browser pages (HTML 429). */
  pages: RequestHandler;
  /** POST /token: per client, then per user of the code or refresh token (JSON 429). */
  token: RequestHandler;
  /** POST /revoke: per client. */
  revocation: RequestHandler;
  /** POST /register: all registrations together. */
  registration: RequestHandler;
}

function tooManyJson(res: Response, retryAfter: number, what: string): void {
  res
    .status(429)
    .set({ 'retry-after': String(retryAfter), 'cache-control': 'no-store', 'access-control-allow-origin': '*' })
    .json({ error: 'too_many_requests', error_description: `Too many ${what}; try again in ${retryAfter} seconds.` });
}

const bodyField = (req: Request, name: string): string | undefined => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined;
};

export function createLimits(deps: { db: Database; logger: Logger; settings: LimitSettings }): Limits {
  const { db, settings } = deps;
  /** Seconds to wait when `key` is over `limit` this minute, else undefined. */
  const over = async (key: string, limit: number): Promise<number | undefined> => {
    const { hits, retryAfterSeconds } = await oauthStore.hit(db, key);
    return hits > limit ? retryAfterSeconds : undefined;
  };

  return {
    async pages(req, res, next) {
      if (req.method === 'OPTIONS') return next();
      const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const wait = await over(`ip:${ip}`, settings.signInPerIpPerMinute);
      if (wait === undefined) return next();
      deps.logger.warn({ ip, limit: settings.signInPerIpPerMinute }, 'oauth sign-in pages rate limited');
      const nonce = randomSecret('', 16);
      res
        .status(429)
        .set({
          'retry-after': String(wait),
          'cache-control': 'no-store',
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': contentSecurityPolicy({ nonce }),
        })
        .send(messagePage({ nonce, title: 'Too many attempts', message: `Too many sign-in requests from your network. Please wait ${wait} seconds and try again.` }));
    },

    async token(req, res, next) {
      if (req.method !== 'POST') return next();
      const clientId = bodyField(req, 'client_id');
      if (!clientId) return next();
      const clientWait = await over(`client:${clientId}:token`, settings.clientRequestsPerMinute);
      if (clientWait !== undefined) {
        deps.logger.warn({ clientId, limit: settings.clientRequestsPerMinute }, 'oauth token requests rate limited (client)');
        return tooManyJson(res, clientWait, 'token requests from this client');
      }
      const grantType = bodyField(req, 'grant_type');
      const secret = grantType === 'authorization_code' ? bodyField(req, 'code') : grantType === 'refresh_token' ? bodyField(req, 'refresh_token') : undefined;
      const userId = secret ? await oauthStore.userForSecret(db, hashSecret(secret)) : undefined;
      if (userId !== undefined) {
        const userWait = await over(`user:${userId}:token`, settings.userRequestsPerMinute);
        if (userWait !== undefined) {
          deps.logger.warn({ clientId, userId, limit: settings.userRequestsPerMinute }, 'oauth token requests rate limited (user)');
          return tooManyJson(res, userWait, 'token requests for this account');
        }
      }
      next();
    },

    async revocation(req, res, next) {
      if (req.method !== 'POST') return next();
      const clientId = bodyField(req, 'client_id');
      if (!clientId) return next();
      const wait = await over(`client:${clientId}:revoke`, settings.clientRequestsPerMinute);
      if (wait === undefined) return next();
      tooManyJson(res, wait, 'revocation requests from this client');
    },

    async registration(req, res, next) {
      if (req.method !== 'POST') return next();
      const wait = await over('registrations', settings.registrationsPerMinute);
      if (wait === undefined) return next();
      deps.logger.warn({ limit: settings.registrationsPerMinute }, 'oauth client registrations rate limited');
      tooManyJson(res, wait, 'client registrations');
    },
  };
}
