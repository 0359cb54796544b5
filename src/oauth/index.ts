// The OAuth 2.1 authorization server in front of Firebase, as the MCP authorization specification
// describes it: metadata (RFC 8414), public clients known by a Client ID Metadata Document (a URL
// client_id, client-metadata.ts) or registered dynamically (RFC 7591), /authorize with PKCE S256
// through a sign-in and a consent page, `iss` in every authorization response (RFC 9207), /token
// (authorization code, rotated refresh tokens), /revoke (RFC 7009), and the verifier of its access
// tokens for the MCP endpoint.
//
// The SDK's mcpAuthRouter does the protocol plumbing; this module supplies the provider, its own
// metadata (public clients only, jwks_uri, an issuer without a trailing slash), the JWKS, the pages,
// its own abuse limits (limits.ts), and /authorize errors without an open redirect (authorize-errors.ts).
import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { AppError, requestBodyError } from '../errors.js';
import { InvalidTokenError, type TokenVerifier } from '../identity/firebase-verifier.js';
import type { Logger } from '../logger.js';
import { MCP_PATH } from '../mcp/endpoint.js';
import { AccessTokenRejected, createAccessTokens, type AccessTokens } from './access-tokens.js';
import { guardAuthorizeErrors } from './authorize-errors.js';
import { AUTHORIZE_PATH, PAGES_PATH } from './browser.js';
import { createClientMetadataResolver, metadataClientsAtAuthorize, type ClientMetadataSettings } from './client-metadata.js';
import { createFirebaseAccounts } from './firebase-accounts.js';
import { loadSigningKey } from './keys.js';
import { createLimits, type Limits } from './limits.js';
import { createOAuthProvider, SCOPES_SUPPORTED, type OAuthProvider } from './provider.js';
import { createSignInRoutes, type SignInMode } from './sign-in.js';
import { oauthStore } from './store.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';
const SDK_ROUTES = new Set(['/authorize', '/token', '/register', '/revoke']);
const AUTHORIZATION_REQUEST_TTL_SECONDS = 15 * 60;
const PRUNE_EVERY_MS = 10 * 60_000;

export interface OAuthModule {
  /** Mounts metadata, JWKS, /authorize (with metadata-document clients), /token, /register, /revoke and the pages. */
  mount(app: Express): void;
  /** Verifies this service's access tokens for the MCP endpoint; `accepts` picks them out of a chain. */
  verifier: TokenVerifier & { accepts(token: string): boolean };
  /** The issuer: this service's base URL, as in the metadata, the tokens and the protected-resource metadata. */
  issuer(): string;
  /** Deletes expired codes, requests, refresh tokens and rate windows (also runs on a timer). */
  prune(): Promise<void>;
  close(): Promise<void>;
}

export interface OAuthModuleDeps {
  db: Database;
  config: Config;
  logger: Logger;
  /** The service's public base URL, no trailing slash (known once listening). */
  baseUrl(): string;
  /** Verifies Firebase ID tokens posted back by the sign-in page. */
  firebaseVerifier: TokenVerifier;
  /** With the local Firebase stand-in (config.local.firebase): the ID token for an address typed into the sign-in form. */
  localIdTokenFor?(email: string): string;
}

function checkIssuer(url: string): void {
  const u = new URL(url);
  const loopback = u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !loopback) throw new Error(`PUBLIC_BASE_URL must be https to serve as the OAuth issuer (got ${u.origin})`);
  if (u.search || u.hash) throw new Error('PUBLIC_BASE_URL must not carry a query or a fragment (it is the OAuth issuer)');
}

/** How the sign-in page signs people in: the local stand-in's form, or Firebase Authentication. */
function signInModeFor({ config, logger, localIdTokenFor }: OAuthModuleDeps): SignInMode {
  if (config.local.firebase && !localIdTokenFor) throw new Error('the local sign-in needs localIdTokenFor');
  const mode: SignInMode = localIdTokenFor && config.local.firebase
    ? { kind: 'local', idTokenFor: localIdTokenFor }
    : {
        kind: 'firebase',
        web: config.FIREBASE_WEB_API_KEY
          ? {
              apiKey: config.FIREBASE_WEB_API_KEY,
              authDomain: config.FIREBASE_AUTH_DOMAIN ?? `${config.firebaseProjectId}.firebaseapp.com`,
              projectId: config.firebaseProjectId,
            }
          : undefined,
      };
  if (mode.kind === 'firebase' && !mode.web) logger.warn('FIREBASE_WEB_API_KEY is not set: the OAuth sign-in page cannot sign anyone in');
  return mode;
}

/** RFC 8414 metadata for the issuer `base`. */
function authorizationServerMetadata(base: string) {
  return {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    revocation_endpoint: `${base}/revoke`,
    jwks_uri: `${base}${JWKS_PATH}`,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${base}/`,
  };
}

/**
 * The SDK router fixes its URLs when built, and the base URL is known only once the server
 * listens (port 0 in tests): build it on first use, again if the base URL changes.
 */
function lazySdkRouter(provider: OAuthProvider, issuer: () => string, resource: () => string): () => RequestHandler {
  let built: { base: string; router: RequestHandler } | undefined;
  return () => {
    const base = issuer();
    if (built?.base !== base) {
      built = {
        base,
        router: mcpAuthRouter({
          provider,
          issuerUrl: new URL(base),
          resourceServerUrl: new URL(resource()),
          scopesSupported: SCOPES_SUPPORTED,
          resourceName: 'DOTM Global Data eSIM',
          authorizationOptions: { rateLimit: false },
          tokenOptions: { rateLimit: false },
          revocationOptions: { rateLimit: false },
          clientRegistrationOptions: { rateLimit: false },
        }),
      };
    }
    return built.router;
  };
}

const publicJson = (body: () => unknown): RequestHandler => (_req, res) => {
  res.set({ 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' }).json(body());
};
const preflight: RequestHandler = (_req, res) => {
  res.set({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-allow-headers': '*' }).sendStatus(204);
};
// A body that cannot be read (corrupt compression, unknown encoding) is the client's fault,
// answered as RFC 6749 errors are rather than as the 500 of an unknown error.
const unreadableBody: ErrorRequestHandler = (err, req, res, next) => {
  const bodyError = requestBodyError(err);
  if (!bodyError || res.headersSent) return next(err);
  req.log?.warn({ status: bodyError.status, type: bodyError.type, reason: (err as Error).message }, 'request body could not be read');
  res.status(bodyError.status).set('cache-control', 'no-store').json({ error: 'invalid_request', error_description: bodyError.message });
};

/** The MCP endpoint's check of this service's access tokens, as a TokenVerifier. */
function accessTokenVerifier(provider: OAuthProvider, accessTokens: AccessTokens): OAuthModule['verifier'] {
  return {
    accepts: (token) => accessTokens.claimsToBeOurs(token),
    async verify(token) {
      try {
        const { claims, grant } = await provider.authenticate(token);
        return { uid: claims.uid, email: grant.email, emailVerified: grant.email_verified, via: 'oauth', clientId: claims.clientId };
      } catch (err) {
        if (err instanceof AccessTokenRejected) throw new InvalidTokenError(err.message);
        throw new AppError('upstream_unavailable', 'Sign-in could not be checked right now; please try again shortly.', { cause: err });
      }
    },
  };
}

/** The abuse limits from config; a request carrying one of our access tokens counts against its user. */
function limitsFor({ db, logger, config }: OAuthModuleDeps, accessTokens: AccessTokens): Limits {
  return createLimits({
    db,
    logger,
    settings: {
      signInPerIpPerMinute: config.OAUTH_SIGN_IN_PER_IP_PER_MINUTE,
      tokenFailuresPerIpPerMinute: config.OAUTH_TOKEN_FAILURES_PER_IP_PER_MINUTE,
      userRequestsPerMinute: config.USER_CALLS_PER_MINUTE,
      registrationsPerIpPerMinute: config.OAUTH_REGISTRATIONS_PER_IP_PER_MINUTE,
      metadataFetchesPerIpPerMinute: config.OAUTH_CLIENT_METADATA_FETCHES_PER_IP_PER_MINUTE,
    },
    isOurAccessToken: (token) =>
      accessTokens.claimsToBeOurs(token)
        ? accessTokens.verifySignature(token).then(
            () => true,
            () => false,
          )
        : Promise.resolve(false),
  });
}

/**
 * How client metadata documents are fetched. Production fetches from public addresses only, trusting
 * the default store (Node adds NODE_EXTRA_CA_CERTS to it at start); elsewhere loopback is allowed and
 * the configured NODE_EXTRA_CA_CERTS is trusted too, even when the service was started in-process.
 */
function clientMetadataSettings({ config, logger }: OAuthModuleDeps): ClientMetadataSettings {
  const production = config.NODE_ENV === 'production';
  let extraCa: string | undefined;
  if (!production && config.NODE_EXTRA_CA_CERTS) {
    try {
      extraCa = readFileSync(config.NODE_EXTRA_CA_CERTS, 'utf8');
    } catch (err) {
      logger.warn({ err, file: config.NODE_EXTRA_CA_CERTS }, 'NODE_EXTRA_CA_CERTS could not be read: client metadata documents are fetched with the default trust store');
    }
  }
  return {
    allowLoopback: !production,
    extraCa,
    timeoutMs: config.OAUTH_CLIENT_METADATA_TIMEOUT_MS,
    maxBytes: config.OAUTH_CLIENT_METADATA_MAX_BYTES,
    cacheMinSeconds: config.OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS,
    cacheMaxSeconds: config.OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS,
    failureCacheSeconds: config.OAUTH_CLIENT_METADATA_FAILURE_CACHE_SECONDS,
  };
}

export async function createOAuthModule(deps: OAuthModuleDeps): Promise<OAuthModule> {
  const { db, config, logger } = deps;
  if (config.PUBLIC_BASE_URL) checkIssuer(config.PUBLIC_BASE_URL);
  const issuer = () => deps.baseUrl().replace(/\/+$/, '');
  const resource = () => `${issuer()}${MCP_PATH}`;

  const key = await loadSigningKey(db, config.OAUTH_SIGNING_KEY);
  const accessTokens = createAccessTokens({ key, issuer, audience: resource, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS });
  const accounts = createFirebaseAccounts({ projectId: config.firebaseProjectId });
  const provider = createOAuthProvider({
    db,
    logger,
    accessTokens,
    accounts,
    settings: {
      resource,
      secureCookies: () => issuer().startsWith('https:'),
      authCodeTtlSeconds: config.AUTH_CODE_TTL_SECONDS,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      authorizationRequestTtlSeconds: AUTHORIZATION_REQUEST_TTL_SECONDS,
    },
  });
  const limits = limitsFor(deps, accessTokens);
  const authorizeErrors = guardAuthorizeErrors({ db, logger, clients: provider.clientsStore, issuer });
  const metadataClients = metadataClientsAtAuthorize({
    db,
    logger,
    resolver: createClientMetadataResolver({ logger, settings: clientMetadataSettings(deps) }),
    fetchLimit: (req) => limits.metadataFetch(req),
  });
  const mode = signInModeFor(deps);
  logger.info({ signIn: mode.kind, kid: key.kid, alg: key.alg, keySource: config.OAUTH_SIGNING_KEY ? 'config' : 'database' }, 'oauth authorization server ready');

  const sdkRouter = lazySdkRouter(provider, issuer, resource);
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const signInRoutes = createSignInRoutes({
    db,
    logger,
    provider,
    firebaseVerifier: deps.firebaseVerifier,
    mode,
    limits,
    pageSecret: key.pageSecret,
    ownOrigin: () => new URL(issuer()).origin,
    issuer,
  });

  const prune = () => oauthStore.prune(db);
  const timer = setInterval(() => {
    prune().catch((err: unknown) => logger.warn({ err }, 'oauth prune failed'));
  }, PRUNE_EVERY_MS);
  timer.unref();

  return {
    issuer,
    prune,
    mount(app) {
      app.get(AUTHORIZATION_SERVER_METADATA_PATH, publicJson(() => authorizationServerMetadata(issuer())));
      app.options(AUTHORIZATION_SERVER_METADATA_PATH, preflight);
      app.get(JWKS_PATH, publicJson(() => ({ keys: [key.publicJwk] })));
      app.options(JWKS_PATH, preflight);
      app.use(AUTHORIZE_PATH, limits.pages, authorizeErrors, form, metadataClients);
      app.use('/token', form, limits.token);
      app.use('/revoke', form, limits.revocation);
      app.use('/register', limits.registration);
      app.use((req, res, next) => (SDK_ROUTES.has(req.path) ? sdkRouter()(req, res, next) : next()));
      app.use([...SDK_ROUTES], unreadableBody);
      app.use(PAGES_PATH, signInRoutes);
    },
    verifier: accessTokenVerifier(provider, accessTokens),
    async close() {
      clearInterval(timer);
      await accounts.close();
    },
  };
}
