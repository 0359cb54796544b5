// Issue 5: from the payment to the e-mail. For each new user: activate_esim (the invoice), then the
// local Stripe stand-in marks the invoice paid and sends the signed invoice.paid webhook, and the
// clock runs until the local SMTP server holds the user's activation e-mail. Stand-ins at zero
// latency; the worker keeps its default poll (WORKER_POLL_MS=5000): the payment must wake it.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { uidForEmail } from '../src/local/firebase/tokens.js';
import { renderQrPng } from '../src/notify/qr.js';
import { numberOption } from './support/args.js';
import { createMcpClient } from './support/mcp-client.js';
import { exitSoon, fmt, heading, note, percentile, printTable, result } from './support/report.js';
import { startBenchService } from './support/service.js';

const USERS = numberOption('users', 50);
const WARMUP_USERS = 3;
const MAIL_TIMEOUT_MS = 15_000;
/** The whole measurement stops here even if users are left: a broken wake-up must not hang the run. */
const BUDGET_MS = numberOption('budget', 90) * 1000;
const GOAL_P50_MS = 250;

const app = await startBenchService({ LOG_LEVEL: 'warn', LOCAL_OXIO_LATENCY_MS: '0', ACTIVATIONS_PER_HOUR: '1000' });
const client = createMcpClient(app.mcpUrl, 2);
const stripe = app.service.local.stripe!;
const smtp = app.service.local.smtp!;
const run = randomBytes(3).toString('hex');

interface Sample {
  totalMs: number;
  /** Payment → recorded (webhook applied) → admitted → active → e-mail received, in ms. */
  phases: [number, number, number, number];
}

async function invoiceFor(email: string): Promise<{ stripeInvoiceId: string; activationId: number }> {
  const answer = await client.callTool('activate_esim', {}, app.token(email));
  if (answer.structured?.status !== 'awaiting_payment') throw new Error(`no invoice for ${email}: ${answer.text.slice(0, 300)}`);
  const { rows } = await app.database.db.query<{ stripe_invoice_id: string; activation_id: number }>(
    `SELECT i.stripe_invoice_id, i.activation_id FROM invoices i JOIN users u ON u.id = i.user_id
      WHERE u.firebase_uid = $1 AND i.status = 'open'`,
    [uidForEmail(email)],
  );
  if (!rows[0]) throw new Error(`no open invoice row for ${email}`);
  return { stripeInvoiceId: rows[0].stripe_invoice_id, activationId: rows[0].activation_id };
}

async function payAndWait(email: string): Promise<Sample> {
  const { stripeInvoiceId, activationId } = await invoiceFor(email);
  const mail = smtp.waitFor((m) => m.to.includes(email), MAIL_TIMEOUT_MS);
  const paidAt = Date.now();
  const t0 = performance.now();
  await stripe.pay(stripeInvoiceId);
  const received = await mail;
  const totalMs = performance.now() - t0;
  const { rows } = await app.database.db.query<{ paid_at: Date; started_at: Date; activated_at: Date }>(
    'SELECT paid_at, started_at, activated_at FROM activations WHERE id = $1',
    [activationId],
  );
  const a = rows[0]!;
  const ms = (d: Date | number) => (typeof d === 'number' ? d : d.getTime());
  return {
    totalMs,
    phases: [
      ms(a.paid_at) - paidAt,
      ms(a.started_at) - ms(a.paid_at),
      ms(a.activated_at) - ms(a.started_at),
      ms(received.receivedAt) - ms(a.activated_at),
    ],
  };
}

/** Time from opening an SMTP connection to the server's greeting (the mailer opens one per message). */
function smtpGreetingMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = connect(smtp.port, smtp.host);
    const timer = setTimeout(() => socket.destroy(new Error('no SMTP greeting within 5 s')), 5000);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
      socket.end('QUIT\r\n');
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function medianOf(samples: number, fn: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) values.push(await fn());
  return percentile(values, 0.5);
}

try {
  heading('webhook', 'payment → invoice.paid webhook → queue → OXIO → e-mail received, one user at a time');
  note(`database: ${app.database.label}; stand-ins at zero latency; WORKER_POLL_MS default (5000); LOG_LEVEL=warn`);
  note(`load average ${loadavg().map((l) => fmt(l)).join(' ')}`);
  for (let i = 0; i < WARMUP_USERS; i++) await payAndWait(`wh-${run}-warm-${i}@example.com`);
  const samples: Sample[] = [];
  const oxio0 = app.service.local.oxio!.stats().requests;
  const started = performance.now();
  for (let i = 0; i < USERS && performance.now() - started < BUDGET_MS; i++) {
    samples.push(await payAndWait(`wh-${run}-${i}@example.com`));
  }
  if (samples.length < USERS) note(`stopped after ${samples.length} of ${USERS} users: the ${BUDGET_MS / 1000} s budget ran out`);

  const row = (label: string, values: number[]) => [label, fmt(percentile(values, 0.5), 0), fmt(percentile(values, 0.95), 0), fmt(Math.max(...values), 0)];
  printTable(
    ['stretch', 'p50 ms', 'p95 ms', 'max ms'],
    [
      row('pay → payment recorded (webhook)', samples.map((s) => s.phases[0])),
      row('recorded → admitted by the worker', samples.map((s) => s.phases[1])),
      row('admitted → active (OXIO)', samples.map((s) => s.phases[2])),
      row('active → e-mail received (outbox, QR, SMTP)', samples.map((s) => s.phases[3])),
      row('pay → e-mail received', samples.map((s) => s.totalMs)),
    ],
  );
  note(`${samples.length} users; stretches from the database's timestamps (same host clock), whole-number ms`);
  const oxioCalls = (app.service.local.oxio!.stats().requests - oxio0) / Math.max(1, samples.length);
  const qrMs = await medianOf(9, async () => {
    const t0 = performance.now();
    await renderQrPng(`LPA:1$smdp.example.com$${randomBytes(12).toString('hex').toUpperCase()}`);
    return performance.now() - t0;
  });
  const greetingMs = await medianOf(3, smtpGreetingMs);
  note('measured apart:');
  printTable(
    ['piece', 'ms', 'note'],
    [
      ['OXIO calls per activation', fmt(oxioCalls, 1), 'requests to the local OXIO stand-in (zero latency)'],
      ['QR code PNG', fmt(qrMs, 1), 'renderQrPng, median of 9'],
      ['SMTP greeting wait', fmt(greetingMs, 1), 'connect → 220 from the SMTP stand-in (smtp-server greets a new connection after 100 ms)'],
    ],
  );
  const p50 = percentile(
    samples.map((s) => s.totalMs),
    0.5,
  );
  const p95 = percentile(
    samples.map((s) => s.totalMs),
    0.95,
  );
  result('webhook', { users: String(samples.length), p50: `${fmt(p50, 0)}ms`, p95: `${fmt(p95, 0)}ms` }, fmt(p50 / GOAL_P50_MS), `p50<=${GOAL_P50_MS}ms(ratio<=1)`, p50 <= GOAL_P50_MS && samples.length === USERS);
} finally {
  client.close();
  await app.close();
  exitSoon();
}
