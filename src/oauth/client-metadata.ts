// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the MCP authorization
// specification's preferred registration since 2025-11-25): a client_id that is an https URL names a
// JSON document the client publishes there. /authorize fetches it (client-metadata-fetch.ts), checks
// it (its client_id is that URL exactly, redirect URIs present, a public client) and the request's
// redirect_uri against it (exact match), and only then stores it as the client, so /token, /revoke
// and the pages treat it as any other client. A refused document stores nothing.
//
// Documents are cached by their HTTP caching headers within configured bounds; a failed look-up is
// answered from memory for a short while (so nobody can make us fetch one address in a loop), and
// requests for the same URL while a fetch is under way share it. Each instance keeps its own cache.
import {
  InvalidClientError,
  InvalidClientMetadataError,
  InvalidRequestError,
  OAuthError,
  ServerError,
  TooManyRequestsError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { OAuthClientMetadataSchema, type OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { fetchClientMetadata, MetadataFetchError, type FetchPolicy } from './client-metadata-fetch.js';
import { sendMessagePage } from './pages.js';
import { MAX_CLIENT_ID_LENGTH, publicClient } from './provider.js';
import { oauthStore } from './store.js';

export interface ClientMetadataSettings extends FetchPolicy {
  /** Bounds on how long a fetched document is used, whatever its caching headers say. */
  cacheMinSeconds: number;
  cacheMaxSeconds: number;
  /** How long a failed look-up is answered from memory (0: never). */
  failureCacheSeconds: number;
  /** Documents (and failures) kept in memory at most. */
  maxEntries?: number;
}

export interface ClientMetadataResolver {
  /**
   * The client a metadata document describes, from the cache or fetched; an OAuthError when the
   * client_id or the document is refused. `beforeFetch` runs (and may refuse) before a fetch is started.
   */
  resolve(clientId: string, opts?: { beforeFetch?: () => Promise<void> }): Promise<OAuthClientInformationFull>;
}

/** A client_id written as a URL: a metadata document's address (registered clients get a UUID). */
export const isClientIdUrl = (clientId: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(clientId);

/** A fetch refused by the per-address limit, with the seconds to wait. */
export class MetadataFetchesLimited extends TooManyRequestsError {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many client metadata documents looked up from your network; try again in ${retryAfterSeconds} seconds.`);
  }
}

const invalidClient = (why: string) => new InvalidClientError(`The client metadata document at client_id cannot be used: ${why}.`);

/** A client identifier URL as the draft (§3) defines it, in the one form it is compared in. */
function clientIdUrl(clientId: string): URL {
  if (clientId.length > MAX_CLIENT_ID_LENGTH) throw new InvalidClientError(`client_id: a URL client_id must be at most ${MAX_CLIENT_ID_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new InvalidClientError('client_id: not a valid URL.');
  }
  const refuse = (why: string) => new InvalidClientError(`client_id: a client metadata document URL ${why}.`);
  if (url.protocol !== 'https:') throw refuse('must use https');
  if (url.username || url.password) throw refuse('must not contain a user name or password');
  if (clientId.includes('#')) throw refuse('must not contain a fragment');
  if (url.pathname === '/') throw refuse('must have a path (like https://assistant.example/oauth/client.json)');
  // Compared as plain strings (draft §3): a URL in another spelling (dot segments, case, default port) would be another client.
  if (url.href !== clientId) throw refuse(`must be written in normal form (${url.href.slice(0, 200)})`);
  return url;
}

/** Seconds the response may be used for by its Cache-Control max-age or Expires, if it says. */
export function freshnessSeconds(headers: IncomingHttpHeaders, nowMs: number): number | undefined {
  const directives = new Map<string, string | undefined>();
  for (const directive of String(headers['cache-control'] ?? '').split(',')) {
    const [name, value] = directive.trim().toLowerCase().split('=');
    if (name) directives.set(name, value);
  }
  if (directives.has('no-store') || directives.has('no-cache')) return 0;
  const maxAge = directives.get('max-age')?.replace(/^"|"$/g, '');
  if (maxAge !== undefined && /^\d+$/.test(maxAge)) return Math.max(0, Number(maxAge) - (Number(headers.age) || 0));
  if (headers.expires === undefined) return undefined;
  // RFC 9111 §5.3: an Expires that is not a valid date (such as "0") is in the past.
  const expires = /^\w{3}, \d{2} \w{3} \d{4} /.test(headers.expires) ? Date.parse(headers.expires) : NaN;
  if (Number.isNaN(expires)) return 0;
  const served = headers.date ? Date.parse(headers.date) : NaN;
  return Math.max(0, Math.floor((expires - (Number.isNaN(served) ? nowMs : served)) / 1000));
}

/** The client a fetched document describes, held to the draft's rules and to this server's. */
function clientFromDocument(clientId: string, body: unknown): OAuthClientInformationFull {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidClient('it is not a JSON object');
  const doc = body as Record<string, unknown>;
  if (doc.client_id !== clientId) {
    throw invalidClient(`its client_id (${JSON.stringify(doc.client_id ?? null).slice(0, 200)}) is not the URL it was fetched from`);
  }
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) throw invalidClient('a metadata document must not carry a client secret');
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    throw invalidClient(`token_endpoint_auth_method is ${JSON.stringify(method).slice(0, 80)}; this server accepts only public clients ("none", with PKCE)`);
  }
  if (!Array.isArray(doc.redirect_uris) || doc.redirect_uris.length === 0) throw invalidClient('it lists no redirect_uris');
  const parsed = OAuthClientMetadataSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalidClient(`${issue.path.join('.') || 'metadata'}: ${issue.message}`);
  }
  try {
    return publicClient(parsed.data, { client_id: clientId });
  } catch (err) {
    if (err instanceof InvalidClientMetadataError) throw invalidClient(err.message);
    throw err;
  }
}

export function createClientMetadataResolver(deps: { logger: Logger; settings: ClientMetadataSettings; now?: () => number }): ClientMetadataResolver {
  const { logger, settings } = deps;
  const now = deps.now ?? Date.now;
  const maxEntries = settings.maxEntries ?? 1000;
  type Entry = { expiresAt: number; client?: OAuthClientInformationFull; failure?: OAuthError };
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<OAuthClientInformationFull>>();

  const remember = (clientId: string, entry: Entry) => {
    cache.delete(clientId);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(clientId, entry);
  };
  const fromCache = (clientId: string) => {
    const entry = cache.get(clientId);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      cache.delete(clientId);
      return undefined;
    }
    if (entry.failure) throw entry.failure;
    return entry.client;
  };

  async function fetchAndCheck(clientId: string, url: URL): Promise<OAuthClientInformationFull> {
    try {
      const { body, headers } = await fetchClientMetadata(url, settings);
      const client = clientFromDocument(clientId, body);
      const fresh = freshnessSeconds(headers, now()) ?? settings.cacheMinSeconds;
      const seconds = Math.min(settings.cacheMaxSeconds, Math.max(settings.cacheMinSeconds, fresh));
      remember(clientId, { client, expiresAt: now() + seconds * 1000 });
      logger.info({ clientId, clientName: client.client_name, cacheSeconds: seconds }, 'oauth client metadata document fetched');
      return client;
    } catch (err) {
      const failure = err instanceof MetadataFetchError ? invalidClient(err.message) : err;
      if (!(failure instanceof OAuthError)) throw failure;
      if (settings.failureCacheSeconds > 0) remember(clientId, { failure, expiresAt: now() + settings.failureCacheSeconds * 1000 });
      logger.info({ clientId, reason: failure.message }, 'oauth client metadata document refused');
      throw failure;
    }
  }

  return {
    async resolve(clientId, opts = {}) {
      const url = clientIdUrl(clientId);
      const cached = fromCache(clientId);
      if (cached) return cached;
      if (!inFlight.has(clientId) && opts.beforeFetch) {
        await opts.beforeFetch();
        // Another request may have fetched it meanwhile.
        const fetched = fromCache(clientId);
        if (fetched) return fetched;
      }
      let pending = inFlight.get(clientId);
      if (!pending) {
        pending = fetchAndCheck(clientId, url).finally(() => inFlight.delete(clientId));
        inFlight.set(clientId, pending);
      }
      return pending;
    },
  };
}

const paramsOf = (req: Request) => ((req.method === 'POST' ? req.body : req.query) ?? {}) as Record<string, unknown>;

/**
 * /authorize, before the SDK's handler: a URL client_id is resolved to its document, the redirect URI
 * is checked against it exactly, and the client is stored; the handler then finds it like any other.
 * A refusal is an error page: there is no verified redirect URI to send it to.
 */
export function metadataClientsAtAuthorize(deps: {
  db: Database;
  logger: Logger;
  resolver: ClientMetadataResolver;
  /** Seconds to wait when this address has started too many fetches, else undefined. */
  fetchLimit(req: Request): Promise<number | undefined>;
}): RequestHandler {
  return async (req, res, next) => {
    const params = paramsOf(req);
    const clientId = params.client_id;
    if (typeof clientId !== 'string' || !isClientIdUrl(clientId)) return next();
    try {
      const client = await deps.resolver.resolve(clientId, {
        beforeFetch: async () => {
          const wait = await deps.fetchLimit(req);
          if (wait !== undefined) throw new MetadataFetchesLimited(wait);
        },
      });
      const redirectUri = params.redirect_uri;
      if (typeof redirectUri === 'string' ? !client.redirect_uris.includes(redirectUri) : client.redirect_uris.length !== 1) {
        throw new InvalidRequestError(
          typeof redirectUri === 'string'
            ? 'redirect_uri is not one of the redirect_uris in the client metadata document (they are compared exactly).'
            : 'redirect_uri is required: the client metadata document lists several.',
        );
      }
      await oauthStore.saveMetadataClient(deps.db, client);
      next();
    } catch (err) {
      if (!(err instanceof OAuthError)) return next(err);
      const limited = err instanceof MetadataFetchesLimited;
      deps.logger.info({ clientId: clientId.slice(0, MAX_CLIENT_ID_LENGTH), error: err.errorCode, reason: err.message }, 'oauth authorization request refused');
      sendMessagePage(
        res,
        limited ? 429 : err instanceof ServerError ? 503 : 400,
        limited ? 'Too many attempts' : 'Sign-in request not valid',
        limited
          ? err.message
          : `The assistant sent a sign-in request this site cannot accept (${err.errorCode}: ${err.message.slice(0, 400)}) Go back to your assistant and try again.`,
        limited ? { 'retry-after': String(err.retryAfterSeconds) } : undefined,
      );
    }
  };
}
