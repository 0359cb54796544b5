// One invoice per activation however slow Stripe is, every extra payment flagged for a refund, and
// the "I paid" look-up bounded per invoice. Stripe is the local stand-in with injected latency; the
// settings are small (a 1 s Stripe timeout) so the leases they derive from are short enough to test.
// Workers are off, so a paid activation stays `queued`.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import type { LocalStripe } from '../../src/local/stripe/index.js';
import type { ActivateEsimResult } from '../../src/mcp/tools/activate-esim.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/time.js';
import { activate } from '../support/tools.js';
import { signedEvent, stripeIdFromUrl, stripeSdk, uniqueEmail } from './support.js';

const STRIPE_TIMEOUT_MS = 1000;
const LOOKUP_INTERVAL_SECONDS = 60;
const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** The app, its Stripe stand-in, and what the tests read of them. */
async function startApp(env: Record<string, string>) {
  const t = await startTestApp({ USER_CALLS_PER_MINUTE: '1000', ADMIN_TOKEN, ...env }, { overrides: { startWorkers: false } });
  const local = t.service.local.stripe!;
  const q = async <T>(sql: string, params: unknown[] = []) => (await t.service.db.query<T & Record<string, unknown>>(sql, params)).rows;
  return {
    t,
    local,
    stripe: stripeSdk(local),
    q,
    customerOf: async (uid: string) =>
      (await q<{ stripe_customer_id: string }>('SELECT stripe_customer_id FROM users WHERE firebase_uid = $1', [uid]))[0]!.stripe_customer_id,
    invoiceRows: (uid: string) =>
      q<{ id: number; status: string; stripe_invoice_id: string | null; creation_attempts: number }>(
        `SELECT i.id, i.status, i.stripe_invoice_id, i.creation_attempts FROM invoices i JOIN users u ON u.id = i.user_id
          WHERE u.firebase_uid = $1 ORDER BY i.id`,
        [uid],
      ),
    requestsTo: (method: string, path: string) => local.apiRequests().filter((r) => r.method === method && r.path === path).length,
    async newUser(name: string) {
      const email = uniqueEmail(name);
      return { email, uid: uidForEmail(email), client: await t.client({ token: t.token(email), sse: false }) };
    },
  };
}

describe('invoices under a slow Stripe', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let t: TestApp;
  let local: LocalStripe;
  let stripe: Stripe;
  let q: typeof app.q;
  let customerOf: typeof app.customerOf;
  let invoiceRows: typeof app.invoiceRows;
  let requestsTo: typeof app.requestsTo;
  let newUser: typeof app.newUser;

  beforeAll(async () => {
    app = await startApp({ STRIPE_TIMEOUT_MS: String(STRIPE_TIMEOUT_MS), STRIPE_INVOICE_LOOKUP_INTERVAL_SECONDS: String(LOOKUP_INTERVAL_SECONDS) });
    ({ t, local, stripe, q, customerOf, invoiceRows, requestsTo, newUser } = app);
  });
  afterAll(() => t.close());

  it('every Stripe call just inside the timeout, the whole creation longer than one lease: two concurrent calls, one attempt, one invoice', async () => {
    const { uid, client } = await newUser('lars');
    const slow = { mode: 'timeout', delayMs: STRIPE_TIMEOUT_MS - 150, times: 1 } as const;
    for (const path of ['/v1/customers', '/v1/invoices', '/v1/invoiceitems', /^\/v1\/invoices\/in_\w+\/finalize$/, /^\/v1\/invoices\/in_\w+\/send$/]) {
      local.injectFailure({ method: 'POST', path, ...slow });
    }
    const customersBefore = requestsTo('POST', '/v1/customers');
    const before = local.counts();
    try {
      const first = activate(client);
      await waitUntil(() => requestsTo('POST', '/v1/customers') > customersBefore, { what: 'the first call to reach Stripe', intervalMs: 10 });
      const second = activate(client);
      const answers = await Promise.all([first, second]);
      expect(answers.map((a) => a.status)).toEqual(['awaiting_payment', 'awaiting_payment']);
      expect(answers[1]!.invoice_url).toBe(answers[0]!.invoice_url);
    } finally {
      local.clearFailures();
    }
    await local.webhooksIdle();
    expect(local.counts()).toMatchObject({ customers: before.customers + 1, invoices: before.invoices + 1 });
    const atStripe = await stripe.invoices.list({ customer: await customerOf(uid) });
    expect(atStripe.data.map((i) => i.status)).toEqual(['open']);
    // The holder kept its lease while it worked: nobody took over.
    expect((await invoiceRows(uid)).map((r) => [r.status, r.stripe_invoice_id, r.creation_attempts])).toEqual([['open', atStripe.data[0]!.id, 1]]);
  });

  it('a second paid invoice for an activation paid already: webhook 200, recorded once, counted, logged masked, listed for a refund', async () => {
    const { uid, email, client } = await newUser('mona');
    const open = await activate(client);
    const paidId = stripeIdFromUrl(open.invoice_url!);
    await local.pay(paidId);
    await local.webhooksIdle();
    expect((await activate(client)).status).toBe('queued');
    const row = (await invoiceRows(uid))[0]!;
    const enqueued = async () => (await q<{ enqueued: string }>('SELECT enqueued FROM activation_queue_counters'))[0]!.enqueued;
    const enqueuedBefore = await enqueued();

    // Paid at Stripe, naming our invoice row, but not the invoice we keep for it.
    const forgedId = `in_second${randomBytes(6).toString('hex')}`;
    const paidTwice = {
      id: forgedId,
      object: 'invoice',
      status: 'paid',
      amount_paid: 100,
      currency: 'usd',
      customer: await customerOf(uid),
      metadata: { dotm_invoice_id: String(row.id) },
    };
    for (const type of ['invoice.paid', 'invoice.payment_succeeded', 'invoice.paid']) {
      const { payload, signature } = signedEvent(type, paidTwice, local.webhookSecret);
      const res = await fetch(`${t.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
      expect(res.status).toBe(200);
    }

    // The activation and its payment are untouched.
    expect((await invoiceRows(uid)).map((r) => [r.status, r.stripe_invoice_id])).toEqual([['paid', paidId]]);
    expect(await enqueued()).toBe(enqueuedBefore);
    expect((await activate(client)).status).toBe('queued');

    const flagged = t.logs.filter((l) => l.level === 'error' && l.stripeInvoiceId === forgedId);
    expect(flagged).toHaveLength(1);
    expect(String(flagged[0]!.msg)).toMatch(/refund/);
    expect(flagged[0]!.email).toMatch(/^m\*\*\*@example\.com$/);
    expect(t.rawLogs()).not.toContain(email);

    const recorded = await q<{ reason: string; amount_paid_cents: number; paid_at: Date | null }>(
      'SELECT reason, amount_paid_cents, paid_at FROM duplicate_invoices WHERE stripe_invoice_id = $1',
      [forgedId],
    );
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ reason: 'second_payment', amount_paid_cents: 100 });
    expect(recorded[0]!.paid_at).toBeInstanceOf(Date);

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^dotm_duplicate_payments_total 1$/m);

    const unauthorized = await fetch(`${t.url}/admin/payments/refunds-due`);
    expect(unauthorized.status).toBe(401);
    const listing = await fetch(`${t.url}/admin/payments/refunds-due`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(listing.status).toBe(200);
    const body = (await listing.json()) as { refunds_due: Array<Record<string, unknown>> };
    const entry = body.refunds_due.find((r) => r.stripe_invoice_id === forgedId);
    expect(entry).toMatchObject({
      stripe_invoice_id: forgedId,
      activation_id: open.activation_id,
      amount_paid: '1.00',
      currency: 'usd',
      kept_stripe_invoice_id: paidId,
    });
    expect(JSON.stringify(body)).not.toContain(email);
  });

  it('paid by a Stripe invoice other than the stored one: that payment counts; the stored invoice is recorded and voided at Stripe', async () => {
    const { uid, client } = await newUser('olga');
    const open = await activate(client);
    const storedId = stripeIdFromUrl(open.invoice_url!);
    const row = (await invoiceRows(uid))[0]!;
    const customer = await customerOf(uid);
    // Another invoice for our row at Stripe (as a lost creation attempt could have left one).
    const other = await stripe.invoices.create({
      customer,
      collection_method: 'send_invoice',
      days_until_due: 7,
      pending_invoice_items_behavior: 'exclude',
      metadata: { dotm_invoice_id: String(row.id) },
    });
    await stripe.invoiceItems.create({ customer, invoice: other.id, amount: 100, currency: 'usd' });
    await stripe.invoices.finalizeInvoice(other.id);
    await local.pay(other.id);
    await local.webhooksIdle();

    expect((await activate(client)).status).toBe('queued');
    expect((await invoiceRows(uid)).map((r) => [r.status, r.stripe_invoice_id])).toEqual([['paid', other.id]]);
    expect((await stripe.invoices.retrieve(storedId)).status).toBe('void');
    const recorded = await q<{ reason: string; paid_at: Date | null }>('SELECT reason, paid_at FROM duplicate_invoices WHERE stripe_invoice_id = $1', [storedId]);
    expect(recorded).toEqual([{ reason: 'superseded', paid_at: null }]);
  });

  it('100 concurrent activate_esim calls on an open invoice ask Stripe once; "I paid" is still picked up by the next look-up', async () => {
    const { client } = await newUser('nils');
    const open = await activate(client);
    const stripeInvoiceId = stripeIdFromUrl(open.invoice_url!);
    await local.webhooksIdle();
    const lookUps = () => requestsTo('GET', `/v1/invoices/${stripeInvoiceId}`);
    const before = lookUps();

    const burst = await Promise.all(Array.from({ length: 100 }, () => activate(client)));
    expect(new Set(burst.map((a) => a.status))).toEqual(new Set(['awaiting_payment']));
    expect(new Set(burst.map((a) => a.invoice_url))).toEqual(new Set([open.invoice_url]));
    expect(lookUps() - before).toBe(1);

    // Right after: the invoice was checked moments ago, Stripe is not asked again.
    await Promise.all(Array.from({ length: 20 }, () => activate(client)));
    expect(lookUps() - before).toBe(1);

    local.holdWebhooks(true);
    try {
      await local.pay(stripeInvoiceId);
      // The interval passes (moved back rather than waited for).
      await t.service.db.query(`UPDATE invoices SET last_checked_at = last_checked_at - make_interval(secs => $2) WHERE stripe_invoice_id = $1`, [
        stripeInvoiceId,
        LOOKUP_INTERVAL_SECONDS,
      ]);
      const answers = await Promise.all(Array.from({ length: 10 }, () => activate(client)));
      expect(answers.some((a) => a.status === 'queued')).toBe(true);
      expect(lookUps() - before).toBe(2);
      expect((await activate(client)).status).toBe('queued');
    } finally {
      await local.releaseWebhooks();
    }
  });
});

// Here the first attempt's invoice request hangs for seconds (inside a longer timeout), so the
// takeover surely finishes first, however slow the machine running the test.
describe('a creation attempt that outlives its lease', () => {
  const SLOW_CREATE_MS = 3000;
  let app: Awaited<ReturnType<typeof startApp>>;
  let t: TestApp;
  let local: LocalStripe;
  let stripe: Stripe;
  let q: typeof app.q;
  let customerOf: typeof app.customerOf;
  let invoiceRows: typeof app.invoiceRows;
  let requestsTo: typeof app.requestsTo;
  let newUser: typeof app.newUser;

  beforeAll(async () => {
    app = await startApp({ STRIPE_TIMEOUT_MS: String(SLOW_CREATE_MS + 2000) });
    ({ t, local, stripe, q, customerOf, invoiceRows, requestsTo, newUser } = app);
  });
  afterAll(() => t.close());

  it('never sends a second invoice: the takeover sends one, the late one is withdrawn and recorded', async () => {
    const { uid, email, client } = await newUser('lena');
    const invoicesBefore = requestsTo('POST', '/v1/invoices');
    local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'timeout', delayMs: SLOW_CREATE_MS, times: 1 });
    let answers: ActivateEsimResult[];
    try {
      const first = activate(client);
      await waitUntil(() => requestsTo('POST', '/v1/invoices') > invoicesBefore, { what: 'the first attempt to ask Stripe for the invoice', intervalMs: 10 });
      // The holder stalls past its lease (a paused process, or a lease shorter than Stripe's latency).
      await t.service.db.query(
        `UPDATE invoices SET lease_until = clock_timestamp() - interval '1 second'
          WHERE status = 'creating' AND user_id = (SELECT id FROM users WHERE firebase_uid = $1)`,
        [uid],
      );
      const second = await activate(client);
      answers = [await first, second];
    } finally {
      local.clearFailures();
    }
    expect(answers.map((a) => a.status)).toEqual(['awaiting_payment', 'awaiting_payment']);
    expect(answers[0]!.invoice_url).toBe(answers[1]!.invoice_url);
    await local.webhooksIdle();

    const atStripe = await stripe.invoices.list({ customer: await customerOf(uid) });
    expect(atStripe.data.map((i) => [i.status, i.hosted_invoice_url])).toEqual([['open', answers[1]!.invoice_url]]);
    const rows = await invoiceRows(uid);
    expect(rows.map((r) => [r.status, r.stripe_invoice_id])).toEqual([['open', atStripe.data[0]!.id]]);

    const extra = await q<{ stripe_invoice_id: string; reason: string; paid_at: Date | null }>(
      'SELECT stripe_invoice_id, reason, paid_at FROM duplicate_invoices WHERE invoice_id = $1',
      [rows[0]!.id],
    );
    expect(extra).toHaveLength(1);
    expect(extra[0]).toMatchObject({ reason: 'superseded', paid_at: null });
    expect(extra[0]!.stripe_invoice_id).not.toBe(atStripe.data[0]!.id);
    const logged = t.logs.filter((l) => l.stripeInvoiceId === extra[0]!.stripe_invoice_id && l.level === 'warn');
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(t.rawLogs()).not.toContain(email);
  });

});
