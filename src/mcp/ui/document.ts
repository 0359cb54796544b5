// One self-contained HTML document per card: shared styles (the host's theme variables when it
// sends them, light and dark fallbacks otherwise), the MCP Apps runtime, and the card's own script.
// Card scripts are plain browser JavaScript in strings: they build the DOM with textContent only
// (tool results are data, never markup).
import { appRuntimeScript, RUNTIME_GLOBAL } from './runtime.js';

export interface CardSource {
  /** The document's title (read by screen readers when the frame is announced). */
  title: string;
  /** Styles of this card, after the shared ones. */
  style: string;
  /** This card's script; runs after the shared helpers, with `app` connected by `startCard`. */
  script: string;
}

const SHARED_STYLE = String.raw`
:root {
  color-scheme: light dark;
  --c-bg: #ffffff; --c-fg: #1f2328; --c-muted: #57606a; --c-border: #d0d7de; --c-soft: #f6f8fa;
  --c-accent: #0b57d0; --c-accent-fg: #ffffff; --c-ok: #1a7f37; --c-warn: #9a6700; --c-bad: #cf222e; --c-info: #0969da;
}
:root[data-theme="dark"] {
  --c-bg: #0d1117; --c-fg: #e6edf3; --c-muted: #9198a1; --c-border: #3d444d; --c-soft: #161b22;
  --c-accent: #4493f8; --c-accent-fg: #0d1117; --c-ok: #3fb950; --c-warn: #d29922; --c-bad: #f85149; --c-info: #58a6ff;
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme]) {
    --c-bg: #0d1117; --c-fg: #e6edf3; --c-muted: #9198a1; --c-border: #3d444d; --c-soft: #161b22;
    --c-accent: #4493f8; --c-accent-fg: #0d1117; --c-ok: #3fb950; --c-warn: #d29922; --c-bad: #f85149; --c-info: #58a6ff;
  }
}
:root {
  --bg: var(--color-background-primary, var(--c-bg));
  --soft: var(--color-background-secondary, var(--c-soft));
  --fg: var(--color-text-primary, var(--c-fg));
  --muted: var(--color-text-secondary, var(--c-muted));
  --border: var(--color-border-primary, var(--c-border));
  --accent: var(--color-ring-primary, var(--c-accent));
  --radius: var(--border-radius-md, 10px);
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  background: var(--bg); color: var(--fg);
  font-family: var(--font-sans, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
  font-size: var(--font-text-md-size, 15px); line-height: 1.45;
}
main { padding: 16px 18px; max-width: 720px; }
h1, h2, h3 { margin: 0; line-height: 1.25; }
h1 { font-size: 13px; font-weight: 600; color: var(--muted); letter-spacing: .02em; text-transform: uppercase; }
h2 { font-size: 19px; font-weight: 650; margin: 6px 0 4px; }
h3 { font-size: 14px; font-weight: 600; margin: 14px 0 4px; }
p { margin: 6px 0; }
ul, ol { margin: 6px 0; padding-left: 20px; }
li { margin: 2px 0; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.head { display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.badge { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; font-weight: 600; padding: 2px 10px; border-radius: 999px; border: 1px solid currentColor; }
.badge::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.tone-info { color: var(--color-text-info, var(--c-info)); }
.tone-ok { color: var(--color-text-success, var(--c-ok)); }
.tone-warn { color: var(--color-text-warning, var(--c-warn)); }
.tone-bad { color: var(--color-text-danger, var(--c-bad)); }
.tone-muted { color: var(--muted); }
button {
  font: inherit; font-weight: 600; cursor: pointer; border-radius: 8px; padding: 8px 16px;
  border: 1px solid var(--border); background: var(--soft); color: var(--fg);
}
button.primary { background: var(--c-accent); border-color: var(--c-accent); color: var(--c-accent-fg); padding: 10px 20px; font-size: 16px; }
button:disabled { opacity: .55; cursor: not-allowed; }
button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.actions { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin: 12px 0 6px; }
.foot { display: flex; align-items: center; justify-content: space-between; gap: 8px; flex-wrap: wrap; margin-top: 12px; padding-top: 10px; border-top: 1px solid var(--border); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { * { animation: none !important; transition: none !important; } }
`;

/**
 * Helpers every card script shares: `h` builds elements (text as text nodes only), `app` is the
 * MCP Apps connection, and `startCard(onResult)` applies the host's theme and feeds tool results.
 */
const SHARED_SCRIPT = String.raw`
const { App, PostMessageTransport, applyDocumentTheme, applyHostStyleVariables, applyHostFonts } = globalThis.${RUNTIME_GLOBAL};
const root = document.getElementById('card');

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v) => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
const textOf = (result) => (Array.isArray(result && result.content) ? result.content.map((c) => (c && c.type === 'text' ? text(c.text) : '')).join('\n') : '');

/** Tells screen readers what changed, once per change (the card itself re-renders every second while counting down). */
function announce(message) {
  const region = document.getElementById('announce');
  if (region.textContent !== message) region.textContent = message;
}

function show(...children) {
  root.replaceChildren(...children.flat(Infinity).filter(Boolean));
  root.setAttribute('aria-busy', 'false');
}

function showProblem(title, detail) {
  announce(title);
  show(h('h2', null, title), detail ? h('p', { class: 'muted' }, detail) : null);
}

function applyHostContext(ctx) {
  if (!isObject(ctx)) return;
  if (ctx.theme === 'light' || ctx.theme === 'dark') applyDocumentTheme(ctx.theme);
  if (isObject(ctx.styles) && isObject(ctx.styles.variables)) applyHostStyleVariables(ctx.styles.variables);
  if (isObject(ctx.styles) && isObject(ctx.styles.css) && typeof ctx.styles.css.fonts === 'string') applyHostFonts(ctx.styles.css.fonts);
}

const app = new App({ name: 'dotm-card', version: '1.0.0' }, {}, { autoResize: true });

function startCard(onResult, onTeardown) {
  // Handlers first: the host may send the result as soon as the handshake ends.
  app.ontoolresult = (result) => {
    if (!isObject(result)) return;
    if (result.isError) return showProblem('Something went wrong', textOf(result) || 'The details are in the chat.');
    if (!isObject(result.structuredContent)) return showProblem('Nothing to show here', 'The details are in the chat.');
    onResult(result.structuredContent);
  };
  app.onhostcontextchanged = applyHostContext;
  app.onteardown = async () => {
    if (onTeardown) onTeardown();
    return {};
  };
  app.connect(new PostMessageTransport(window.parent, window.parent)).then(
    () => applyHostContext(app.getHostContext()),
    () => showProblem('This card could not connect', 'The details are in the chat.'),
  );
}
`;

/** The card as one HTML document, with nothing loaded from anywhere. */
export function cardDocument(card: CardSource): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${card.title}</title>
<style>${SHARED_STYLE}${card.style}</style>
</head>
<body>
<main id="card" aria-busy="true"><p class="muted">Loading…</p></main>
<p id="announce" class="visually-hidden" aria-live="polite"></p>
<script type="module">${appRuntimeScript()}</script>
<script type="module">${SHARED_SCRIPT}${card.script}</script>
</body>
</html>
`;
}
