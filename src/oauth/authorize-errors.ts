// /authorize errors without an open redirect (RFC 9700 §4.11.2, OAuth 2.1 "open redirectors").
// Anyone may register a client with any https redirect URI, so an invalid authorization request
// (bad scope, PKCE, resource, response_type) must not send the browser there by itself: that would
// let anyone bounce users from our address to theirs. The SDK's handler answers such a request with
// a redirect carrying the error; this lets it through only for a browser whose user already answered
// our consent page for that client and redirect URI (the page names where it leads). Every other
// browser gets an error page. A redirect let through carries `iss` (RFC 9207), as the consent
// page's answers do.
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { Request, RequestHandler, Response } from 'express';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { PAGES_PATH, readBrowserNonce } from './browser.js';
import { sendMessagePage } from './pages.js';
import { hashSecret } from './secrets.js';
import { oauthStore } from './store.js';

const paramsOf = (req: Request) => ((req.method === 'POST' ? req.body : req.query) ?? {}) as Record<string, unknown>;

/** The redirect URI the SDK's handler sends errors to: the one given, or the client's only one. */
async function redirectUriOf(req: Request, clients: OAuthRegisteredClientsStore): Promise<{ clientId: string; redirectUri: string } | undefined> {
  const params = paramsOf(req);
  const clientId = params.client_id;
  if (typeof clientId !== 'string') return undefined;
  if (typeof params.redirect_uri === 'string') return { clientId, redirectUri: params.redirect_uri };
  const client = await clients.getClient(clientId);
  return client?.redirect_uris.length === 1 ? { clientId, redirectUri: client.redirect_uris[0]! } : undefined;
}

export function guardAuthorizeErrors(deps: { db: Database; logger: Logger; clients: OAuthRegisteredClientsStore; issuer(): string }): RequestHandler {
  const answeredBefore = async (req: Request): Promise<boolean> => {
    const nonce = readBrowserNonce(req);
    const target = nonce ? await redirectUriOf(req, deps.clients) : undefined;
    return nonce && target ? oauthStore.browserAnswered(deps.db, { browserHash: hashSecret(nonce), ...target }) : false;
  };

  return (req, res, next) => {
    const redirect = res.redirect.bind(res) as (status: number, url: string) => void;
    res.redirect = ((a: number | string, b?: number | string) => {
      const [status, url] = typeof a === 'number' ? [a, String(b)] : [typeof b === 'number' ? b : 302, a];
      // Our own next step (the sign-in page) is no error.
      if (url.startsWith(`${PAGES_PATH}/`)) return redirect(status, url);
      let error: URL;
      try {
        error = new URL(url);
      } catch {
        return sendMessagePage(res, 400, 'Sign-in request not valid', 'The assistant sent a sign-in request this site cannot accept. Go back to your assistant and try again.');
      }
      answeredBefore(req).then(
        (trusted) => {
          const reason = error.searchParams.get('error_description') ?? error.searchParams.get('error') ?? 'invalid request';
          const clientId = paramsOf(req).client_id;
          deps.logger.info(
            { clientId: typeof clientId === 'string' ? clientId.slice(0, 200) : undefined, error: error.searchParams.get('error'), redirected: trusted },
            'oauth authorization request refused',
          );
          if (trusted) {
            error.searchParams.set('iss', deps.issuer());
            return redirect(status, error.href);
          }
          if (error.searchParams.get('error') === 'server_error') {
            return sendMessagePage(res, 503, 'Please try again', 'Something went wrong on our side. Go back to your assistant and try again in a moment.');
          }
          sendMessagePage(res, 400, 'Sign-in request not valid', `The assistant sent a sign-in request this site cannot accept (${reason.slice(0, 300)}). Go back to your assistant and try again.`);
        },
        (err: unknown) => {
          deps.logger.warn({ err }, 'oauth authorization error: consent look-up failed');
          sendMessagePage(res, 503, 'Please try again', 'Something went wrong on our side. Go back to your assistant and try again in a moment.');
        },
      );
    }) as Response['redirect'];
    next();
  };
}
