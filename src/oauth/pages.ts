// The sign-in and consent pages: plain HTML forms that work without JavaScript. Every value from a
// client registration or a user is escaped; styles and the production sign-in script carry a
// per-response nonce allowed by the Content-Security-Policy.
import type { Response } from 'express';
import { randomSecret } from './secrets.js';

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON inside a <script> element: nothing in it can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export interface FirebaseWebConfig {
  apiKey: string;
  authDomain: string;
  projectId: string;
}

/** The Firebase Web SDK version the production sign-in page loads. */
export const FIREBASE_JS_VERSION = '10.12.2';
const FIREBASE_JS = `https://www.gstatic.com/firebasejs/${FIREBASE_JS_VERSION}`;

/**
 * Sends one of these pages with its own CSP nonce and the headers every page carries (no caching,
 * no framing, no sniffing).
 */
export function sendPage(
  res: Response,
  status: number,
  render: (nonce: string) => string,
  opts: { csp?: { formTargets?: string[]; firebase?: FirebaseWebConfig }; headers?: Record<string, string> } = {},
): void {
  const nonce = randomSecret('', 16);
  res
    .status(status)
    .set({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': contentSecurityPolicy({ nonce, ...opts.csp }),
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      ...opts.headers,
    })
    .send(render(nonce));
}

/** A page that only says something (errors, limits). */
export function sendMessagePage(res: Response, status: number, title: string, message: string, headers?: Record<string, string>): void {
  sendPage(res, status, (nonce) => messagePage({ nonce, title, message }), { headers });
}

export function contentSecurityPolicy(opts: { nonce: string; formTargets?: string[]; firebase?: FirebaseWebConfig }): string {
  const directives = [
    "default-src 'none'",
    `style-src 'nonce-${opts.nonce}'`,
    "img-src 'self' data:",
    `form-action 'self'${(opts.formTargets ?? []).map((t) => ` ${t}`).join('')}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ];
  if (opts.firebase) {
    directives.push(
      `script-src 'nonce-${opts.nonce}' https://www.gstatic.com https://apis.google.com`,
      'connect-src https://identitytoolkit.googleapis.com https://securetoken.googleapis.com https://www.googleapis.com https://apis.google.com',
      `frame-src https://${opts.firebase.authDomain} https://accounts.google.com https://apis.google.com`,
    );
  }
  return directives.join('; ');
}

const STYLE = `
  :root { color-scheme: light dark; --accent: #0b63ce; }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; padding: 2rem 1rem; display: flex; justify-content: center; }
  main { width: 100%; max-width: 26rem; }
  h1 { font-size: 1.35rem; margin: 0 0 1rem; }
  p { margin: 0 0 1rem; }
  label { display: block; font-weight: 600; margin-bottom: .25rem; }
  input[type=email] { width: 100%; padding: .6rem; font: inherit; border: 1px solid #8a8f98; border-radius: .4rem; margin-bottom: 1rem; }
  button { font: inherit; padding: .6rem 1rem; border-radius: .4rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: transparent; color: inherit; border-color: #8a8f98; }
  .row { display: flex; gap: .75rem; flex-wrap: wrap; }
  .note { font-size: .875rem; opacity: .8; }
  .error { border-left: 4px solid #c62828; padding: .5rem .75rem; background: rgba(198, 40, 40, .08); }
  ul { padding-left: 1.25rem; margin: 0 0 1rem; }
  code { font-size: .9em; word-break: break-all; }
`;

function layout(title: string, nonce: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · DOTM</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
${head}
</head>
<body><main>
${body}
</main></body>
</html>`;
}

export interface PageContext {
  nonce: string;
  requestId: string;
  csrf: string;
  /** The assistant's name as it registered itself (unverified). */
  clientName: string;
  error?: string;
}

function assistantLabel(name: string): string {
  return `<strong>${escapeHtml(name)}</strong>`;
}

function errorBlock(error?: string): string {
  return error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
}

/** Local mode: an e-mail address is all it takes; a new address is signed up, verified, on the spot. */
export function localSignInPage(ctx: PageContext & { email?: string }): string {
  return layout(
    'Sign in',
    ctx.nonce,
    `<h1>Sign in to DOTM</h1>
<p>${assistantLabel(ctx.clientName)} wants to connect to your DOTM account to buy and activate your Global Data eSIM.</p>
${errorBlock(ctx.error)}
<form method="post" action="/oauth/sign-in">
  <input type="hidden" name="request" value="${escapeHtml(ctx.requestId)}">
  <input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}">
  <label for="email">E-mail address</label>
  <input id="email" name="email" type="email" required autocomplete="email" maxlength="254" value="${escapeHtml(ctx.email ?? '')}">
  <button type="submit">Continue</button>
</form>
<p class="note">Local sign-in (Firebase stand-in): no password is asked, and an address seen for the first time gets a new, verified account.</p>`,
  );
}

/**
 * Production: Firebase Authentication in the browser (Google, or a sign-in link by e-mail); the
 * Firebase ID token is posted back to the server, which verifies it with firebase-admin.
 */
export function firebaseSignInPage(ctx: PageContext & { firebase: FirebaseWebConfig }): string {
  const script = `
import { initializeApp } from '${FIREBASE_JS}/firebase-app.js';
import { getAuth, setPersistence, inMemoryPersistence, GoogleAuthProvider, signInWithPopup, sendSignInLinkToEmail,
  isSignInWithEmailLink, signInWithEmailLink } from '${FIREBASE_JS}/firebase-auth.js';
const config = JSON.parse(document.getElementById('firebase-config').textContent);
const auth = getAuth(initializeApp(config));
const finish = document.getElementById('finish');
const status = document.getElementById('status');
const emailForm = document.getElementById('email-form');
const say = (text) => { status.textContent = text; status.hidden = false; };
const fail = (err) => say('Sign-in did not complete (' + ((err && err.code) || 'unknown error') + '). Please try again.');
const done = async (credential) => { finish.elements.id_token.value = await credential.user.getIdToken(); finish.submit(); };
const KEY = 'dotmSignInEmail';
await setPersistence(auth, inMemoryPersistence);
document.getElementById('sign-in').hidden = false;
document.getElementById('google').addEventListener('click', () => {
  signInWithPopup(auth, new GoogleAuthProvider()).then(done, fail);
});
const linkReturn = isSignInWithEmailLink(auth, window.location.href);
if (linkReturn) {
  const email = window.localStorage.getItem(KEY);
  if (email) {
    say('Signing you in…');
    signInWithEmailLink(auth, email, window.location.href).then((c) => { window.localStorage.removeItem(KEY); return done(c); }, fail);
  } else {
    say('Enter the e-mail address the sign-in link was sent to.');
  }
}
emailForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const email = emailForm.elements.email.value.trim();
  if (linkReturn) {
    signInWithEmailLink(auth, email, window.location.href).then(done, fail);
    return;
  }
  sendSignInLinkToEmail(auth, email, { url: window.location.href, handleCodeInApp: true }).then(() => {
    window.localStorage.setItem(KEY, email);
    say('We sent a sign-in link to ' + email + '. Open it in this browser to continue.');
  }, fail);
});
`;
  return layout(
    'Sign in',
    ctx.nonce,
    `<h1>Sign in to DOTM</h1>
<p>${assistantLabel(ctx.clientName)} wants to connect to your DOTM account to buy and activate your Global Data eSIM.</p>
${errorBlock(ctx.error)}
<noscript><p class="error">Signing in with Google or an e-mail link needs JavaScript. Please enable it for this page.</p></noscript>
<p id="status" class="note" role="status" hidden></p>
<div id="sign-in" hidden>
  <p><button id="google" type="button">Continue with Google</button></p>
  <form id="email-form">
    <label for="email">Or get a sign-in link by e-mail</label>
    <input id="email" name="email" type="email" required autocomplete="email" maxlength="254">
    <button class="secondary" type="submit">E-mail me a link</button>
  </form>
</div>
<form id="finish" method="post" action="/oauth/sign-in" hidden>
  <input type="hidden" name="request" value="${escapeHtml(ctx.requestId)}">
  <input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}">
  <input type="hidden" name="id_token" value="">
</form>`,
    `<script type="application/json" id="firebase-config">${scriptJson(ctx.firebase)}</script>
<script type="module" nonce="${escapeHtml(ctx.nonce)}">${script}</script>`,
  );
}

/**
 * `redirectTarget`: where the answer goes (scheme and host). `publishedBy`: for a client known by its
 * metadata document, the host that publishes it (the client_id URL's).
 */
export function consentPage(ctx: PageContext & { email: string; redirectTarget: string; publishedBy?: string }): string {
  const whoseName = ctx.publishedBy
    ? `The name above is the one the assistant publishes at <code>${escapeHtml(ctx.publishedBy)}</code>.`
    : 'The name above is the one the assistant gave itself.';
  return layout(
    'Allow access',
    ctx.nonce,
    `<h1>Allow ${escapeHtml(ctx.clientName)} to use DOTM for you?</h1>
<p>Signed in as <strong>${escapeHtml(ctx.email)}</strong>.</p>
<p>${assistantLabel(ctx.clientName)} will be able to:</p>
<ul>
  <li>start the $1.00 DOTM beta eSIM activation for you (the invoice goes to your e-mail address; nothing is charged until you pay it), and</li>
  <li>see where your activation stands (invoice, queue, phone number).</li>
</ul>
<p class="note">${whoseName} After you answer, you go back to <code>${escapeHtml(ctx.redirectTarget)}</code>: allow only if you started this from that assistant.</p>
${errorBlock(ctx.error)}
<form method="post" action="/oauth/consent">
  <input type="hidden" name="request" value="${escapeHtml(ctx.requestId)}">
  <input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}">
  <div class="row">
    <button type="submit" name="decision" value="allow">Allow</button>
    <button class="secondary" type="submit" name="decision" value="deny">Deny</button>
  </div>
</form>
<p class="note">Not you? <a href="/oauth/sign-in?request=${encodeURIComponent(ctx.requestId)}">Sign in with another account</a>.</p>`,
  );
}

export function messagePage(opts: { nonce: string; title: string; message: string }): string {
  return layout(opts.title, opts.nonce, `<h1>${escapeHtml(opts.title)}</h1>\n<p>${escapeHtml(opts.message)}</p>`);
}
