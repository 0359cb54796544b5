// The $1 invoice end to end: activate_esim through the MCP SDK client, the local Stripe stand-in
// (hosted page, signed webhooks, failure injection) driven by the real `stripe` SDK, and the rows
// the service keeps. Workers are off, so a paid activation stays `queued`.
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStripe } from '../../src/local/stripe/index.js';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import type { ActivateEsimResult } from '../../src/mcp/tools/activate-esim.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sleep } from '../support/time.js';
import { activate, callToolExpectingError } from '../support/tools.js';
import { signedEvent, stripeIdFromUrl, stripeSdk, uniqueEmail } from './support.js';

interface InvoiceRow {
  id: number;
  status: string;
  stripe_invoice_id: string | null;
  hosted_invoice_url: string | null;
  paid_at: Date | null;
}

function billingQueries(t: TestApp) {
  const q = async <T>(sql: string, params: unknown[] = []) => (await t.service.db.query<T & Record<string, unknown>>(sql, params)).rows;
  return {
    async user(uid: string) {
      const rows = await q<{ id: number; stripe_customer_id: string | null }>('SELECT id, stripe_customer_id FROM users WHERE firebase_uid = $1', [uid]);
      return rows[0];
    },
    invoices: (uid: string) =>
      q<InvoiceRow>(
        `SELECT i.id, i.status, i.stripe_invoice_id, i.hosted_invoice_url, i.paid_at
           FROM invoices i JOIN users u ON u.id = i.user_id WHERE u.firebase_uid = $1 ORDER BY i.id`,
        [uid],
      ),
    activations: (uid: string) =>
      q<{ id: number; status: string; queue_seq: number | null }>(
        'SELECT a.id, a.status, a.queue_seq FROM activations a JOIN users u ON u.id = a.user_id WHERE u.firebase_uid = $1 ORDER BY a.id',
        [uid],
      ),
    async enqueued() {
      return Number((await q<{ enqueued: number }>('SELECT enqueued FROM activation_queue_counters'))[0]!.enqueued);
    },
    async events(eventId?: string) {
      const rows = eventId
        ? await q<{ event_id: string }>('SELECT event_id FROM stripe_events WHERE event_id = $1', [eventId])
        : await q<{ event_id: string }>('SELECT event_id FROM stripe_events');
      return rows.length;
    },
    /** Everything a webhook could change, to compare before and after. */
    async snapshot() {
      return {
        invoices: await q('SELECT id, status, stripe_invoice_id, paid_at FROM invoices ORDER BY id'),
        activations: await q('SELECT id, status, queue_seq, paid_at FROM activations ORDER BY id'),
        counters: await q('SELECT enqueued, admitted FROM activation_queue_counters'),
        events: await q('SELECT event_id FROM stripe_events ORDER BY event_id'),
      };
    },
  };
}

async function postWebhook(t: TestApp, body: string, signature?: string) {
  const res = await fetch(`${t.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'stripe-signature': signature } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the $1 invoice flow', () => {
  let t: TestApp;
  let local: LocalStripe;
  let stripe: Stripe;
  let db: ReturnType<typeof billingQueries>;

  /** A signed-in user with an MCP SDK client. */
  async function newUser(name: string) {
    const email = uniqueEmail(name);
    return { email, uid: uidForEmail(email), client: await t.client({ token: t.token(email) }) };
  }

  beforeAll(async () => {
    t = await startTestApp({}, { overrides: { startWorkers: false } });
    local = t.service.local.stripe!;
    stripe = stripeSdk(local);
    db = billingQueries(t);
  });
  afterAll(() => t.close());

  it('activate_esim → $1 invoice → pay on the hosted page → webhook → queued #1', async () => {
    const { uid, email, client } = await newUser('bea');
    const before = local.counts();

    const first = await activate(client);
    expect(first).toMatchObject({ status: 'awaiting_payment', amount_due: '1.00', currency: 'usd' });
    expect(first.invoice_url).toMatch(/^http:\/\/[\w.]+:\d+\/local\/stripe\/i\/in_\w+$/);
    expect(first.message).toMatch(/\$1\.00 invoice/);
    expect(first.message).not.toContain(email);
    expect(first.next_steps.length).toBeGreaterThan(0);

    const again = await activate(client);
    expect(again.status).toBe('awaiting_payment');
    expect(again.invoice_url).toBe(first.invoice_url);
    expect(again.activation_id).toBe(first.activation_id);
    expect(local.counts()).toMatchObject({ customers: before.customers + 1, invoices: before.invoices + 1 });

    const user = await db.user(uid);
    const atStripe = await stripe.invoices.list({ customer: user!.stripe_customer_id! });
    expect(atStripe.data).toHaveLength(1);
    expect(atStripe.data[0]).toMatchObject({
      status: 'open',
      amount_due: 100,
      currency: 'usd',
      collection_method: 'send_invoice',
      description: 'eSIM Beta Activation',
      customer_email: email,
    });

    const page = await fetch(first.invoice_url!);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('$1.00');
    expect(html).toContain('eSIM Beta Activation');
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    expect(action).toBe(`${new URL(first.invoice_url!).pathname}/pay`);

    const paid = await fetch(`${first.invoice_url}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    await local.webhooksIdle();

    // The webhook alone queued the activation: nobody had to ask first.
    expect((await db.invoices(uid)).map((i) => i.status)).toEqual(['paid']);
    expect((await db.activations(uid)).map((a) => a.status)).toEqual(['queued']);

    const queued = await activate(client);
    expect(queued).toMatchObject({ status: 'queued', queue_position: 1, activation_id: first.activation_id });
    expect(queued.estimated_wait_minutes).toBe(0);
    expect(queued.invoice_url).toBeUndefined();

    const invoices = await db.invoices(uid);
    expect(invoices).toHaveLength(1);
    expect(invoices[0]).toMatchObject({ status: 'paid', stripe_invoice_id: stripeIdFromUrl(first.invoice_url!) });
    expect(invoices[0]!.paid_at).toBeInstanceOf(Date);
    const activations = await db.activations(uid);
    expect(activations).toHaveLength(1);
    expect(activations[0]!.status).toBe('queued');
    expect(local.counts().invoices).toBe(before.invoices + 1);

    // The paid invoice is not offered again, and the page says it is paid.
    expect(await (await fetch(first.invoice_url!)).text()).toContain('This invoice has been paid');
  });

  it('20 concurrent activate_esim calls for one new user: one customer, one invoice, one row', async () => {
    const { uid, email, client } = await newUser('carl');
    const before = local.counts();
    const answers = await Promise.all(Array.from({ length: 20 }, () => activate(client)));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set(['awaiting_payment']));
    expect(new Set(answers.map((a) => a.invoice_url)).size).toBe(1);
    expect(new Set(answers.map((a) => a.activation_id)).size).toBe(1);

    expect(local.counts()).toMatchObject({ customers: before.customers + 1, invoices: before.invoices + 1 });
    const customers = await stripe.customers.list({ email });
    expect(customers.data).toHaveLength(1);
    const invoices = await stripe.invoices.list({ customer: customers.data[0]!.id });
    expect(invoices.data).toHaveLength(1);
    expect(invoices.data[0]!.status).toBe('open');
    expect(await db.invoices(uid)).toHaveLength(1);
    expect(await db.activations(uid)).toHaveLength(1);
    expect((await db.user(uid))!.stripe_customer_id).toBe(customers.data[0]!.id);
  });

  it('"I paid" before the webhook arrives: Stripe is asked, the activation is queued, the late webhook changes nothing', async () => {
    const { uid, client } = await newUser('dora');
    const open = await activate(client);
    await local.webhooksIdle();
    const enqueuedBefore = await db.enqueued();

    local.holdWebhooks(true);
    try {
      await local.pay(stripeIdFromUrl(open.invoice_url!));
      expect((await db.invoices(uid))[0]!.status).toBe('open');

      const answer = await activate(client);
      expect(answer.status).toBe('queued');
      expect(answer.queue_position).toBeGreaterThanOrEqual(1);
      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      const stateAfterLookUp = { invoices: await db.invoices(uid), activations: await db.activations(uid) };
      expect(stateAfterLookUp.invoices.map((i) => i.status)).toEqual(['paid']);
      expect(stateAfterLookUp.activations.map((a) => a.status)).toEqual(['queued']);

      const paidEvent = local.events().find((e) => e.type === 'invoice.paid' && (e.data.object as { id: string }).id === stripeIdFromUrl(open.invoice_url!));
      expect(paidEvent).toBeDefined();
      expect(await db.events(paidEvent!.id)).toBe(0);

      await local.releaseWebhooks();
      expect(await db.events(paidEvent!.id)).toBe(1);
      expect({ invoices: await db.invoices(uid), activations: await db.activations(uid) }).toEqual(stateAfterLookUp);
      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      expect((await activate(client)).queue_position).toBe(answer.queue_position);
    } finally {
      local.holdWebhooks(false);
    }
  });

  describe('webhooks', () => {
    /** A user with an open invoice, and Stripe's current view of it. */
    async function userWithOpenInvoice(name: string) {
      const u = await newUser(name);
      const answer = await activate(u.client);
      await local.webhooksIdle();
      const stripeInvoiceId = stripeIdFromUrl(answer.invoice_url!);
      const invoice = (await stripe.invoices.retrieve(stripeInvoiceId)) as unknown as Record<string, unknown>;
      return { ...u, answer, stripeInvoiceId, invoice };
    }

    it('a forged, missing or stale signature → 400, and nothing changes', async () => {
      const { uid, invoice } = await userWithOpenInvoice('eve');
      const paidLooking = { ...invoice, status: 'paid', amount_paid: 100, amount_remaining: 0 };
      const before = await db.snapshot();

      const forged = signedEvent('invoice.paid', paidLooking, `whsec_${randomBytes(24).toString('hex')}`);
      expect((await postWebhook(t, forged.payload, forged.signature)).status).toBe(400);

      const unsigned = signedEvent('invoice.paid', paidLooking, local.webhookSecret);
      expect((await postWebhook(t, unsigned.payload)).status).toBe(400);
      expect((await postWebhook(t, unsigned.payload, '')).status).toBe(400);
      expect((await postWebhook(t, unsigned.payload, 't=1,v1=deadbeef')).status).toBe(400);

      // Correctly signed, but for another body.
      const tampered = signedEvent('invoice.voided', invoice, local.webhookSecret);
      expect((await postWebhook(t, unsigned.payload, tampered.signature)).status).toBe(400);

      // Correctly signed an hour ago: outside the replay tolerance.
      const stale = signedEvent('invoice.paid', paidLooking, local.webhookSecret, Math.floor(Date.now() / 1000) - 3600);
      expect((await postWebhook(t, stale.payload, stale.signature)).status).toBe(400);

      expect(await db.snapshot()).toEqual(before);
      expect((await db.invoices(uid)).map((i) => i.status)).toEqual(['open']);
      expect((await db.activations(uid)).map((a) => a.status)).toEqual(['awaiting_payment']);
      expect(await db.events(forged.id)).toBe(0);
      expect(await db.events(unsigned.id)).toBe(0);
      expect(await db.events(stale.id)).toBe(0);
    });

    it('the same event delivered twice is applied once', async () => {
      const { uid, stripeInvoiceId } = await userWithOpenInvoice('finn');
      const enqueuedBefore = await db.enqueued();
      await local.pay(stripeInvoiceId);
      await local.webhooksIdle();
      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      const paidEvent = local.events().find((e) => e.type === 'invoice.paid' && (e.data.object as { id: string }).id === stripeInvoiceId)!;
      expect(await db.events(paidEvent.id)).toBe(1);
      const state = await db.snapshot();

      expect(await local.deliverEvent(paidEvent.id)).toBe(200);
      expect(await local.deliverEvent(paidEvent.id)).toBe(200);

      expect(await db.snapshot()).toEqual(state);
      expect(await db.events(paidEvent.id)).toBe(1);
      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      expect((await db.activations(uid)).map((a) => a.status)).toEqual(['queued']);
    });

    it('invoice.voided arriving after invoice.paid (out of order) leaves the invoice paid', async () => {
      const { uid, client, stripeInvoiceId } = await userWithOpenInvoice('gina');
      await local.pay(stripeInvoiceId);
      await local.webhooksIdle();
      const paidRows = await db.invoices(uid);
      expect(paidRows.map((i) => i.status)).toEqual(['paid']);

      const paidEvent = local.events().find((e) => e.type === 'invoice.paid' && (e.data.object as { id: string }).id === stripeInvoiceId)!;
      const late = signedEvent('invoice.voided', { ...(paidEvent.data.object as unknown as Record<string, unknown>), status: 'void' }, local.webhookSecret);
      const res = await postWebhook(t, late.payload, late.signature);
      expect(res.status).toBe(200);

      expect(await db.invoices(uid)).toEqual(paidRows);
      expect((await db.activations(uid)).map((a) => a.status)).toEqual(['queued']);
      expect((await activate(client)).status).toBe('queued');
      expect(await db.invoices(uid)).toHaveLength(1);
    });

    describe.each([
      ['voided', 'void', (id: string) => local.voidInvoice(id)],
      ['marked uncollectible', 'uncollectible', (id: string) => local.markUncollectible(id)],
    ] as const)('an invoice %s at Stripe is replaced on the next activate_esim', (_label, rowStatus, close) => {
      it.each([
        ['told by the webhook', false],
        ['found by the look-up (webhook withheld)', true],
      ])('%s', async (_how, withhold) => {
        const { uid, client, answer, stripeInvoiceId } = await userWithOpenInvoice(`hal${rowStatus.slice(0, 3)}`);
        const customerId = (await db.user(uid))!.stripe_customer_id!;
        if (withhold) local.holdWebhooks(true);
        try {
          await close(stripeInvoiceId);
          if (!withhold) {
            await local.webhooksIdle();
            expect((await db.invoices(uid)).map((i) => i.status)).toEqual([rowStatus]);
          }

          const next = await activate(client);
          expect(next.status).toBe('awaiting_payment');
          expect(next.amount_due).toBe('1.00');
          expect(next.invoice_url).toMatch(/\/i\/in_\w+$/);
          expect(next.invoice_url).not.toBe(answer.invoice_url);
          expect(next.activation_id).toBe(answer.activation_id);
        } finally {
          if (withhold) await local.releaseWebhooks();
        }
        await local.webhooksIdle();

        // An uncollectible invoice could still be paid at Stripe: it is voided before its replacement goes out.
        const rows = await db.invoices(uid);
        expect(rows.map((r) => r.status)).toEqual(['void', 'open']);
        expect(rows[0]!.stripe_invoice_id).toBe(stripeInvoiceId);
        const atStripe = await stripe.invoices.list({ customer: customerId });
        expect(atStripe.data.filter((i) => i.status === 'open').map((i) => i.id)).toEqual([rows[1]!.stripe_invoice_id]);
        expect((await stripe.invoices.retrieve(stripeInvoiceId)).status).toBe('void');
        expect(await db.activations(uid)).toHaveLength(1);

        // The replacement is the one that counts: paying it queues the activation.
        await local.pay(rows[1]!.stripe_invoice_id!);
        await local.webhooksIdle();
        expect((await activate(client)).status).toBe('queued');
        expect((await db.invoices(uid)).map((r) => r.status)).toEqual(['void', 'paid']);
      });
    });

    it('a replaced (uncollectible) invoice Stripe would not void, paid after all, then its replacement too: one activation, the second payment acknowledged and flagged for a refund', async () => {
      const { uid, client, stripeInvoiceId: oldId } = await userWithOpenInvoice('ivy');
      await local.markUncollectible(oldId);
      await local.webhooksIdle();
      local.injectFailure({ method: 'POST', path: `/v1/invoices/${oldId}/void`, mode: 'error', times: 4 });
      const replacement = await activate(client);
      local.clearFailures();
      const newId = stripeIdFromUrl(replacement.invoice_url!);
      await local.webhooksIdle();
      const enqueuedBefore = await db.enqueued();

      // Stripe still accepts payment of an uncollectible invoice (from the old e-mail).
      await local.pay(oldId);
      await local.webhooksIdle();
      expect((await activate(client)).status).toBe('queued');
      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      expect((await db.invoices(uid)).map((i) => [i.stripe_invoice_id, i.status])).toEqual([
        [oldId, 'paid'],
        [newId, 'open'],
      ]);

      await local.pay(newId);
      await local.webhooksIdle();
      const paidEvent = local.events().find((e) => e.type === 'invoice.paid' && (e.data.object as { id: string }).id === newId)!;
      expect(await db.events(paidEvent.id)).toBe(1);
      expect(await local.deliverEvent(paidEvent.id)).toBe(200);

      expect(await db.enqueued()).toBe(enqueuedBefore + 1);
      expect((await db.activations(uid)).map((a) => a.status)).toEqual(['queued']);
      const { rows } = await t.service.db.query<{ status: string; last_error: string | null }>(
        'SELECT status, last_error FROM invoices WHERE stripe_invoice_id = $1',
        [newId],
      );
      expect(rows[0]!.last_error).toMatch(/refund/);
      const flagged = t.logs.filter((l) => l.level === 'error' && l.stripeInvoiceId === newId);
      expect(flagged).toHaveLength(1);
      expect(String(flagged[0]!.msg)).toMatch(/refund/);
      expect(t.logs.filter((l) => l.level === 'error' && /duplicate key|request failed/.test(String(l.msg ?? '') + JSON.stringify(l.err ?? '')))).toEqual([]);
    });

    it.each([
      ['no metadata', {}],
      ['metadata naming no invoice of ours', { dotm_invoice_id: '987654321', dotm_user_id: '987654321' }],
    ])('an event for an unknown invoice (%s) is acknowledged and ignored', async (_label, metadata) => {
      await local.webhooksIdle();
      const before = await db.snapshot();
      for (const type of ['invoice.paid', 'invoice.voided', 'invoice.marked_uncollectible']) {
        const e = signedEvent(
          type,
          { id: `in_unknown${randomBytes(6).toString('hex')}`, object: 'invoice', status: 'paid', amount_paid: 100, currency: 'usd', metadata },
          local.webhookSecret,
        );
        const res = await postWebhook(t, e.payload, e.signature);
        expect(res.status).toBe(200);
        expect(res.body.received).toBe(true);
      }
      const after = await db.snapshot();
      expect({ ...after, events: undefined }).toEqual({ ...before, events: undefined });
    });

    it.each(['customer.created', 'charge.succeeded', 'payment_intent.succeeded'])('a %s event is acknowledged', async (type) => {
      const before = await db.snapshot();
      const e = signedEvent(type, { id: `obj_${randomBytes(6).toString('hex')}`, object: type.split('.')[0] }, local.webhookSecret);
      const res = await postWebhook(t, e.payload, e.signature);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ received: true, outcome: 'ignored' });
      const after = await db.snapshot();
      expect({ ...after, events: undefined }).toEqual({ ...before, events: undefined });
    });
  });

  describe('Stripe failing while the invoice is created', () => {
    const noInternals = (text: string) => {
      expect(text).not.toMatch(/\bat \S+ \(|node_modules|Stripe\w*Error|api_error|injected|stack|500|idempotency/i);
    };

    it('5xx on invoice creation → a clear tool error; the next call ends with exactly one invoice', async () => {
      const { uid, email, client } = await newUser('ida');
      local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'error', times: 2 });
      try {
        const text = await callToolExpectingError(client, 'activate_esim');
        expect(text).toMatch(/invoice/i);
        expect(text).toMatch(/nothing was charged/i);
        expect(text).toMatch(/try again/i);
        noInternals(text);
      } finally {
        local.clearFailures();
      }
      const customerId = (await db.user(uid))!.stripe_customer_id;
      if (customerId) expect((await stripe.invoices.list({ customer: customerId })).data).toHaveLength(0);

      const next = await activate(client);
      expect(next.status).toBe('awaiting_payment');
      await local.webhooksIdle();
      const user = await db.user(uid);
      const atStripe = await stripe.invoices.list({ customer: user!.stripe_customer_id! });
      expect(atStripe.data).toHaveLength(1);
      expect(atStripe.data[0]!.status).toBe('open');
      expect((await db.invoices(uid)).map((i) => [i.status, i.stripe_invoice_id])).toEqual([['open', atStripe.data[0]!.id]]);
      expect((await stripe.customers.list({ email })).data).toHaveLength(1);
    });

    it('error after Stripe committed the invoice: a clear tool error; the next call finds it, exactly one invoice at Stripe', async () => {
      const { uid, email, client } = await newUser('jon');
      // Stripe creates the invoice but answers 500, and the SDK's retry fails too.
      local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'error-after-commit', times: 1 });
      local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'error', times: 1 });
      let text: string;
      try {
        text = await callToolExpectingError(client, 'activate_esim');
      } finally {
        local.clearFailures();
      }
      expect(text).toMatch(/invoice/i);
      expect(text).toMatch(/nothing was charged/i);
      noInternals(text);
      const customerId = (await db.user(uid))!.stripe_customer_id!;
      const unseen = (await stripe.invoices.list({ customer: customerId })).data;
      expect(unseen).toHaveLength(1);

      const next = await activate(client);
      expect(next.status).toBe('awaiting_payment');
      await local.webhooksIdle();
      const atStripe = await stripe.invoices.list({ customer: customerId });
      expect(atStripe.data.map((i) => [i.id, i.status])).toEqual([[unseen[0]!.id, 'open']]);
      expect(atStripe.data[0]!.hosted_invoice_url).toBe(next.invoice_url);
      expect((await stripe.customers.list({ email })).data).toHaveLength(1);
      expect((await db.invoices(uid)).map((i) => [i.status, i.stripe_invoice_id])).toEqual([['open', unseen[0]!.id]]);
    });

    it('error after commit, retried by the SDK under the same idempotency key: no second invoice', async () => {
      const { uid, client } = await newUser('joy');
      local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'error-after-commit', times: 2 });
      let first: Awaited<ReturnType<Client['callTool']>>;
      try {
        first = await client.callTool({ name: 'activate_esim', arguments: {} });
      } finally {
        local.clearFailures();
      }
      // The retry under the same key gets Stripe's real answer (replayed), so the call may succeed;
      // if it does not, the caller is told plainly. Either way nothing is doubled.
      if (first.isError) {
        const text = (first.content as Array<{ text: string }>).map((c) => c.text).join('\n');
        expect(text).toMatch(/nothing was charged/i);
        noInternals(text);
      }
      const next = await activate(client);
      expect(next.status).toBe('awaiting_payment');
      if (!first.isError) expect((first.structuredContent as unknown as ActivateEsimResult).invoice_url).toBe(next.invoice_url);
      await local.webhooksIdle();
      const atStripe = await stripe.invoices.list({ customer: (await db.user(uid))!.stripe_customer_id! });
      expect(atStripe.data).toHaveLength(1);
      expect(atStripe.data[0]!.status).toBe('open');
      expect(atStripe.data[0]!.hosted_invoice_url).toBe(next.invoice_url);
      expect((await db.invoices(uid)).map((i) => i.status)).toEqual(['open']);
    });
  });
});

describe('Stripe timing out while the invoice is created', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ STRIPE_TIMEOUT_MS: '500' }, { overrides: { startWorkers: false } });
  });
  afterAll(() => t.close());

  it('a clear tool error; afterwards exactly one open invoice at Stripe for the customer', async () => {
    const local = t.service.local.stripe!;
    const stripe = stripeSdk(local);
    const db = billingQueries(t);
    const email = uniqueEmail('kim');
    const uid = uidForEmail(email);
    const client = await t.client({ token: t.token(email) });

    local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'timeout', delayMs: 1500, times: 2 });
    const started = Date.now();
    let text: string;
    try {
      text = await callToolExpectingError(client, 'activate_esim');
    } finally {
      local.clearFailures();
    }
    expect(text).toMatch(/invoice/i);
    expect(text).toMatch(/nothing was charged/i);
    expect(text).not.toMatch(/timeout|timed out|ETIMEDOUT|Stripe\w*Error|\bat \S+ \(/i);

    // The user asks again at once, while the slow request is still being carried out at Stripe.
    const next = await activate(client);
    expect(next).toMatchObject({ status: 'awaiting_payment', amount_due: '1.00', currency: 'usd' });

    // Let the slow request land, then look at Stripe: one payable invoice, and it is ours.
    await sleep(Math.max(0, 1800 - (Date.now() - started)));
    await local.webhooksIdle();
    const customerId = (await db.user(uid))!.stripe_customer_id!;
    const atStripe = await stripe.invoices.list({ customer: customerId });
    const open = atStripe.data.filter((i) => i.status === 'open');
    expect(open).toHaveLength(1);
    expect(open[0]!.hosted_invoice_url).toBe(next.invoice_url);
    // Anything else an unseen attempt left behind is an unfinalized draft: nobody can pay it.
    for (const other of atStripe.data.filter((i) => i.id !== open[0]!.id)) expect(other.status).toBe('draft');
    expect(local.counts().openInvoices).toBe(1);
    expect(local.counts().customers).toBe(1);
    expect((await db.invoices(uid)).map((i) => [i.status, i.stripe_invoice_id])).toEqual([['open', open[0]!.id]]);

    // Asking again later settles on the same invoice.
    expect((await activate(client)).invoice_url).toBe(next.invoice_url);
    expect(local.counts().openInvoices).toBe(1);
  });
});
