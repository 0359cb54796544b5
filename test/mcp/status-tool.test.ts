// get_activation_status, the read-only twin of activate_esim, through the official MCP SDK client
// over HTTP (the client checks every structured answer against the published output schema): none
// → awaiting_payment → paid ("I paid" before the webhook) → active, and queued; asking any number of
// times creates no activation and no invoice, and asks Stripe nothing but the bounded look-up.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { MCP_PATH } from '../../src/mcp/endpoint.js';
import type { ActivationStatusResult } from '../../src/mcp/tools/activate-esim.js';
import { buyAndPay, openStripeInvoice } from '../activation/support.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { expectBearerChallenge } from '../support/challenge.js';
import { waitUntil } from '../support/time.js';
import { activateEsim, callTool, type ToolAnswer } from '../support/tools.js';

const status = (client: Client): Promise<ToolAnswer<ActivationStatusResult>> => callTool<ActivationStatusResult>(client, 'get_activation_status');

async function rows(db: Queryable): Promise<{ users: number; activations: number; invoices: number }> {
  const { rows: r } = await db.query<{ users: number; activations: number; invoices: number }>(
    `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM activations) AS activations,
            (SELECT count(*)::int FROM invoices) AS invoices`,
  );
  return r[0]!;
}

describe('get_activation_status', () => {
  let app: TestApp;
  beforeAll(async () => {
    // One activation an hour: the second buyer waits in the queue.
    app = await startTestApp({ ACTIVATIONS_PER_HOUR: '1', LOCAL_OXIO_LATENCY_MS: '2', OXIO_POLL_INTERVAL_MS: '50' });
  });
  afterAll(() => app.close());

  const stripeRequests = () => app.service.local.stripe!.apiRequests();
  /** A client that has listed the tools: the SDK then validates each answer against its output schema. */
  async function signedIn(email: string): Promise<Client> {
    const client = await app.client({ token: app.token(email) });
    await client.listTools();
    return client;
  }

  it('none → awaiting_payment → paid → active: the same story as activate_esim, without starting anything', async () => {
    const email = 'ana.status@example.com';
    const client = await signedIn(email);
    const stripeBefore = stripeRequests().length;
    const before = await rows(app.service.db);

    // Never started: `none`, pointing at activate_esim. Only the registration happened.
    const none = await status(client);
    expect(none.structured).toEqual({ status: 'none', message: expect.any(String), next_steps: [expect.stringContaining('activate_esim')] });
    expect(none.text).toContain('activate_esim');
    for (let i = 0; i < 10; i++) expect((await status(client)).structured.status).toBe('none');
    expect(await rows(app.service.db)).toEqual({ ...before, users: before.users + 1 });
    expect(stripeRequests()).toHaveLength(stripeBefore);

    // activate_esim sends the invoice and points at get_activation_status for what follows.
    const first = await activateEsim(client);
    expect(first.structured.status).toBe('awaiting_payment');
    expect(first.structured.next_steps.join(' ')).toContain('get_activation_status');
    expect(first.structured.email_hint).toBe('a***@example.com');

    const waiting = await status(client);
    expect(waiting.structured).toMatchObject({
      status: 'awaiting_payment',
      activation_id: first.structured.activation_id,
      invoice_url: first.structured.invoice_url,
      amount_due: '1.00',
      currency: 'usd',
      email_hint: 'a***@example.com',
    });
    expect(waiting.text).toContain(first.structured.invoice_url!);
    expect(waiting.raw).not.toContain(email);

    // The user pays; the webhook is late. "I paid" once the look-up interval has passed: the
    // status read asks Stripe once (a GET of that invoice) and records the payment.
    const stripe = app.service.local.stripe!;
    const invoiceId = await openStripeInvoice(app.service.db, email);
    stripe.holdWebhooks(true);
    await stripe.pay(invoiceId);
    await app.service.db.query(`UPDATE invoices SET last_checked_at = last_checked_at - interval '1 hour' WHERE stripe_invoice_id = $1`, [invoiceId]);
    const askedBefore = stripeRequests().length;
    const paid = await status(client);
    expect(['queued', 'activating', 'active']).toContain(paid.structured.status);
    expect(stripeRequests().slice(askedBefore)).toEqual([{ method: 'GET', path: `/v1/invoices/${invoiceId}` }]);
    await stripe.releaseWebhooks();

    // The worker takes it from there; the status read follows it to the phone number.
    const active = await waitUntil(
      async () => {
        const s = await status(client);
        return s.structured.status === 'active' ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250, what: 'the activation to be active' },
    );
    const line = app.service.local.oxio!.lines().find((l) => l.email === email)!;
    expect(active.structured).toMatchObject({
      status: 'active',
      activation_id: first.structured.activation_id,
      phone_number: line.phoneNumber,
      email_hint: 'a***@example.com',
    });
    expect(active.raw).not.toContain(line.iccid);
    expect(active.raw).not.toContain(line.activationCode.split('$')[2]!);
    expect(active.raw).not.toContain(email);
    // One activation, one invoice for this user, whatever was asked.
    const after = await rows(app.service.db);
    expect(after.activations - before.activations).toBe(1);
    expect(after.invoices - before.invoices).toBe(1);
  });

  it('queued: position and wait, when the hour is used up', async () => {
    const { client } = await buyAndPay(app, 'ben.status@example.com');
    await client.listTools();
    const queued = await status(client);
    expect(queued.structured).toMatchObject({ status: 'queued', queue_position: 1 });
    expect(queued.structured.estimated_wait_minutes).toBeGreaterThan(0);
    expect(queued.structured.next_steps.join(' ')).toContain('get_activation_status');
  });

  it('asked again and again while an invoice is open: no new rows, and Stripe asked at most once', async () => {
    const client = await signedIn('cara.status@example.com');
    await activateEsim(client);
    const before = await rows(app.service.db);
    const counts = app.service.local.stripe!.counts();
    const asked = stripeRequests().length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => status(client)));
    for (const a of await Promise.all([...answers, status(client), status(client)])) expect(a.structured.status).toBe('awaiting_payment');
    expect(await rows(app.service.db)).toEqual(before);
    expect(app.service.local.stripe!.counts()).toEqual(counts);
    const calls = stripeRequests().slice(asked);
    expect(calls.length).toBeLessThanOrEqual(1);
    for (const c of calls) expect(c).toMatchObject({ method: 'GET', path: expect.stringMatching(/^\/v1\/invoices\/in_/) });
  });

  it('an invoice voided at Stripe: no link to share, a pointer to activate_esim, and no new invoice', async () => {
    const email = 'dan.status@example.com';
    const client = await signedIn(email);
    await activateEsim(client);
    const stripe = app.service.local.stripe!;
    await stripe.voidInvoice(await openStripeInvoice(app.service.db, email));
    await stripe.webhooksIdle();
    const before = await rows(app.service.db);
    const asked = stripeRequests().length;
    const answer = await status(client);
    expect(answer.structured).toMatchObject({ status: 'awaiting_payment', amount_due: '1.00' });
    expect(answer.structured.invoice_url).toBeUndefined();
    expect(answer.structured.next_steps.join(' ')).toContain('activate_esim');
    expect(await rows(app.service.db)).toEqual(before);
    expect(stripeRequests().slice(asked)).toEqual([]);
    // activate_esim then sends the replacement.
    expect((await activateEsim(client)).structured.invoice_url).toMatch(/^https?:\/\//);
  });

  it('without a token: the same 401 challenge as activate_esim, and nothing happens', async () => {
    const before = await rows(app.service.db);
    const res = await request(app.url)
      .post(MCP_PATH)
      .set('accept', 'application/json')
      .send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_activation_status', arguments: {} } });
    expect(res.status).toBe(401);
    expectBearerChallenge(res.headers['www-authenticate'], app.url);
    expect(await rows(app.service.db)).toEqual(before);
  });
});
