// The activation card, for activate_esim and get_activation_status: each state of the activation
// from the tool result's structuredContent. It keeps itself current by calling
// get_activation_status through the host every 30 seconds while the activation can still change
// on its own (awaiting payment, queued, activating). It only ever sees what the tool result holds:
// never the activation code, the ICCID or the full e-mail address (the results carry none).
import type { CardSource } from './document.js';

/** How often the card asks for the status while it can change on its own. */
export const ACTIVATION_REFRESH_SECONDS = 30;

const style = String.raw`
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
.facts div { background: var(--soft); border: 1px solid var(--border); border-radius: var(--radius); padding: 10px 12px; }
.facts dt { font-size: 12px; color: var(--muted); }
.facts dd { margin: 2px 0 0; font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.facts dd.phone { letter-spacing: .01em; }
progress { width: 100%; height: 8px; margin: 10px 0 4px; accent-color: var(--c-accent); }
`;

const script = String.raw`
const REFRESH_MS = ${ACTIVATION_REFRESH_SECONDS * 1000};
// Two hours of automatic refreshes in one state; after that the Refresh button still works.
const MAX_AUTOMATIC_REFRESHES = 240;
const CHANGING = ['awaiting_payment', 'queued', 'activating'];
const STATES = {
  awaiting_payment: { label: 'Awaiting payment', tone: 'warn' },
  queued: { label: 'In the queue', tone: 'info' },
  activating: { label: 'Activating', tone: 'info' },
  active: { label: 'Active', tone: 'ok' },
  failed: { label: 'Needs attention', tone: 'bad' },
  none: { label: 'Not started', tone: 'muted' },
};
const LINK_REFUSED = 'The link could not be opened from here: use the invoice link in the chat or in the e-mail from Stripe.';

let current = null;
let receivedAt = 0;
let refreshTimer;
let tickTimer;
let automaticRefreshes = 0;
let refreshing = false;
let refreshProblem = '';
let linkNote = '';

/** Whether the host passes tools/call on to the server (a host without it gets no Refresh). */
function hostCallsTools() {
  const capabilities = app.getHostCapabilities();
  return Boolean(capabilities && capabilities.serverTools);
}

/** Only web links are handed to the host to open. */
function webUrl(value) {
  try {
    const url = new URL(text(value));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function amountDue(s) {
  const amount = text(s.amount_due);
  if (!/^\d+(\.\d{1,2})?$/.test(amount)) return null;
  const currency = text(s.currency).toLowerCase();
  return currency === 'usd' || currency === '' ? '$' + amount : amount + ' ' + currency.toUpperCase();
}

function remainingMs() {
  const minutes = Number.isInteger(current.estimated_wait_minutes) ? current.estimated_wait_minutes : 0;
  return Math.max(0, receivedAt + minutes * 60000 - Date.now());
}

function waitText() {
  const seconds = Math.ceil(remainingMs() / 1000);
  if (seconds <= 0) return 'Any moment now';
  const minutes = Math.floor(seconds / 60);
  return (minutes ? minutes + 'm ' + String(seconds % 60).padStart(2, '0') : seconds % 60) + 's';
}

function emailLine(before, s) {
  const hint = text(s.email_hint);
  return hint ? [before + ' ', h('strong', null, hint), '.'] : before.replace(/ (at|to)$/, '') + '.';
}

const BODY = {
  awaiting_payment(s) {
    const url = webUrl(s.invoice_url);
    const due = amountDue(s);
    return [
      h('h2', null, due ? 'Pay ' + due + ' to start your eSIM' : 'Pay the invoice to start your eSIM'),
      h('p', null, emailLine('The eSIM Beta Activation invoice was also e-mailed to', s)),
      h('div', { class: 'actions' },
        h('button', { id: 'pay', class: 'primary', type: 'button', disabled: !url, onclick: () => pay(url) }, due ? 'Pay ' + due : 'Pay the invoice')),
      h('p', { id: 'link-note', class: 'small muted' }, linkNote || (url ? 'Opens the secure invoice page.' : 'The invoice is not ready to pay yet; this card updates by itself.')),
      h('p', { class: 'small muted' }, 'Payment is picked up automatically; this card updates by itself.'),
    ];
  },
  queued(s) {
    const position = Number.isInteger(s.queue_position) && s.queue_position > 0 ? s.queue_position : null;
    return [
      h('h2', null, position ? 'You\u2019re #' + position + ' in the queue' : 'You\u2019re in the queue'),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Position'), h('dd', { id: 'position' }, position ? '#' + position : '\u2014')),
        h('div', null, h('dt', null, 'Estimated wait'), h('dd', { id: 'wait', role: 'timer' }, waitText()))),
      h('p', null, 'Payment received. Activations are limited per hour, so yours starts automatically when your turn comes.'),
    ];
  },
  activating(s) {
    return [
      h('h2', null, 'Activating your eSIM with the carrier'),
      h('progress', { 'aria-label': 'Activation in progress' }),
      h('p', null, 'This usually takes a minute or two. ', emailLine('The QR code will be e-mailed to', s)),
    ];
  },
  active(s) {
    return [
      h('h2', null, 'Your eSIM is active'),
      h('dl', { class: 'facts' }, h('div', null, h('dt', null, 'Phone number'), h('dd', { id: 'phone', class: 'phone' }, text(s.phone_number) || 'In your e-mail'))),
      h('p', null, emailLine('The QR code is in your e-mail at', s)),
      h('h3', null, 'Install it'),
      h('ul', null,
        h('li', null, 'Open the e-mail on another screen and scan the QR code, or use its one-tap install link on the phone itself.'),
        h('li', null, 'iPhone: Settings \u2192 Cellular \u2192 Add eSIM \u2192 Use QR Code.'),
        h('li', null, 'Android: Settings \u2192 Network & internet \u2192 SIMs \u2192 Add eSIM.')),
    ];
  },
  failed() {
    return [
      h('h2', null, 'We couldn\u2019t activate your eSIM'),
      h('p', null, 'The carrier did not complete the activation. Your payment is safe and you will not be charged again.'),
      h('h3', null, 'What happens next'),
      h('ul', null,
        h('li', null, 'Our team has been alerted and will retry the activation or refund your payment.'),
        h('li', null, 'We\u2019ll e-mail you when it is resolved; there is nothing you need to do.')),
    ];
  },
  none() {
    return [
      h('h2', null, 'No eSIM activation yet'),
      h('p', null, 'Ask to activate the DOTM Global Data eSIM: you get an invoice by e-mail, and the QR code follows by e-mail once the eSIM is active.'),
    ];
  },
};

function footer(s) {
  const calls = hostCallsTools();
  const automatic = calls && CHANGING.includes(s.status) && automaticRefreshes < MAX_AUTOMATIC_REFRESHES;
  const time = new Date(receivedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return h('div', { class: 'foot' },
    h('p', { id: 'updated', class: 'small muted' }, refreshProblem || 'Updated ' + time + (automatic ? ' \u00b7 refreshes every ${ACTIVATION_REFRESH_SECONDS} s' : '')),
    s.status === 'active' || !calls ? null : h('button', { id: 'refresh', type: 'button', disabled: refreshing, onclick: () => refresh(false) }, refreshing ? 'Refreshing\u2026' : 'Refresh'));
}

function render() {
  const s = current;
  const state = STATES[s.status];
  // Keep the keyboard focus on the control that had it.
  const focused = document.activeElement && document.activeElement.id;
  show(
    h('div', { class: 'head' }, h('h1', null, 'DOTM Global Data eSIM'), h('span', { id: 'status', class: 'badge tone-' + state.tone }, state.label)),
    BODY[s.status](s),
    footer(s),
  );
  if (focused) {
    const again = document.getElementById(focused);
    if (again && !again.disabled) again.focus();
  }
  clearInterval(tickTimer);
  if (s.status === 'queued') tickTimer = setInterval(tick, 1000);
}

function tick() {
  const wait = document.getElementById('wait');
  if (wait && current && current.status === 'queued') wait.textContent = waitText();
}

function accept(state) {
  if (!isObject(state) || !Object.hasOwn(STATES, state.status)) return showProblem('Nothing to show here', 'The details are in the chat.');
  const changed = !current || current.status !== state.status;
  if (changed) {
    linkNote = '';
    automaticRefreshes = 0;
  }
  current = state;
  receivedAt = Date.now();
  render();
  if (changed) announce(STATES[state.status].label + '. ' + root.querySelector('h2').textContent);
  schedule();
}

function schedule() {
  clearTimeout(refreshTimer);
  if (current && CHANGING.includes(current.status) && automaticRefreshes < MAX_AUTOMATIC_REFRESHES && hostCallsTools()) {
    refreshTimer = setTimeout(() => refresh(true), REFRESH_MS);
  }
}

async function refresh(automatic) {
  if (refreshing) return;
  refreshing = true;
  if (automatic) automaticRefreshes += 1;
  else automaticRefreshes = 0;
  const button = document.getElementById('refresh');
  if (button) {
    button.disabled = true;
    button.textContent = 'Refreshing\u2026';
  }
  let next = null;
  try {
    const result = await app.callServerTool({ name: 'get_activation_status', arguments: {} });
    if (isObject(result) && !result.isError && isObject(result.structuredContent)) next = result.structuredContent;
  } catch {
    next = null;
  }
  refreshing = false;
  if (next) {
    refreshProblem = '';
    accept(next);
  } else {
    refreshProblem = 'Could not refresh just now' + (automatic ? '; trying again in ${ACTIVATION_REFRESH_SECONDS} seconds.' : '.');
    render();
    schedule();
  }
}

async function pay(url) {
  if (!url) return;
  try {
    const result = await app.openLink({ url });
    linkNote = isObject(result) && result.isError ? LINK_REFUSED : 'The invoice page opened. Payment is picked up automatically.';
  } catch {
    linkNote = LINK_REFUSED;
  }
  const note = document.getElementById('link-note');
  if (note) note.textContent = linkNote;
  announce(linkNote);
}

startCard(accept, () => {
  clearTimeout(refreshTimer);
  clearInterval(tickTimer);
});
`;

export const activationCardSource: CardSource = {
  title: 'DOTM eSIM activation',
  style,
  script,
};
