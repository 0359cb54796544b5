// The SDK's OAuthServerProvider, backed by PostgreSQL. The SDK's handlers parse requests and shape
// answers; this decides: public clients only, PKCE S256, codes used once (a replayed code revokes its
// grant), refresh tokens rotated (a reused one revokes its grant), `resource` bound to the MCP
// endpoint and to the value given at authorization. Refusals are the SDK's OAuth error classes, so
// they reach the client as RFC 6749 errors and never as a 500.
import type { Request, Response } from 'express';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import {
  InvalidClientMetadataError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidTargetError,
  InvalidTokenError as OAuthInvalidTokenError,
  ServerError,
  type OAuthError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { OAuthClientInformationFull, OAuthClientMetadata, OAuthTokenRevocationRequest, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Database, Queryable } from '../db/database.js';
import { userStore } from '../identity/user-store.js';
import type { Logger } from '../logger.js';
import { AccessTokenRejected, type AccessTokenClaims, type AccessTokens } from './access-tokens.js';
import { PAGES_PATH, readBrowserNonce, setBrowserNonce } from './browser.js';
import type { FirebaseAccounts } from './firebase-accounts.js';
import { CODE_CHALLENGE, hashSecret, pkceMatches, randomSecret } from './secrets.js';
import { oauthStore, type CodeRow, type GrantRow } from './store.js';

/** The one scope: act for the user on DOTM (start and follow their eSIM activation). */
export const SCOPE = 'esim';
export const SCOPES_SUPPORTED = [SCOPE];
export const REFRESH_TOKEN_PREFIX = 'dotm_rt_';
export const CODE_PREFIX = 'dotm_ac_';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_REDIRECT_URIS = 10;
const MAX_URI_LENGTH = 2000;
/** Registered clients get a UUID; a metadata document's URL may be longer (see client-metadata.ts). */
export const MAX_CLIENT_ID_LENGTH = 512;

export interface ProviderSettings {
  /** The MCP endpoint URL: the only resource, and the audience of every access token. */
  resource(): string;
  secureCookies(): boolean;
  authCodeTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** How long the sign-in and consent pages of one authorization stay usable. */
  authorizationRequestTtlSeconds: number;
}

export interface OAuthProvider extends OAuthServerProvider {
  /** Verifies an access token for the MCP endpoint: signature, issuer, audience, expiry, and a live grant. */
  authenticate(token: string): Promise<{ claims: AccessTokenClaims; grant: GrantRow }>;
  /** Issues a code for a consented authorization (the consent page). */
  issueCode(tx: Queryable, r: { grantId: number; redirectUri: string; redirectUriGiven: boolean; codeChallenge: string }): Promise<string>;
}

/**
 * Whether a `resource` parameter names the MCP endpoint. The service's origin is taken as the same
 * resource: it protects nothing else, and earlier Gemini CLI releases send the origin alone. Either
 * way the token's audience is the endpoint URL, so the alias widens nothing.
 */
export function sameResource(given: URL | string, expected: string): boolean {
  try {
    const url = typeof given === 'string' ? new URL(given) : given;
    const endpoint = new URL(expected);
    return !url.hash && !url.search && (url.href === endpoint.href || url.href === `${endpoint.origin}/`);
  } catch {
    return false;
  }
}

function checkRedirectUri(uri: string): void {
  if (uri.length > MAX_URI_LENGTH) throw new InvalidClientMetadataError(`redirect_uris: each must be at most ${MAX_URI_LENGTH} characters`);
  const url = new URL(uri);
  if (url.hash) throw new InvalidClientMetadataError('redirect_uris must not contain a fragment');
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new InvalidClientMetadataError('redirect_uris: plain http is allowed only for loopback addresses (localhost, 127.0.0.1, [::1]); use https');
  }
  if (url.protocol === 'file:') throw new InvalidClientMetadataError('redirect_uris must not use file:');
}

/** Client-supplied text shown on the consent page: printable, trimmed, short. */
function cleanName(name: string | undefined): string | undefined {
  const cleaned = name?.replace(/[\p{Cc}\p{Cf}]/gu, '').replace(/\s+/g, ' ').trim().slice(0, 80);
  return cleaned || undefined;
}

interface ProviderDeps {
  db: Database;
  logger: Logger;
  accessTokens: AccessTokens;
  accounts: FirebaseAccounts;
  settings: ProviderSettings;
}

/**
 * The client as this server keeps it, from metadata a client gave (registration) or published (a
 * metadata document): public (no secret; PKCE protects the code), authorization_code and
 * refresh_token only, its redirect URIs checked.
 */
export function publicClient(metadata: OAuthClientMetadata, ids: { client_id: string; client_id_issued_at?: number }): OAuthClientInformationFull {
  const uris = metadata.redirect_uris;
  if (uris.length === 0) throw new InvalidClientMetadataError('redirect_uris: at least one is required');
  if (uris.length > MAX_REDIRECT_URIS) throw new InvalidClientMetadataError(`redirect_uris: at most ${MAX_REDIRECT_URIS}`);
  uris.forEach(checkRedirectUri);
  if (metadata.grant_types && !metadata.grant_types.includes('authorization_code')) {
    throw new InvalidClientMetadataError('grant_types: this server issues tokens only through authorization_code (and refresh_token)');
  }
  if (metadata.response_types && !metadata.response_types.includes('code')) {
    throw new InvalidClientMetadataError('response_types: only "code" is supported');
  }
  return {
    client_id: ids.client_id,
    client_id_issued_at: ids.client_id_issued_at,
    client_name: cleanName(metadata.client_name),
    client_uri: metadata.client_uri,
    logo_uri: metadata.logo_uri,
    redirect_uris: uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: SCOPES_SUPPORTED.join(' '),
    software_id: metadata.software_id,
    software_version: metadata.software_version,
  };
}

function createClientsStore({ db, logger }: Pick<ProviderDeps, 'db' | 'logger'>): OAuthRegisteredClientsStore {
  return {
    // A client_id is a registration's UUID or a metadata document's URL (stored by client-metadata.ts
    // when /authorize accepted the document).
    getClient: (clientId) => (clientId.length > MAX_CLIENT_ID_LENGTH ? undefined : oauthStore.getClient(db, clientId)),
    async registerClient(metadata) {
      const full = metadata as OAuthClientInformationFull;
      // RFC 7591 lets the server settle the metadata: assistants are registered as public clients.
      const client = publicClient(metadata, { client_id: full.client_id, client_id_issued_at: full.client_id_issued_at });
      await oauthStore.insertClient(db, client);
      logger.info({ clientId: client.client_id, clientName: client.client_name, redirectUris: client.redirect_uris.length }, 'oauth client registered');
      return client;
    },
  };
}

async function tokensFor(accessTokens: AccessTokens, grant: GrantRow, refreshToken: string): Promise<OAuthTokens> {
  const scopes = grant.scopes.split(' ').filter(Boolean);
  const { token, expiresIn } = await accessTokens.mint({ uid: grant.firebase_uid, clientId: grant.client_id, grantId: grant.grant_id, scopes });
  return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refreshToken, scope: scopes.join(' ') };
}

function codeProblem(row: CodeRow, verifier: string, redirectUri: string | undefined, resource: URL | undefined): OAuthError | undefined {
  if (!row.live) return new InvalidGrantError('The authorization code has expired; start the sign-in again.');
  if (row.revoked) return new InvalidGrantError('The authorization has been revoked.');
  if (redirectUri !== undefined ? redirectUri !== row.redirect_uri : row.redirect_uri_given) {
    return new InvalidGrantError('redirect_uri does not match the one given at authorization.');
  }
  if (!pkceMatches(verifier, row.code_challenge)) return new InvalidGrantError('code_verifier does not match the code_challenge.');
  if (resource && !sameResource(resource, row.resource)) return new InvalidTargetError(`resource must be ${row.resource}, as at authorization.`);
  return undefined;
}

/** /authorize: records the request and sends the browser to the sign-in page. */
async function authorize({ db, settings }: ProviderDeps, client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
  const req = res.req as Request;
  if (!CODE_CHALLENGE.test(params.codeChallenge)) {
    throw new InvalidRequestError('code_challenge must be a BASE64URL-encoded SHA-256 (S256) challenge of 43 characters.');
  }
  if (params.state !== undefined && params.state.length > 2048) throw new InvalidRequestError('state is too long (at most 2048 characters).');
  const resource = settings.resource();
  if (params.resource && !sameResource(params.resource, resource)) {
    throw new InvalidTargetError(`This server issues tokens only for the resource ${resource}.`);
  }
  const raw = (req.method === 'POST' ? req.body : req.query) as Record<string, unknown> | undefined;
  const nonce = readBrowserNonce(req) ?? randomSecret('', 32);
  const id = randomSecret('', 24);
  await oauthStore.createRequest(db, {
    id,
    clientId: client.client_id,
    redirectUri: params.redirectUri,
    redirectUriGiven: typeof raw?.redirect_uri === 'string',
    codeChallenge: params.codeChallenge,
    state: params.state,
    scopes: SCOPES_SUPPORTED.join(' '),
    resource,
    browserHash: hashSecret(nonce),
    ttlSeconds: settings.authorizationRequestTtlSeconds,
  });
  setBrowserNonce(res, nonce, { secure: settings.secureCookies(), maxAgeSeconds: settings.authorizationRequestTtlSeconds * 4 });
  res.redirect(303, `${PAGES_PATH}/sign-in?request=${encodeURIComponent(id)}`);
}

/** The authorization_code grant: the code is checked and used up in one transaction. */
async function exchangeAuthorizationCode(
  { db, logger, accessTokens, settings }: ProviderDeps,
  client: OAuthClientInformationFull,
  authorizationCode: string,
  codeVerifier: string | undefined,
  redirectUri: string | undefined,
  resource: URL | undefined,
): Promise<OAuthTokens> {
  if (!codeVerifier) throw new InvalidRequestError('code_verifier is required (PKCE).');
  const hash = hashSecret(authorizationCode);
  const outcome = await db.withTransaction(async (tx) => {
    const { code, replayedGrantId, otherClient } = await oauthStore.consumeCode(tx, hash, client.client_id);
    if (!code) {
      if (replayedGrantId !== undefined) {
        // OAuth 2.1 §4.1.3: a code used twice may have leaked; end what it was exchanged for.
        await oauthStore.revokeGrant(tx, replayedGrantId, 'authorization code replayed');
        return { error: new InvalidGrantError('The authorization code was already used.'), replayedGrantId };
      }
      return { error: new InvalidGrantError(otherClient ? 'The authorization code was issued to another client.' : 'The authorization code is not valid.') };
    }
    const problem = codeProblem(code, codeVerifier, redirectUri, resource);
    if (problem) return { error: problem, code };
    const refreshToken = randomSecret(REFRESH_TOKEN_PREFIX);
    await oauthStore.insertRefreshToken(tx, { hash: hashSecret(refreshToken), grantId: code.grant_id, ttlSeconds: settings.refreshTokenTtlSeconds });
    return { code, refreshToken };
  });
  if (outcome.error) {
    const fields = { clientId: client.client_id, grantId: outcome.code?.grant_id ?? outcome.replayedGrantId, reason: outcome.error.message };
    if (outcome.replayedGrantId !== undefined) logger.warn(fields, 'oauth code replayed: grant revoked');
    else logger.info(fields, 'oauth code refused');
    throw outcome.error;
  }
  logger.info({ clientId: client.client_id, userId: outcome.code.user_id, grantId: outcome.code.grant_id, grantType: 'authorization_code' }, 'oauth tokens issued');
  return tokensFor(accessTokens, outcome.code, outcome.refreshToken!);
}

type RefreshTokenRow = NonNullable<Awaited<ReturnType<typeof oauthStore.getRefreshToken>>>;

/**
 * Before a refresh: the Firebase account must still be active and not signed out since the grant;
 * a changed address is recorded. Runs outside the transaction: a network call must not hold a
 * database lock.
 */
async function checkAccountBeforeRefresh({ db, logger, accounts }: ProviderDeps, client: OAuthClientInformationFull, seen: RefreshTokenRow): Promise<void> {
  let account;
  try {
    account = await accounts.status(seen.firebase_uid);
  } catch (err) {
    logger.warn({ err, clientId: client.client_id, grantId: seen.grant_id }, 'oauth refresh: Firebase account look-up failed');
    throw new ServerError('The account could not be checked right now; try again shortly.');
  }
  const signedOut = account.state === 'active' && account.tokensValidAfter && account.tokensValidAfter > seen.grant_created_at;
  if (account.state !== 'active' || signedOut) {
    await oauthStore.revokeGrant(db, seen.grant_id, account.state !== 'active' ? `firebase account ${account.state}` : 'firebase sessions revoked');
    logger.info({ clientId: client.client_id, grantId: seen.grant_id, userId: seen.user_id, account: account.state }, 'oauth grant ended by account state');
    throw new InvalidGrantError('The account is disabled or was signed out; sign in again.');
  }
  if (account.email && (account.email !== seen.email || account.emailVerified !== seen.email_verified)) {
    await userStore.upsertFromToken(db, { uid: seen.firebase_uid, email: account.email, emailVerified: account.emailVerified });
  }
}

/** The refresh_token grant: the token is rotated, and a reused one revokes its grant. */
async function exchangeRefreshToken(
  deps: ProviderDeps,
  client: OAuthClientInformationFull,
  refreshToken: string,
  resource: URL | undefined,
): Promise<OAuthTokens> {
  const { db, logger, accessTokens, settings } = deps;
  const hash = hashSecret(refreshToken);
  const seen = await oauthStore.getRefreshToken(db, hash);
  if (!seen || seen.client_id !== client.client_id) throw new InvalidGrantError('The refresh token is not valid.');
  if (resource && !sameResource(resource, seen.resource)) throw new InvalidTargetError(`resource must be ${seen.resource}, as at authorization.`);
  if (!seen.used && !seen.revoked && seen.live) await checkAccountBeforeRefresh(deps, client, seen);
  const outcome = await db.withTransaction(async (tx) => {
    const row = await oauthStore.getRefreshToken(tx, hash, { forUpdate: true });
    if (!row || row.client_id !== client.client_id) return { error: new InvalidGrantError('The refresh token is not valid.') };
    if (row.used) {
      // Rotated already: two parties hold it, so neither keeps the grant (OAuth 2.1 §4.3.1).
      await oauthStore.revokeGrant(tx, row.grant_id, 'refresh token reused');
      return { error: new InvalidGrantError('The refresh token was already used; sign in again.'), row, reused: true };
    }
    if (row.revoked) return { error: new InvalidGrantError('The authorization has been revoked; sign in again.'), row };
    if (!row.live) return { error: new InvalidGrantError('The refresh token has expired; sign in again.'), row };
    await oauthStore.markRefreshTokenUsed(tx, hash);
    const next = randomSecret(REFRESH_TOKEN_PREFIX);
    await oauthStore.insertRefreshToken(tx, { hash: hashSecret(next), grantId: row.grant_id, ttlSeconds: settings.refreshTokenTtlSeconds });
    return { row: (await oauthStore.getGrant(tx, row.grant_id)) ?? row, next };
  });
  if (outcome.error) {
    const fields = { clientId: client.client_id, grantId: outcome.row?.grant_id, reason: outcome.error.message };
    if (outcome.reused) logger.warn(fields, 'oauth refresh token reused: grant revoked');
    else logger.info(fields, 'oauth refresh refused');
    throw outcome.error;
  }
  logger.info({ clientId: client.client_id, userId: outcome.row.user_id, grantId: outcome.row.grant_id, grantType: 'refresh_token' }, 'oauth tokens issued');
  return tokensFor(accessTokens, outcome.row, outcome.next!);
}

/** RFC 7009: unknown, expired or foreign tokens are answered 200 all the same. */
async function revokeToken({ db, logger, accessTokens }: ProviderDeps, client: OAuthClientInformationFull, request: OAuthTokenRevocationRequest): Promise<void> {
  const refresh = await oauthStore.getRefreshToken(db, hashSecret(request.token));
  let grantId: number | undefined;
  let owner: string | undefined;
  if (refresh) {
    grantId = refresh.grant_id;
    owner = refresh.client_id;
  } else if (accessTokens.claimsToBeOurs(request.token)) {
    const claims = await accessTokens.verifySignature(request.token).catch(() => undefined);
    grantId = claims?.grantId;
    owner = claims?.clientId;
  }
  if (grantId === undefined) return;
  if (owner !== client.client_id) {
    logger.warn({ clientId: client.client_id, grantId }, 'oauth revocation by another client ignored');
    return;
  }
  if (await oauthStore.revokeGrant(db, grantId, 'revoked by client')) {
    logger.info({ clientId: client.client_id, grantId }, 'oauth grant revoked');
  }
}

export function createOAuthProvider(deps: ProviderDeps): OAuthProvider {
  const { db, accessTokens, settings } = deps;

  const authenticate = async (token: string) => {
    const claims = await accessTokens.verify(token);
    const grant = await oauthStore.getGrant(db, claims.grantId);
    if (!grant || grant.revoked || grant.client_id !== claims.clientId || grant.firebase_uid !== claims.uid) {
      throw new AccessTokenRejected('The access token has been revoked; sign in again.');
    }
    return { claims, grant };
  };

  return {
    clientsStore: createClientsStore(deps),
    // The code is checked and used up in one transaction (exchangeAuthorizationCode), not in two steps by the handler.
    skipLocalPkceValidation: true,
    authorize: (client, params, res) => authorize(deps, client, params, res),

    async issueCode(tx, r) {
      const code = randomSecret(CODE_PREFIX);
      await oauthStore.insertCode(tx, {
        hash: hashSecret(code),
        grantId: r.grantId,
        redirectUri: r.redirectUri,
        redirectUriGiven: r.redirectUriGiven,
        codeChallenge: r.codeChallenge,
        ttlSeconds: settings.authCodeTtlSeconds,
      });
      return code;
    },

    async challengeForAuthorizationCode(client, authorizationCode) {
      const row = await oauthStore.peekCode(db, hashSecret(authorizationCode));
      if (!row || row.client_id !== client.client_id || !row.live) throw new InvalidGrantError('The authorization code is not valid.');
      return row.code_challenge;
    },

    exchangeAuthorizationCode: (client, authorizationCode, codeVerifier, redirectUri, resource) =>
      exchangeAuthorizationCode(deps, client, authorizationCode, codeVerifier, redirectUri, resource),
    exchangeRefreshToken: (client, refreshToken, _scopes, resource) => exchangeRefreshToken(deps, client, refreshToken, resource),
    authenticate,

    async verifyAccessToken(token): Promise<AuthInfo> {
      try {
        const { claims } = await authenticate(token);
        return {
          token,
          clientId: claims.clientId,
          scopes: claims.scopes,
          expiresAt: claims.expiresAt,
          resource: new URL(settings.resource()),
          extra: { uid: claims.uid, grantId: claims.grantId },
        };
      } catch (err) {
        if (err instanceof AccessTokenRejected) throw new OAuthInvalidTokenError(err.message);
        throw err;
      }
    },

    revokeToken: (client, request) => revokeToken(deps, client, request),
  };
}
