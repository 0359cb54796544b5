// The local Stripe stand-in, driven by the real `stripe` SDK and a real webhook receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Stripe from 'stripe';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalStripe, type LocalStripeOptions } from '../../src/local/stripe/index.js';
import { sleep, waitUntil } from '../support/time.js';

const running: Array<{ close(): Promise<void> }> = [];
/** What the stand-in does on its own (webhooks, a hung request finishing) takes milliseconds. */
const quickly = { timeoutMs: 5_000, intervalMs: 10 };

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function setup(opts: LocalStripeOptions = {}, sdk: Stripe.StripeConfig = {}) {
  const local = await startLocalStripe({ webhookRetry: { initialDelayMs: 20, maxDelayMs: 200 }, ...opts });
  running.push(local);
  const stripe = new Stripe(local.secretKey, { host: local.host, port: local.port, protocol: 'http', maxNetworkRetries: 0, ...sdk });
  return { local, stripe };
}

/** Customer + $1 send_invoice invoice with one line, finalized (what the app does). */
async function openInvoice(stripe: Stripe, email = 'traveller@example.com') {
  const customer = await stripe.customers.create({ email, name: 'Tra Veller', metadata: { firebase_uid: 'uid-1' } });
  const draft = await stripe.invoices.create({
    customer: customer.id,
    collection_method: 'send_invoice',
    days_until_due: 7,
    description: 'eSIM Beta Activation',
    currency: 'usd',
    auto_advance: false,
    pending_invoice_items_behavior: 'exclude',
    metadata: { dotm_invoice_id: '5' },
  });
  await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100, currency: 'usd', description: 'eSIM Beta Activation' });
  const invoice = await stripe.invoices.finalizeInvoice(draft.id);
  return { customer, invoice };
}

interface Receiver {
  url: string;
  events: Stripe.Event[];
  attempts: number;
  close(): Promise<void>;
}

/** A webhook endpoint as the app builds it: raw body, signature verified first. */
async function startReceiver(webhookSecret: string, statuses: number[] = []): Promise<Receiver> {
  const verifier = new Stripe('sk_test_verifier');
  const receiver: Receiver = { url: '', events: [], attempts: 0, close: async () => {} };
  const app = express();
  app.post('/webhooks/stripe', express.raw({ type: 'application/json' }), (req, res) => {
    receiver.attempts += 1;
    let event: Stripe.Event;
    try {
      event = verifier.webhooks.constructEvent(req.body as Buffer, req.get('stripe-signature') ?? '', webhookSecret);
    } catch {
      return res.status(400).send('bad signature');
    }
    const status = statuses.shift() ?? 200;
    if (status >= 200 && status < 300) receiver.events.push(event);
    res.status(status).json({ received: status < 300 });
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  running.push(receiver);
  return receiver;
}

describe('local Stripe: API through the real SDK', () => {
  it('creates a customer, a $1 invoice with one line, finalizes, sends, retrieves and lists it', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'traveller@example.com', name: 'Tra Veller', metadata: { firebase_uid: 'uid-1' } });
    expect(customer).toMatchObject({ object: 'customer', email: 'traveller@example.com', metadata: { firebase_uid: 'uid-1' }, livemode: false });
    expect(customer.id).toMatch(/^cus_/);
    expect((await stripe.customers.retrieve(customer.id)).id).toBe(customer.id);

    const draft = await stripe.invoices.create({
      customer: customer.id,
      collection_method: 'send_invoice',
      days_until_due: 7,
      description: 'eSIM Beta Activation',
      currency: 'usd',
      auto_advance: false,
      pending_invoice_items_behavior: 'exclude',
      metadata: { dotm_invoice_id: '5' },
    });
    expect(draft.id).toMatch(/^in_/);
    expect(draft).toMatchObject({
      object: 'invoice',
      status: 'draft',
      customer: customer.id,
      customer_email: 'traveller@example.com',
      collection_method: 'send_invoice',
      currency: 'usd',
      amount_due: 0,
      description: 'eSIM Beta Activation',
      metadata: { dotm_invoice_id: '5' },
      number: null,
      hosted_invoice_url: null,
      livemode: false,
    });

    const item = await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100, currency: 'usd', description: 'eSIM Beta Activation' });
    expect(item).toMatchObject({ object: 'invoiceitem', amount: 100, invoice: draft.id });
    const withItem = await stripe.invoices.retrieve(draft.id);
    expect(withItem).toMatchObject({ subtotal: 100, total: 100, amount_due: 100, status: 'draft' });
    expect(withItem.lines.data).toHaveLength(1);
    expect(withItem.lines.data[0]).toMatchObject({ object: 'line_item', amount: 100, currency: 'usd', description: 'eSIM Beta Activation' });

    const open = await stripe.invoices.finalizeInvoice(draft.id);
    expect(open).toMatchObject({ status: 'open', amount_due: 100, amount_paid: 0, amount_remaining: 100, hosted_invoice_url: `${local.url}/i/${draft.id}` });
    expect(open.number).toMatch(/^[0-9A-F]{8}-0001$/);
    expect(open.status_transitions.finalized_at).toEqual(expect.any(Number));
    expect(open.status_transitions.paid_at).toBeNull();
    expect(open.due_date).toBeGreaterThanOrEqual(open.status_transitions.finalized_at! + 7 * 86_400);

    const sent = await stripe.invoices.sendInvoice(draft.id);
    expect(sent.status).toBe('open');

    const second = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    const other = await stripe.customers.create({ email: 'someone@example.com' });
    await stripe.invoices.create({ customer: other.id, collection_method: 'send_invoice', days_until_due: 1 });

    const listed = await stripe.invoices.list({ customer: customer.id, limit: 10 });
    expect(listed).toMatchObject({ object: 'list', has_more: false, url: '/v1/invoices' });
    expect(listed.data.map((i) => i.id)).toEqual([second.id, draft.id]);
    const firstPage = await stripe.invoices.list({ customer: customer.id, limit: 1 });
    expect(firstPage.data.map((i) => i.id)).toEqual([second.id]);
    expect(firstPage.has_more).toBe(true);
    const openOnly = await stripe.invoices.list({ customer: customer.id, status: 'open' });
    expect(openOnly.data.map((i) => i.id)).toEqual([draft.id]);

    const expanded = await stripe.invoices.retrieve(draft.id, { expand: ['customer'] });
    expect(expanded.customer).toMatchObject({ id: customer.id, email: 'traveller@example.com' });

    expect(local.counts()).toEqual({ customers: 2, invoices: 3, openInvoices: 1 });
  });

  it('replays an idempotent request and refuses the same key with other parameters', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    const params: Stripe.InvoiceCreateParams = { customer: customer.id, collection_method: 'send_invoice', days_until_due: 7, metadata: { dotm_invoice_id: '9' } };
    const first = await stripe.invoices.create(params, { idempotencyKey: 'invoice-9' });
    const again = await stripe.invoices.create(params, { idempotencyKey: 'invoice-9' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(local.counts().invoices).toBe(1);
    expect(local.events().filter((e) => e.type === 'invoice.created')).toHaveLength(1);

    const mismatch = stripe.invoices.create({ ...params, days_until_due: 8 }, { idempotencyKey: 'invoice-9' });
    await expect(mismatch).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(mismatch).rejects.toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    const otherEndpoint = stripe.customers.create({ email: 'b@example.com' }, { idempotencyKey: 'invoice-9' });
    await expect(otherEndpoint).rejects.toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(local.counts().invoices).toBe(1);
  });

  it('answers Stripe-shaped errors: unknown id, unknown parameter, bad state, bad key', async () => {
    const { local, stripe } = await setup();
    const missing = stripe.invoices.retrieve('in_doesnotexist');
    await expect(missing).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(missing).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such invoice: 'in_doesnotexist'" });
    await expect(stripe.customers.retrieve('cus_nope')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });

    const unknownParam = stripe.invoices.create({ customer: 'cus_x', collection_method: 'send_invoice', days_until_due: 1, subscription: 'sub_1' } as Stripe.InvoiceCreateParams);
    await expect(unknownParam).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'subscription' });
    await expect(stripe.invoices.create({ customer: 'cus_x', collection_method: 'send_invoice', days_until_due: 1 })).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'customer',
    });

    const { invoice } = await openInvoice(stripe);
    await expect(stripe.invoices.finalizeInvoice(invoice.id)).rejects.toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
    await expect(stripe.invoiceItems.create({ customer: invoice.customer as string, invoice: invoice.id, amount: 50 })).rejects.toMatchObject({
      code: 'invoice_not_editable',
    });

    const badKey = new Stripe('sk_live_wrong', { host: local.host, port: local.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(badKey.invoices.retrieve(invoice.id)).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const noKey = await fetch(`${local.url}/v1/invoices/${invoice.id}`);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('reads the raw wire format: metadata[k]=v, expand[]=x, Basic auth', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'wire@example.com' });
    const res = await fetch(`${local.url}/v1/invoices`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${local.secretKey}:`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `customer=${customer.id}&collection_method=send_invoice&days_until_due=3&metadata[dotm_invoice_id]=5&metadata%5Bsource%5D=curl&expand[]=customer`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const body = (await res.json()) as { metadata: Record<string, string>; customer: { email: string } };
    expect(body.metadata).toEqual({ dotm_invoice_id: '5', source: 'curl' });
    expect(body.customer.email).toBe('wire@example.com');

    const listed = await fetch(`${local.url}/v1/invoices?customer=${customer.id}&limit=1&expand[]=data.customer`, {
      headers: { authorization: `Bearer ${local.secretKey}` },
    });
    const list = (await listed.json()) as { object: string; data: Array<{ customer: { id: string } }> };
    expect(list.object).toBe('list');
    expect(list.data[0]!.customer.id).toBe(customer.id);
    await expect(stripe.invoices.retrieve((body as unknown as { id: string }).id, { expand: ['nothing'] })).rejects.toMatchObject({ param: 'expand' });
  });

  it('voids, marks uncollectible and pays out of band through the API', async () => {
    const { stripe } = await setup();
    const a = await openInvoice(stripe);
    const voided = await stripe.invoices.voidInvoice(a.invoice.id);
    expect(voided).toMatchObject({ status: 'void', amount_remaining: 0 });
    expect(voided.status_transitions.voided_at).toEqual(expect.any(Number));
    await expect(stripe.invoices.voidInvoice(a.invoice.id)).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);

    const b = await openInvoice(stripe);
    const uncollectible = await stripe.invoices.markUncollectible(b.invoice.id);
    expect(uncollectible.status).toBe('uncollectible');
    expect(uncollectible.status_transitions.marked_uncollectible_at).toEqual(expect.any(Number));

    const c = await openInvoice(stripe);
    const paid = await stripe.invoices.pay(c.invoice.id, { paid_out_of_band: true });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 100, amount_remaining: 0 });
    await expect(stripe.invoices.pay(c.invoice.id, { paid_out_of_band: true })).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('local Stripe: failure injection', () => {
  it('an injected 500 surfaces as StripeAPIError and changes nothing', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'error' });
    const failed = stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    await expect(failed).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(local.counts().invoices).toBe(0);
    // Only the next request was affected.
    await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    expect(local.counts().invoices).toBe(1);
  });

  it('error-after-commit performs the operation; a retry with the same key gets the real answer', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    local.injectFailure({ path: /^\/v1\/invoices$/, mode: 'error-after-commit' });
    const params: Stripe.InvoiceCreateParams = { customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 };
    await expect(stripe.invoices.create(params, { idempotencyKey: 'k-commit' })).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(local.counts().invoices).toBe(1);
    const retried = await stripe.invoices.create(params, { idempotencyKey: 'k-commit' });
    expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(local.counts().invoices).toBe(1);
    const listed = await stripe.invoices.list({ customer: customer.id });
    expect(listed.data.map((i) => i.id)).toEqual([retried.id]);
  });

  it('an injected hang surfaces as StripeConnectionError with a short SDK timeout', async () => {
    const { local, stripe } = await setup({}, { timeout: 150 });
    const { invoice } = await openInvoice(stripe);
    local.injectFailure({ method: 'GET', path: /^\/v1\/invoices\/in_/, mode: 'timeout', delayMs: 1_000 });
    await expect(stripe.invoices.retrieve(invoice.id)).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect((await stripe.invoices.retrieve(invoice.id)).id).toBe(invoice.id);
  });

  it('a hung POST still takes effect once; its key stays in use until then, then replays', async () => {
    const { local, stripe } = await setup({}, { timeout: 150 });
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    local.injectFailure({ method: 'POST', path: '/v1/invoices', mode: 'timeout', delayMs: 400 });
    const params: Stripe.InvoiceCreateParams = { customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 };
    await expect(stripe.invoices.create(params, { idempotencyKey: 'k-slow' })).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await expect(stripe.invoices.create(params, { idempotencyKey: 'k-slow' })).rejects.toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    await waitUntil(() => local.counts().invoices === 1, quickly);
    const replayed = await stripe.invoices.create(params, { idempotencyKey: 'k-slow' });
    expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(local.counts().invoices).toBe(1);
  });

  it('clearFailures removes pending injections', async () => {
    const { local, stripe } = await setup();
    local.injectFailure({ path: '/v1/customers', mode: 'error', times: 5 });
    local.clearFailures();
    await expect(stripe.customers.create({ email: 'a@example.com' })).resolves.toMatchObject({ object: 'customer' });
  });
});

describe('local Stripe: hosted invoice page', () => {
  it('shows $1.00 with a plain form; paying marks the invoice paid once', async () => {
    const { local, stripe } = await setup();
    const { invoice } = await openInvoice(stripe, 'payer@example.com');
    const page = await request(local.url).get(`/i/${invoice.id}`);
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html');
    expect(page.text).toContain('$1.00');
    expect(page.text).toContain('eSIM Beta Activation');
    expect(page.text).toContain('payer@example.com');
    expect(page.text).toContain(`<form method="post" action="/i/${invoice.id}/pay">`);

    const paid = await request(local.url).post(`/i/${invoice.id}/pay`).type('form').send('');
    expect(paid.status).toBe(303);
    expect(paid.headers.location).toBe(`/i/${invoice.id}`);

    const after = await request(local.url).get(`/i/${invoice.id}`);
    expect(after.text).toContain('has been paid');
    expect(after.text).not.toContain('<form');

    const retrieved = await stripe.invoices.retrieve(invoice.id);
    expect(retrieved).toMatchObject({ status: 'paid', amount_paid: 100, amount_remaining: 0 });
    const paidAt = retrieved.status_transitions.paid_at;
    expect(paidAt).toEqual(expect.any(Number));

    // Paying again changes nothing.
    const again = await request(local.url).post(`/i/${invoice.id}/pay`);
    expect(again.status).toBe(303);
    expect((await stripe.invoices.retrieve(invoice.id)).status_transitions.paid_at).toBe(paidAt);
    expect(local.events().filter((e) => e.type === 'invoice.paid')).toHaveLength(1);
    expect(local.counts().openInvoices).toBe(0);

    const pdf = await request(local.url).get(`/i/${invoice.id}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.type).toBe('application/pdf');
  });

  it('has no page for an unknown or draft invoice', async () => {
    const { local, stripe } = await setup();
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    expect((await request(local.url).get(`/i/${draft.id}`)).status).toBe(404);
    expect((await request(local.url).get('/i/in_nope')).status).toBe(404);
    expect((await request(local.url).post('/i/in_nope/pay')).status).toBe(404);
  });
});

describe('local Stripe: webhooks', () => {
  it('delivers signed events in order; invoice.paid verifies with constructEvent', async () => {
    const { local, stripe } = await setup();
    const receiver = await startReceiver(local.webhookSecret);
    local.setWebhookUrl(receiver.url);
    const { invoice } = await openInvoice(stripe);
    await local.pay(invoice.id);

    const paid = await waitUntil(() => receiver.events.find((e) => e.type === 'invoice.paid'), quickly);
    expect(paid.data.object).toMatchObject({ id: invoice.id, object: 'invoice', status: 'paid', amount_paid: 100, metadata: { dotm_invoice_id: '5' } });
    expect(paid).toMatchObject({ object: 'event', livemode: false, api_version: Stripe.API_VERSION });
    expect(paid.id).toMatch(/^evt_/);
    await waitUntil(() => receiver.events.length >= 4, quickly);
    expect(receiver.events.map((e) => e.type)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
    // Snapshots are taken when the event happens.
    expect(receiver.events[0]!.data.object).toMatchObject({ status: 'draft' });
    // API-caused events name the request and its idempotency key; the Pay button's do not.
    expect(receiver.events[0]!.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: expect.any(String) });
    expect(paid.request).toEqual({ id: null, idempotency_key: null });
  });

  it('the signature is the one Stripe sends: t=…,v1=HMAC(secret, "t.payload")', async () => {
    const { local } = await setup({ webhookSecret: 'whsec_fixed_for_test' });
    expect(local.webhookSecret).toBe('whsec_fixed_for_test');
    let captured: { body: string; sig: string } | undefined;
    const app = express();
    app.post('/hook', express.raw({ type: 'application/json' }), (req, res) => {
      captured = { body: (req.body as Buffer).toString('utf8'), sig: req.get('stripe-signature') ?? '' };
      res.sendStatus(200);
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    running.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    local.setWebhookUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    const stripe = new Stripe(local.secretKey, { host: local.host, port: local.port, protocol: 'http' });
    await openInvoice(stripe);
    const got = await waitUntil(() => captured, quickly);
    expect(got.sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = stripe.webhooks.constructEvent(got.body, got.sig, 'whsec_fixed_for_test');
    expect(event.type).toBe('invoice.created');
    expect(() => stripe.webhooks.constructEvent(got.body, got.sig, 'whsec_other')).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('holds events while asked and delivers them on release', async () => {
    const { local, stripe } = await setup();
    const receiver = await startReceiver(local.webhookSecret);
    local.setWebhookUrl(receiver.url);
    local.holdWebhooks(true);
    const { invoice } = await openInvoice(stripe);
    await local.pay(invoice.id);
    await sleep(100);
    expect(receiver.attempts).toBe(0);
    expect(local.events().map((e) => e.type)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);

    await local.releaseWebhooks();
    expect(receiver.events.map((e) => e.type)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  });

  it('retries a delivery the receiver refused, and redelivers an event on request', async () => {
    const { local, stripe } = await setup();
    const receiver = await startReceiver(local.webhookSecret, [500]);
    local.setWebhookUrl(receiver.url);
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    await local.webhooksIdle();
    expect(receiver.attempts).toBe(2);
    expect(receiver.events.map((e) => e.type)).toEqual(['invoice.created']);

    const [created] = local.events();
    expect(await local.deliverEvent(created!.id)).toBe(200);
    expect(receiver.events.map((e) => e.id)).toEqual([created!.id, created!.id]);
  });

  it('queues events until a webhook URL is set', async () => {
    const { local, stripe } = await setup();
    await openInvoice(stripe);
    const receiver = await startReceiver(local.webhookSecret);
    local.setWebhookUrl(receiver.url);
    await local.webhooksIdle();
    expect(receiver.events.map((e) => e.type)).toEqual(['invoice.created', 'invoice.finalized']);
  });
});

describe('local Stripe: module helpers and stats', () => {
  it('pay, voidInvoice and markUncollectible act like Stripe, with events', async () => {
    const { local, stripe } = await setup();
    const a = await openInvoice(stripe);
    await local.markUncollectible(a.invoice.id);
    await local.pay(a.invoice.id);
    expect((await stripe.invoices.retrieve(a.invoice.id)).status).toBe('paid');
    await expect(local.voidInvoice(a.invoice.id)).rejects.toThrow(/only void/);

    const b = await openInvoice(stripe);
    await local.voidInvoice(b.invoice.id);
    await expect(local.pay(b.invoice.id)).rejects.toThrow(/void/);
    await expect(local.pay('in_nope')).rejects.toThrow(/No such invoice/);
    expect(local.events().map((e) => e.type)).toContain('invoice.voided');
    expect(local.events().map((e) => e.type)).toContain('invoice.marked_uncollectible');
  });

  it('counts requests and time spent, leaving out injected latency', async () => {
    const { local, stripe } = await setup({ latencyMs: 80 });
    const started = Date.now();
    await stripe.customers.create({ email: 'a@example.com' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    const stats = local.stats();
    expect(stats.requests).toBe(1);
    expect(stats.handlerMs).toBeGreaterThanOrEqual(0);
    expect(stats.handlerMs).toBeLessThan(60);
  });
});
