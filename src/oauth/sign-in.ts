// GET/POST /oauth/sign-in and /oauth/consent: the pages between /authorize and the redirect back to
// the assistant. Sign-in proves who the user is with a Firebase ID token (from Firebase
// Authentication in the browser, or minted for the address typed into the local form) verified by
// firebase-admin, and registers the user; consent names the assistant and, on "Allow", issues the
// code. Both are plain form POSTs, each bound to the browser that began (cookie) and carrying a CSRF
// token.
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import type { Database } from '../db/database.js';
import { AppError, requestBodyError } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import { InvalidTokenError, type TokenVerifier } from '../identity/firebase-verifier.js';
import { recordUser } from '../identity/registration.js';
import { maskEmail, type Logger } from '../logger.js';
import { PAGES_PATH, readBrowserNonce } from './browser.js';
import { isClientIdUrl } from './client-metadata.js';
import type { Limits } from './limits.js';
import { consentPage, firebaseSignInPage, localSignInPage, messagePage, sendPage, type FirebaseWebConfig } from './pages.js';
import type { OAuthProvider } from './provider.js';
import { csrfToken, csrfTokenValid, hashSecret, randomSecret, safeEqual } from './secrets.js';
import { oauthStore, type AuthorizationRequest } from './store.js';

export type SignInMode =
  /** The address typed into the form is signed in with a token from the local Firebase stand-in. */
  | { kind: 'local'; idTokenFor(email: string): string }
  | { kind: 'firebase'; web?: FirebaseWebConfig };

export interface SignInDeps {
  db: Database;
  logger: Logger;
  provider: OAuthProvider;
  firebaseVerifier: TokenVerifier;
  mode: SignInMode;
  limits: Limits;
  pageSecret: Buffer;
  ownOrigin(): string;
  issuer(): string;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{20,64}$/;
const EMAIL = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/;
const MAX_ID_TOKEN = 16_384;

/** The name the client gave (or published); a metadata-document client without one goes by its host. */
const clientNameOf = (r: AuthorizationRequest) =>
  r.client.client_name ?? (isClientIdUrl(r.client_id) ? new URL(r.client_id).host : 'An assistant without a name');

/** What the user is sent back to, as they can judge it: scheme and host. */
function redirectTarget(uri: string): { label: string; formTarget: string } {
  const url = new URL(uri);
  if (url.protocol === 'http:' || url.protocol === 'https:') return { label: url.origin, formTarget: url.origin };
  return { label: `${url.protocol}//${url.host}`, formTarget: url.protocol };
}

type Body = Record<string, unknown>;
type Loaded = { request: AuthorizationRequest; nonce: string };

/** What every page handler shares: answering with a page, and finding the request behind it. */
function pageKit(deps: SignInDeps) {
  const { db, mode } = deps;
  const send = (res: Response, status: number, render: (nonce: string) => string, csp: { formTargets?: string[]; firebase?: FirebaseWebConfig } = {}) =>
    sendPage(res, status, render, { csp });
  /** 303 after a form post; the target (with a code, at the end) must not be cached on the way. */
  const seeOther = (res: Response, location: string) => {
    res.set({ 'cache-control': 'no-store', 'referrer-policy': 'same-origin' }).redirect(303, location);
  };
  const message = (res: Response, status: number, title: string, text: string) => send(res, status, (nonce) => messagePage({ nonce, title, message: text }));

  /** The authorization request behind a page, if it is live and this is the browser that began it. */
  async function load(req: Request, res: Response, id: unknown): Promise<Loaded | undefined> {
    if (typeof id !== 'string' || !REQUEST_ID.test(id)) {
      message(res, 400, 'Link not valid', 'This sign-in link is not valid. Go back to your assistant and connect again.');
      return undefined;
    }
    const request = await oauthStore.getRequest(db, id);
    if (!request || !request.live) {
      message(res, 400, 'Sign-in expired', 'This sign-in has expired. Go back to your assistant and connect again.');
      return undefined;
    }
    if (request.completed) {
      message(res, 400, 'Already finished', 'This sign-in is already finished. You can close this page and go back to your assistant.');
      return undefined;
    }
    const nonce = readBrowserNonce(req);
    if (!nonce || !safeEqual(hashSecret(nonce), request.browser_hash)) {
      message(res, 403, 'Different browser', 'Please finish signing in in the browser where you started, or go back to your assistant and connect again.');
      return undefined;
    }
    return { request, nonce };
  }

  /** Form posts must come from our own pages: a foreign Origin is refused outright (besides the CSRF token). */
  const sameOrigin = (req: Request) => {
    const origin = req.headers.origin;
    return !origin || origin === 'null' || origin === deps.ownOrigin();
  };

  /** A form post from one of our pages: same origin, a live request of this browser, a valid CSRF token. */
  async function loadPosted(req: Request, res: Response, page: 'sign-in' | 'consent'): Promise<(Loaded & { body: Body }) | undefined> {
    if (!sameOrigin(req)) {
      message(res, 403, 'Not allowed', 'This form can only be sent from this site.');
      return undefined;
    }
    const body = (req.body ?? {}) as Body;
    const loaded = await load(req, res, body.request);
    if (!loaded) return undefined;
    if (!csrfTokenValid(deps.pageSecret, page, loaded.request.id, loaded.nonce, body.csrf)) {
      message(res, 403, 'Page expired', 'This page has expired. Go back, reload it and try again.');
      return undefined;
    }
    return { ...loaded, body };
  }

  function renderSignIn(res: Response, status: number, request: AuthorizationRequest, nonce: string, extra: { error?: string; email?: string } = {}) {
    const ctx = { requestId: request.id, csrf: csrfToken(deps.pageSecret, 'sign-in', request.id, nonce), clientName: clientNameOf(request), ...extra };
    if (mode.kind === 'local') return send(res, status, (n) => localSignInPage({ ...ctx, nonce: n }));
    if (!mode.web) {
      return message(res, 503, 'Sign-in unavailable', 'Sign-in is not configured on this server yet (FIREBASE_WEB_API_KEY). Please try again later.');
    }
    const web = mode.web;
    return send(res, status, (n) => firebaseSignInPage({ ...ctx, nonce: n, firebase: web }), { firebase: web });
  }

  const signInPageOf = (request: AuthorizationRequest) => `${PAGES_PATH}/sign-in?request=${encodeURIComponent(request.id)}`;

  return { send, seeOther, message, load, loadPosted, renderSignIn, signInPageOf };
}
type PageKit = ReturnType<typeof pageKit>;

/**
 * The signed-in caller from a sign-in form: the typed address (local) or the posted Firebase ID
 * token. Undefined when a page has already answered.
 */
async function callerFromForm(deps: SignInDeps, kit: PageKit, res: Response, { request, nonce, body }: Loaded & { body: Body }): Promise<Caller | undefined> {
  const { logger, mode } = deps;
  let typedEmail: string | undefined;
  try {
    if (mode.kind === 'local') {
      typedEmail = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
      if (typedEmail.length > 254 || !EMAIL.test(typedEmail)) {
        kit.renderSignIn(res, 400, request, nonce, { error: 'Enter a valid e-mail address, like name@example.com.', email: typedEmail.slice(0, 254) });
        return undefined;
      }
      return await deps.firebaseVerifier.verify(mode.idTokenFor(typedEmail));
    }
    const idToken = body.id_token;
    if (typeof idToken !== 'string' || idToken.length === 0 || idToken.length > MAX_ID_TOKEN) {
      kit.renderSignIn(res, 400, request, nonce, { error: 'Sign-in did not complete. Please try again.' });
      return undefined;
    }
    return await deps.firebaseVerifier.verify(idToken);
  } catch (err) {
    if (err instanceof InvalidTokenError) {
      logger.info({ clientId: request.client_id, reason: err.message }, 'oauth sign-in refused');
      kit.renderSignIn(res, 400, request, nonce, { error: `Sign-in failed: ${err.message}`, email: typedEmail });
      return undefined;
    }
    if (err instanceof AppError && err.userFault) {
      logger.warn({ err, clientId: request.client_id }, 'oauth sign-in could not be checked');
      kit.message(res, 503, 'Please try again', err.message);
      return undefined;
    }
    throw err;
  }
}

/** POST /sign-in: registers the user and moves the request on to consent. */
async function postSignIn(deps: SignInDeps, kit: PageKit, req: Request, res: Response): Promise<void> {
  const { db, logger } = deps;
  const posted = await kit.loadPosted(req, res, 'sign-in');
  if (!posted) return;
  const { request, nonce } = posted;
  const caller = await callerFromForm(deps, kit, res, posted);
  if (!caller) return;
  if (!caller.email) {
    kit.renderSignIn(res, 400, request, nonce, {
      error: 'This account has no e-mail address. DOTM sends the invoice and the eSIM QR code by e-mail, so please use an account with one.',
    });
    return;
  }
  const user = await recordUser({ db, logger }, { ...caller, email: caller.email }, 'oauth sign-in');
  await oauthStore.signInRequest(db, request.id, user.id);
  logger.info({ clientId: request.client_id, userId: user.id, email: maskEmail(caller.email) }, 'oauth sign-in');
  kit.seeOther(res, `${PAGES_PATH}/consent?request=${encodeURIComponent(request.id)}`);
}

/** GET /consent: names the assistant and where the user will be sent back. */
async function getConsent(deps: SignInDeps, kit: PageKit, req: Request, res: Response): Promise<void> {
  const loaded = await kit.load(req, res, req.query.request);
  if (!loaded) return;
  const { request, nonce } = loaded;
  if (request.user_id === null || !request.user_email) return kit.seeOther(res, kit.signInPageOf(request));
  const target = redirectTarget(request.redirect_uri);
  kit.send(
    res,
    200,
    (n) =>
      consentPage({
        nonce: n,
        requestId: request.id,
        csrf: csrfToken(deps.pageSecret, 'consent', request.id, nonce),
        clientName: clientNameOf(request),
        email: request.user_email!,
        redirectTarget: target.label,
        publishedBy: isClientIdUrl(request.client_id) ? new URL(request.client_id).host : undefined,
      }),
    // Browsers apply form-action to the redirect that answers the form, too.
    { formTargets: [target.formTarget] },
  );
}

/** "Allow": completes the request and issues a grant and its code in one transaction. */
async function allow(deps: SignInDeps, request: AuthorizationRequest, userId: number): Promise<{ grantId: number; code: string } | undefined> {
  return deps.db.withTransaction(async (tx) => {
    if (!(await oauthStore.completeRequest(tx, request.id))) return undefined;
    const grantId = await oauthStore.createGrant(tx, { clientId: request.client_id, userId, scopes: request.scopes, resource: request.resource });
    const code = await deps.provider.issueCode(tx, {
      grantId,
      redirectUri: request.redirect_uri,
      redirectUriGiven: request.redirect_uri_given,
      codeChallenge: request.code_challenge,
    });
    return { grantId, code };
  });
}

/** POST /consent: the user's answer, sent back to the assistant's redirect URI. */
async function postConsent(deps: SignInDeps, kit: PageKit, req: Request, res: Response): Promise<void> {
  const { db, logger } = deps;
  const posted = await kit.loadPosted(req, res, 'consent');
  if (!posted) return;
  const { request, body } = posted;
  if (request.user_id === null) return kit.seeOther(res, kit.signInPageOf(request));
  const userId = request.user_id;
  const back = new URL(request.redirect_uri);

  if (body.decision === 'deny') {
    if (!(await oauthStore.completeRequest(db, request.id))) return kit.message(res, 400, 'Already finished', 'This sign-in is already finished.');
    logger.info({ clientId: request.client_id, userId }, 'oauth consent denied');
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'The user did not allow access.');
  } else if (body.decision === 'allow') {
    const issued = await allow(deps, request, userId);
    if (!issued) return kit.message(res, 400, 'Already finished', 'This sign-in is already finished.');
    logger.info({ clientId: request.client_id, userId, grantId: issued.grantId }, 'oauth consent granted');
    back.searchParams.set('code', issued.code);
  } else {
    return kit.message(res, 400, 'Choose an answer', 'Please choose Allow or Deny.');
  }
  if (request.state !== null) back.searchParams.set('state', request.state);
  // RFC 9207: tells the client which authorization server answered (mix-up defence).
  back.searchParams.set('iss', deps.issuer());
  kit.seeOther(res, back.href);
}

export function createSignInRoutes(deps: SignInDeps): Router {
  const kit = pageKit(deps);
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 20 });

  router.use(deps.limits.pages);
  router.get('/sign-in', async (req, res) => {
    const loaded = await kit.load(req, res, req.query.request);
    if (loaded) kit.renderSignIn(res, 200, loaded.request, loaded.nonce);
  });
  router.post('/sign-in', form, (req, res) => postSignIn(deps, kit, req, res));
  router.get('/consent', (req, res) => getConsent(deps, kit, req, res));
  router.post('/consent', form, (req, res) => postConsent(deps, kit, req, res));

  // A form the browser sent in a way we cannot read (corrupt compression, unknown encoding) gets a
  // page with the client's status, not the 500 of an unknown error.
  const unreadableForm: ErrorRequestHandler = (err, req, res, next) => {
    const bodyError = requestBodyError(err);
    if (!bodyError || res.headersSent) return next(err);
    req.log?.warn({ status: bodyError.status, type: bodyError.type, reason: (err as Error).message }, 'request body could not be read');
    kit.message(res, bodyError.status, 'Form not readable', 'This site could not read the form your browser sent. Go back, reload the page and try again.');
  };
  router.use(unreadableForm);

  return router;
}
