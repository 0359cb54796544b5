// Abuse limits of the authorization server, in place of the SDK router's. Every counter is one an
// outsider can spend only for themselves: client ids are public, so nothing counts per client.
// - Pages a browser opens before anyone is signed in (/authorize, sign-in, consent): per address.
// - /token and /revoke: a request carrying a code, refresh token or access token this server issued
//   always passes (/token counts it per user); any other can only fail, counts against its address
//   and is refused once that address has failed too often this minute. An assistant's users all
//   arrive from its servers: its valid requests never spend that counter nor are held back by it.
// - /register: per address, generous enough for one assistant's servers.
// - Client metadata documents fetched for /authorize (a URL client_id not in the cache): per address,
//   on top of the pages' limit, so nobody can make this server fetch addresses of their choice at will.
// Addresses are req.ip (TRUST_PROXY hops); IPv6 counts per /64, what one host is usually given.
// Windows are rows in the database, so the limits hold across instances.
import type { Request, RequestHandler, Response } from 'express';
import ipaddr from 'ipaddr.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { sendMessagePage } from './pages.js';
import { hashSecret } from './secrets.js';
import { oauthStore } from './store.js';

export interface LimitSettings {
  signInPerIpPerMinute: number;
  /** Failed /token and /revoke requests per address. */
  tokenFailuresPerIpPerMinute: number;
  userRequestsPerMinute: number;
  registrationsPerIpPerMinute: number;
  /** Client metadata documents fetched for /authorize requests from one address (cache misses only). */
  metadataFetchesPerIpPerMinute: number;
}

export interface Limits {
  /** The browser pages (HTML 429). */
  pages: RequestHandler;
  /** POST /token: per user of a code or refresh token we issued, else per address on failures (JSON 429). */
  token: RequestHandler;
  /** POST /revoke: a token we issued passes, else per address. */
  revocation: RequestHandler;
  /** POST /register: per address. */
  registration: RequestHandler;
  /** Counts a client metadata document fetch for this request's address: seconds to wait when over, else undefined. */
  metadataFetch(req: Request): Promise<number | undefined>;
}

function tooManyJson(res: Response, retryAfter: number, what: string): void {
  res
    .status(429)
    .set({ 'retry-after': String(retryAfter), 'cache-control': 'no-store', 'access-control-allow-origin': '*' })
    .json({ error: 'too_many_requests', error_description: `Too many ${what}; try again in ${retryAfter} seconds.` });
}

const bodyField = (req: Request, name: string, maxLength = 512): string | undefined => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.length > 0 && v.length <= maxLength ? v : undefined;
};

/** The key a client address is counted under: IPv4 as is, IPv6 by its /64 (one host's usual share). */
export function addressKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip); // an IPv4-mapped IPv6 address becomes the IPv4 one
  if (address.kind() === 'ipv4') return address.toString();
  return `${(address as ipaddr.IPv6).parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}

const addressOf = (req: Request) => addressKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');

export function createLimits(deps: {
  db: Database;
  logger: Logger;
  settings: LimitSettings;
  /** Whether a token is an access token this server signed (revocation of one always passes). */
  isOurAccessToken(token: string): Promise<boolean>;
}): Limits {
  const { db, settings, logger } = deps;
  /** Counts a hit; seconds to wait when `key` is over `limit` this minute, else undefined. */
  const over = async (key: string, limit: number): Promise<number | undefined> => {
    const { hits, retryAfterSeconds } = await oauthStore.hit(db, key);
    return hits > limit ? retryAfterSeconds : undefined;
  };
  /** The user of a code or refresh token this server issued (used, expired or live). */
  const ownerOf = (secret: string | undefined) => (secret ? oauthStore.userForSecret(db, hashSecret(secret)) : Promise.resolve(undefined));
  const failuresKey = (address: string) => `ip:${address}:token-failures`;

  return {
    async pages(req, res, next) {
      if (req.method === 'OPTIONS') return next();
      const ip = addressOf(req);
      const wait = await over(`ip:${ip}`, settings.signInPerIpPerMinute);
      if (wait === undefined) return next();
      logger.warn({ ip, limit: settings.signInPerIpPerMinute }, 'oauth sign-in pages rate limited');
      sendMessagePage(res, 429, 'Too many attempts', `Too many sign-in requests from your network. Please wait ${wait} seconds and try again.`, {
        'retry-after': String(wait),
      });
    },

    async token(req, res, next) {
      if (req.method !== 'POST') return next();
      const grantType = bodyField(req, 'grant_type');
      const secret = grantType === 'authorization_code' ? bodyField(req, 'code') : grantType === 'refresh_token' ? bodyField(req, 'refresh_token') : undefined;
      const userId = await ownerOf(secret);
      if (userId !== undefined) {
        const userWait = await over(`user:${userId}:token`, settings.userRequestsPerMinute);
        if (userWait === undefined) return next();
        logger.warn({ clientId: bodyField(req, 'client_id'), userId, limit: settings.userRequestsPerMinute }, 'oauth token requests rate limited (user)');
        return tooManyJson(res, userWait, 'token requests for this account');
      }
      // Without a code or refresh token we issued the request cannot succeed: it counts as failed.
      const ip = addressOf(req);
      const wait = await over(failuresKey(ip), settings.tokenFailuresPerIpPerMinute);
      if (wait === undefined) return next();
      logger.warn({ ip, clientId: bodyField(req, 'client_id'), limit: settings.tokenFailuresPerIpPerMinute }, 'oauth token requests rate limited (failures from address)');
      tooManyJson(res, wait, 'failed token requests from your address');
    },

    async revocation(req, res, next) {
      if (req.method !== 'POST') return next();
      // Access tokens (JWTs) are longer than codes and refresh tokens.
      const token = bodyField(req, 'token', 8192);
      if (token && ((await ownerOf(token)) !== undefined || (await deps.isOurAccessToken(token)))) return next();
      // RFC 7009 answers an unknown token 200 all the same: here every such request is a failure.
      const ip = addressOf(req);
      const wait = await over(failuresKey(ip), settings.tokenFailuresPerIpPerMinute);
      if (wait === undefined) return next();
      logger.warn({ ip, limit: settings.tokenFailuresPerIpPerMinute }, 'oauth revocation requests rate limited (failures from address)');
      tooManyJson(res, wait, 'failed revocation requests from your address');
    },

    async registration(req, res, next) {
      if (req.method !== 'POST') return next();
      const ip = addressOf(req);
      const wait = await over(`ip:${ip}:register`, settings.registrationsPerIpPerMinute);
      if (wait === undefined) return next();
      logger.warn({ ip, limit: settings.registrationsPerIpPerMinute }, 'oauth client registrations rate limited');
      tooManyJson(res, wait, 'client registrations from your address');
    },

    async metadataFetch(req) {
      const ip = addressOf(req);
      const wait = await over(`ip:${ip}:client-metadata`, settings.metadataFetchesPerIpPerMinute);
      if (wait !== undefined) logger.warn({ ip, limit: settings.metadataFetchesPerIpPerMinute }, 'oauth client metadata fetches rate limited');
      return wait;
    },
  };
}
