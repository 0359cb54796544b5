// The stand-ins' state on disk: what a restart finds again (Stripe invoices and undelivered events,
// OXIO lines and idempotency keys, mailbox messages), that an answer is given only once its change
// is written, that writes are whole under concurrency, and that a missing, cut-short or forged file
// starts the stand-in empty with a warning instead of stopping it. Without a folder nothing is written.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import nodemailer from 'nodemailer';
import Stripe from 'stripe';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLocalOxio } from '../../src/local/oxio/index.js';
import { startLocalSmtp } from '../../src/local/smtp/server.js';
import { openStateFolder, SnapshotFile, StateFolderInUseError } from '../../src/local/state.js';
import { startLocalStripe, type LocalStripe } from '../../src/local/stripe/index.js';
import { memoryLogger } from '../support/logger.js';

const root = mkdtempSync(join(tmpdir(), 'dotm-local-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folderCount = 0;
const newFolder = () => {
  const dir = join(root, `s${++folderCount}`);
  mkdirSync(dir);
  return dir;
};

const running: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});
function track<T extends { close(): Promise<void> }>(standIn: T): T {
  running.push(standIn);
  return standIn;
}
async function closeNow(standIn: { close(): Promise<void> }): Promise<void> {
  running.splice(running.indexOf(standIn), 1);
  await standIn.close();
}

const sdk = (local: LocalStripe) => new Stripe(local.secretKey, { host: local.host, port: local.port, protocol: 'http', maxNetworkRetries: 0 });

async function openInvoice(stripe: Stripe, email = 'kept@example.com') {
  const customer = await stripe.customers.create({ email });
  const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7, description: 'eSIM Beta Activation' });
  await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100, currency: 'usd' });
  return { customer, invoice: await stripe.invoices.finalizeInvoice(draft.id) };
}

/** A webhook endpoint that checks each signature with the given secret. */
async function receiver(secret: () => string): Promise<{ url: string; events: Stripe.Event[]; close(): Promise<void> }> {
  const events: Stripe.Event[] = [];
  const verifier = new Stripe('sk_test_verifier');
  const app = express();
  app.post('/hook', express.raw({ type: 'application/json' }), (req, res) => {
    events.push(verifier.webhooks.constructEvent(req.body as Buffer, req.get('stripe-signature') ?? '', secret()));
    res.sendStatus(200);
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    events,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('local Stripe across restarts', () => {
  it('finds its customers and invoices again; numbering goes on; keys are new and never written', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalStripe({ stateDir }));
    const { customer, invoice } = await openInvoice(sdk(first));
    // Answered only once written: the file already holds what the caller was told about.
    expect(readFileSync(join(stateDir, 'stripe.json'), 'utf8')).toContain(invoice.id);
    await closeNow(first);

    const second = track(await startLocalStripe({ stateDir }));
    expect(second.secretKey).not.toBe(first.secretKey);
    expect(second.webhookSecret).not.toBe(first.webhookSecret);
    const stripe = sdk(second);
    const again = await stripe.invoices.retrieve(invoice.id);
    expect(again).toMatchObject({ status: 'open', amount_due: 100, number: invoice.number, customer_email: 'kept@example.com' });
    expect(again.hosted_invoice_url).toBe(`${second.url}/i/${invoice.id}`);
    expect((await stripe.invoices.list({ customer: customer.id })).data.map((i) => i.id)).toEqual([invoice.id]);
    expect((await stripe.customers.list({ email: 'kept@example.com' })).data.map((c) => c.id)).toEqual([customer.id]);
    const next = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });
    await stripe.invoiceItems.create({ customer: customer.id, invoice: next.id, amount: 100, currency: 'usd' });
    expect((await stripe.invoices.finalizeInvoice(next.id)).number).toBe(invoice.number!.replace(/0001$/, '0002'));
    const page = await fetch(`${second.url}/i/${invoice.id}`);
    expect(await page.text()).toContain('Pay $1.00');

    const file = readFileSync(join(stateDir, 'stripe.json'), 'utf8');
    for (const secret of [first.secretKey, first.webhookSecret, second.secretKey, second.webhookSecret]) expect(file).not.toContain(secret);
  });

  it('events not delivered before a restart are delivered after it, signed with the new secret', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalStripe({ stateDir }));
    first.holdWebhooks(true);
    const { invoice } = await openInvoice(sdk(first));
    await first.pay(invoice.id);
    await closeNow(first);

    let secret = '';
    const hook = await receiver(() => secret);
    try {
      const second = track(await startLocalStripe({ stateDir, webhookRetry: { initialDelayMs: 10 } }));
      secret = second.webhookSecret;
      second.setWebhookUrl(hook.url);
      await second.webhooksIdle();
      expect(hook.events.map((e) => e.type)).toEqual([
        'invoice.created',
        'invoice.finalized',
        'invoice.paid',
        'invoice.payment_succeeded',
      ]);
      expect((hook.events[2]!.data.object as Stripe.Invoice).id).toBe(invoice.id);
      await closeNow(second);
      // Delivered: a third start has nothing left to send.
      const third = track(await startLocalStripe({ stateDir }));
      third.setWebhookUrl(hook.url);
      await third.webhooksIdle();
      expect(hook.events).toHaveLength(4);
    } finally {
      await hook.close();
    }
  });

  it('writes whole files under concurrent changes, and leaves no temporary file behind', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalStripe({ stateDir }));
    const stripe = sdk(first);
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => stripe.customers.create({ email: `c${i}@example.com` })));
    await closeNow(first);
    expect(readdirSync(stateDir)).toEqual(['stripe.json']);
    const kept = JSON.parse(readFileSync(join(stateDir, 'stripe.json'), 'utf8')) as { customers: Array<{ id: string }> };
    expect(new Set(kept.customers.map((c) => c.id))).toEqual(new Set(created.map((c) => c.id)));

    const second = track(await startLocalStripe({ stateDir }));
    expect(second.counts().customers).toBe(40);
  });

  it('a cut-short or forged file is moved aside with a warning; the stand-in starts empty and writes afresh', async () => {
    for (const [what, content] of [
      ['cut short', '{"version":1,"customers":[{"id":"cus_'],
      ['forged', JSON.stringify({ version: 1, customers: [{ id: '../../etc/passwd' }], invoices: [], items: [], pendingEvents: [] })],
      ['another version', JSON.stringify({ version: 99 })],
    ] as const) {
      const stateDir = newFolder();
      writeFileSync(join(stateDir, 'stripe.json'), content);
      const { logger, lines } = memoryLogger();
      const local = track(await startLocalStripe({ stateDir, logger }));
      expect(local.counts(), what).toEqual({ customers: 0, invoices: 0, openInvoices: 0 });
      const warning = lines.find((l) => l.msg === 'local state file unreadable; starting empty');
      expect(warning, what).toBeDefined();
      const aside = readdirSync(stateDir).filter((f) => f.startsWith('stripe.json.corrupt-'));
      expect(aside, what).toHaveLength(1);
      expect(readFileSync(join(stateDir, aside[0]!), 'utf8')).toBe(content);

      await sdk(local).customers.create({ email: 'fresh@example.com' });
      await closeNow(local);
      const again = track(await startLocalStripe({ stateDir }));
      expect(again.counts().customers, what).toBe(1);
    }
  });

  it('without a folder nothing is written', async () => {
    const local = track(await startLocalStripe());
    expect(local.stateFile).toBeNull();
    const before = readdirSync(process.cwd());
    await openInvoice(sdk(local));
    expect(readdirSync(process.cwd())).toEqual(before);
  });
});

describe('local OXIO across restarts', () => {
  const headers = (o: { apiKey: string; authToken: string }) => ({
    authorization: `Basic ${Buffer.from(`${o.apiKey}:${o.authToken}`).toString('base64')}`,
    'content-type': 'application/json',
  });

  it('keeps end users, lines and idempotency keys: a retried creation gets the same line', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalOxio({ stateDir, latencyMs: 0 }));
    const user = (await (
      await fetch(`${first.url}/v2/end-users`, {
        method: 'POST',
        headers: headers(first),
        body: JSON.stringify({ email: 'line@example.com', firstName: 'Li', lastName: 'Ne', externalId: 'uid-hash-1' }),
      })
    ).json()) as { endUserId: string };
    const lineBody = JSON.stringify({ lineType: 'LINE_TYPE_MOBILITY', countryCode: 'US', sim: { simType: 'EMBEDDED' }, endUserId: user.endUserId, externalReference: 'ref-1' });
    const created = await fetch(`${first.url}/v3/lines/line`, { method: 'POST', headers: { ...headers(first), 'idempotency-key': 'act-1' }, body: lineBody });
    expect(created.status).toBe(201);
    const line = (await created.json()) as { lineId: string; phoneNumbers: Array<{ phoneNumber: string }>; sim: { iccid: string } };
    expect(readFileSync(join(stateDir, 'oxio.json'), 'utf8')).toContain(line.lineId);
    await closeNow(first);

    const second = track(await startLocalOxio({ stateDir, latencyMs: 0 }));
    const got = await fetch(`${second.url}/v3/lines/${line.lineId}`, { headers: headers(second) });
    expect(await got.json()).toMatchObject({ lineId: line.lineId, status: 'ACTIVE', externalReference: 'ref-1', phoneNumbers: line.phoneNumbers });
    const retried = await fetch(`${second.url}/v3/lines/line`, { method: 'POST', headers: { ...headers(second), 'idempotency-key': 'act-1' }, body: lineBody });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retried.json()) as { lineId: string }).lineId).toBe(line.lineId);
    const byExternalId = await fetch(`${second.url}/v2/end-users?externalId=uid-hash-1`, { headers: headers(second) });
    expect(((await byExternalId.json()) as { endUsers: Array<{ endUserId: string }> }).endUsers.map((u) => u.endUserId)).toEqual([user.endUserId]);
    expect(second.stats().lineCreates).toBe(0);
    expect((await fetch(`${second.url}/v3/sims/${line.sim.iccid}`, { headers: headers(second) })).status).toBe(200);
  });

  it('a cut-short file starts it empty with a warning', async () => {
    const stateDir = newFolder();
    writeFileSync(join(stateDir, 'oxio.json'), '{"version":1,"endUsers":[');
    const { logger, lines } = memoryLogger();
    const local = track(await startLocalOxio({ stateDir, latencyMs: 0, logger }));
    expect(local.lines()).toEqual([]);
    expect(lines.some((l) => l.msg === 'local state file unreadable; starting empty')).toBe(true);
  });
});

describe('local mailbox across restarts', () => {
  async function send(smtp: { host: string; port: number }, subject: string) {
    const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true });
    try {
      await transport.sendMail({
        from: 'DOTM <no-reply@dotm.local>',
        to: 'reader@example.com',
        subject,
        text: `${subject} text`,
        html: `<p>${subject}</p><img src="cid:qr@dotm">`,
        attachments: [{ filename: 'qr.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), contentType: 'image/png', cid: 'qr@dotm' }],
      });
    } finally {
      transport.close();
    }
  }

  it('keeps each message under its id, stored before it is acknowledged; new ones take new ids', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalSmtp({ stateDir }));
    await send(first, 'first');
    await send(first, 'second');
    expect(readdirSync(join(stateDir, 'mailbox')).sort()).toEqual(['1.json', '2.json']);
    const before = first.messages();
    await closeNow(first);

    const second = track(await startLocalSmtp({ stateDir }));
    const after = second.messages();
    expect(after.map((m) => [m.id, m.subject, m.to, m.receivedAt.toISOString()])).toEqual(before.map((m) => [m.id, m.subject, m.to, m.receivedAt.toISOString()]));
    expect(after[0]!.attachments[0]).toMatchObject({ filename: 'qr.png', cid: 'qr@dotm', content: before[0]!.attachments[0]!.content });
    expect(after[0]!.html).toBe(before[0]!.html);
    await send(second, 'third');
    expect(second.messages().map((m) => m.id)).toEqual(['1', '2', '3']);
  });

  it('drops the oldest beyond its capacity on disk too; a damaged message file is set aside, the rest load', async () => {
    const stateDir = newFolder();
    const first = track(await startLocalSmtp({ stateDir, capacity: 2 }));
    for (const subject of ['a', 'b', 'c']) await send(first, subject);
    expect(readdirSync(join(stateDir, 'mailbox')).sort()).toEqual(['2.json', '3.json']);
    await closeNow(first);

    writeFileSync(join(stateDir, 'mailbox', '3.json'), '{"version":1,"id":"3","raw":');
    writeFileSync(join(stateDir, 'mailbox', 'notes.txt'), 'not a message');
    const { logger, lines } = memoryLogger();
    const second = track(await startLocalSmtp({ stateDir, capacity: 2, logger }));
    expect(second.messages().map((m) => [m.id, m.subject])).toEqual([['2', 'b']]);
    expect(lines.some((l) => l.msg === 'local state file unreadable; starting empty')).toBe(true);
    await send(second, 'd');
    // Never an id handed out before (3 was damaged, not forgotten: it is kept aside).
    expect(second.messages().map((m) => m.id)).toEqual(['2', '4']);
    expect(readdirSync(join(stateDir, 'mailbox')).filter((f) => f.startsWith('3.json.corrupt-'))).toHaveLength(1);
  });
});

describe('the state folder', () => {
  it('is held by one instance at a time; a lock left by a process that is gone is taken over', () => {
    const dir = newFolder();
    const held = openStateFolder(dir);
    expect(() => openStateFolder(dir)).toThrow(StateFolderInUseError);
    held.release();

    // Another running process (pid 1 always runs) holds it.
    writeFileSync(join(dir, 'lock'), '1\n');
    expect(() => openStateFolder(dir)).toThrow(/in use by process 1;/);

    // A process that has exited left its lock behind.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'lock'), `${gone}\n`);
    const { logger, lines } = memoryLogger();
    const taken = openStateFolder(dir, logger);
    expect(readFileSync(join(dir, 'lock'), 'utf8').trim()).toBe(String(process.pid));
    expect(lines.some((l) => l.msg === 'local state folder: taking over the lock of a process that is gone')).toBe(true);
    taken.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes the temporary files of writes a crash interrupted', () => {
    const dir = newFolder();
    mkdirSync(join(dir, 'mailbox'));
    writeFileSync(join(dir, 'stripe.json.123.4.abcdef.tmp'), '{"half');
    writeFileSync(join(dir, 'mailbox', '7.json.123.5.abcdef.tmp'), '{"half');
    writeFileSync(join(dir, 'stripe.json'), '{}');
    const folder = openStateFolder(dir);
    try {
      expect(readdirSync(dir).sort()).toEqual(['lock', 'mailbox', 'stripe.json']);
      expect(readdirSync(join(dir, 'mailbox'))).toEqual([]);
    } finally {
      folder.release();
    }
  });

  it('a failed write is logged and does not stall whoever waits for it; the next change writes again', async () => {
    const dir = newFolder();
    const { logger, lines } = memoryLogger();
    let state = { n: 0 };
    const file = new SnapshotFile(join(dir, 'missing-folder', 'x.json'), () => state, logger);
    file.changed();
    await file.flushed();
    expect(lines.some((l) => l.msg === 'local state: writing failed; the next change tries again')).toBe(true);

    const good = new SnapshotFile(join(dir, 'x.json'), () => state, logger);
    for (let n = 1; n <= 5; n++) {
      state = { n };
      good.changed();
    }
    await good.flushed();
    expect(JSON.parse(readFileSync(join(dir, 'x.json'), 'utf8'))).toEqual({ n: 5 });
  });
});
