// Links handed out locally survive a restart: the service is stopped and started again on another
// port with the same database and the same local state folder; the invoice link's path on the new
// address still serves the page, paying there sends the webhook and the activation completes, and
// the mailbox still shows the e-mail. Instances with their own folders run side by side.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { stripeSdk, uniqueEmail } from '../billing/support.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createService } from '../../src/service.js';
import { createTestDatabase, onPostgres } from '../support/db.js';
import { waitUntil } from '../support/time.js';
import { activate } from '../support/tools.js';

const root = mkdtempSync(join(tmpdir(), 'dotm-links-'));
const running: TestApp[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((t) => t.close().catch(() => {})));
  rmSync(root, { recursive: true, force: true });
});

async function start(env: Record<string, string>, opts: Parameters<typeof startTestApp>[1] = {}): Promise<TestApp> {
  const t = await startTestApp({ WORKER_POLL_MS: '100', ...env }, opts);
  running.push(t);
  return t;
}

async function stop(t: TestApp): Promise<void> {
  running.splice(running.indexOf(t), 1);
  await t.close();
}

describe('links after a restart', () => {
  it('the invoice link serves its page on the new address, paying there activates, the mailbox keeps the e-mail', async () => {
    const stateDir = join(root, 'one-local');
    const database = await createTestDatabase();
    const env = { LOCAL_STATE_DIR: stateDir };
    const email = uniqueEmail('rita');

    // First run: the invoice is created; its link is on the service's own port.
    const first = await start(env, { database });
    const awaiting = await activate(await first.client({ token: first.token(email) }));
    expect(awaiting.status).toBe('awaiting_payment');
    const link = new URL(awaiting.invoice_url!);
    expect(link.origin).toBe(new URL(first.url).origin);
    expect(link.pathname).toMatch(/^\/local\/stripe\/i\/in_\w+$/);
    expect((await fetch(link)).status).toBe(200);
    await stop(first);
    expect(readdirSync(stateDir).sort()).toEqual(['mailbox', 'stripe.json']);

    // Second run, another port: the same path serves the unpaid invoice; paying there activates.
    const second = await start(env, { database });
    const moved = `${second.url}${link.pathname}`;
    const page = await fetch(moved);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Pay $1.00');
    expect(html).toContain(`action="${link.pathname}/pay"`);
    const paid = await fetch(`${moved}/pay`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(link.pathname);
    await second.service.local.stripe!.webhooksIdle();
    const paidEvents = second.service.local.stripe!.events().filter((e) => e.type === 'invoice.paid');
    expect(paidEvents.map((e) => e.data.object.id)).toEqual([link.pathname.split('/').pop()]);
    // The webhook alone recorded the payment: nobody has asked the service since.
    const { rows: invoices } = await database.db.query<{ status: string }>('SELECT status FROM invoices');
    expect(invoices.map((i) => i.status)).toEqual(['paid']);

    const client = await second.client({ token: second.token(email) });
    const active = await waitUntil(
      async () => {
        const answer = await activate(client);
        return answer.status === 'active' && answer;
      },
      { what: 'the activation to complete after the restart', intervalMs: 100 },
    );
    expect(active.activation_id).toBe(awaiting.activation_id);
    expect(active.phone_number).toMatch(/^\+1555\d{7}$/);
    const mail = await second.service.local.smtp!.waitFor((m) => m.to.includes(email), 10_000);
    await stop(second);

    // Third run: the mailbox shows the e-mail under the same link; the invoice page says paid; the
    // service's stored invoice id still resolves at the stand-in; no second invoice was made.
    const third = await start(env, { database });
    const mailbox = await (await fetch(`${third.url}/local/mailbox`)).text();
    expect(mailbox).toContain(`href="/local/mailbox/${mail.id}"`);
    const message = await fetch(`${third.url}/local/mailbox/${mail.id}`);
    expect(message.status).toBe(200);
    expect(await message.text()).toContain(mail.subject);
    const qr = mail.attachments.findIndex((a) => a.contentType === 'image/png');
    const attachment = await fetch(`${third.url}/local/mailbox/${mail.id}/attachments/${qr}`);
    expect(Buffer.from(await attachment.arrayBuffer())).toEqual(mail.attachments[qr]!.content);
    expect(await (await fetch(`${third.url}${link.pathname}`)).text()).toContain('This invoice has been paid');
    const atStripe = await stripeSdk(third.service.local.stripe!).invoices.retrieve(link.pathname.split('/').pop()!);
    expect(atStripe).toMatchObject({ status: 'paid', amount_paid: 100 });
    expect(third.service.local.stripe!.counts()).toMatchObject({ invoices: 1, customers: 1 });
    expect(third.service.local.oxio!.lines().map((l) => l.phoneNumber)).toEqual([active.phone_number]);
    expect((await activate(await third.client({ token: third.token(email) }))).status).toBe('active');
    await stop(third);

    // The stand-ins' files hold no keys, and no interrupted write is left behind.
    const stripeFile = readFileSync(join(stateDir, 'stripe.json'), 'utf8');
    expect(stripeFile).not.toMatch(/sk_test_|whsec_/);
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(stateDir, 'lock'))).toBe(false);
    await database.drop();
  });
});

describe('several instances on one machine', () => {
  it('start side by side with their own folders; a folder in use is refused; hostile paths are a plain 404', async () => {
    const a = await start({ LOCAL_STATE_DIR: join(root, 'a-local') });
    const b = await start({ LOCAL_STATE_DIR: join(root, 'b-local') });
    expect(a.url).not.toBe(b.url);
    for (const t of [a, b]) {
      const answer = await activate(await t.client({ token: t.token(uniqueEmail('side')) }));
      expect(answer.invoice_url!.startsWith(`${t.url}/local/stripe/i/`)).toBe(true);
      expect((await fetch(answer.invoice_url!)).status).toBe(200);
    }
    // Each instance's invoice is its own: b's page does not know a's invoice.
    const [ofA] = a.service.local.stripe!.events().filter((e) => e.type === 'invoice.finalized');
    expect((await fetch(`${b.url}/local/stripe/i/${ofA!.data.object.id}`)).status).toBe(404);

    await expect(startTestApp({ LOCAL_STATE_DIR: join(root, 'a-local') }, { database: a.database })).rejects.toThrow(
      /state folder .*a-local is in use by process \d+; give each instance its own LOCAL_STATE_DIR/,
    );
    // The refused start took nothing: a still runs and its folder is still its own.
    expect((await fetch(`${a.url}/local/mailbox`)).status).toBe(200);
    expect(readFileSync(join(root, 'a-local', 'lock'), 'utf8').trim()).toBe(String(process.pid));

    // Unknown, malformed or hostile invoice and mailbox paths are a plain 404 that echoes nothing.
    for (const path of [
      '/local/stripe/i/in_nope',
      '/local/stripe/i/..%2F..%2Fetc%2Fpasswd',
      '/local/stripe/i/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      '/local/mailbox/..%2Fstripe.json',
      '/local/mailbox/999999/attachments/0',
    ]) {
      const res = await fetch(`${a.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/<script|passwd|stripe\.json/);
    }
    expect((await fetch(`${a.url}/local/stripe/i/in_nope/pay`, { method: 'POST' })).status).toBe(404);
    const page = await fetch(`${a.url}/local/stripe/i/in_nope`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'.*form-action 'self'/);
  });
});

describe('where the pages are served', () => {
  it('with real Stripe configured there is no hosted invoice page on the service', async () => {
    const dataDir = join(root, 'handed-in');
    const t = await start({ STRIPE_SECRET_KEY: 'sk_test_not_a_real_key', STRIPE_WEBHOOK_SECRET: 'whsec_not_a_real_secret', DATA_DIR: dataDir });
    expect(t.service.local.stripe).toBeUndefined();
    const res = await fetch(`${t.url}/local/stripe/i/in_anything`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    // A database handed in (as in every test) is not the one in DATA_DIR: the stand-ins that do run
    // (OXIO, SMTP) keep nothing on disk unless LOCAL_STATE_DIR says where.
    expect(t.service.local.smtp).toBeDefined();
    expect(existsSync(`${dataDir}-local`)).toBe(false);
  });
});

describe('the state folder setting', () => {
  it.runIf(onPostgres())('on PostgreSQL (DATABASE_URL) without LOCAL_STATE_DIR the stand-ins keep nothing on disk', async () => {
    const database = await createTestDatabase();
    const dataDir = join(root, 'unused-data');
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: database.url!, DATA_DIR: dataDir });
    const service = await createService(config, { startWorkers: false });
    try {
      await service.listen();
      expect(service.local.stripe!.stateFile).toBeNull();
    } finally {
      await service.shutdown();
      await database.drop();
    }
    expect(existsSync(`${dataDir}-local`)).toBe(false);
  });

  it('defaults to a folder beside the embedded database; none with DATABASE_URL; LOCAL_STATE_DIR wins', () => {
    expect(loadConfig({}).localStateDir).toBe('./data-local');
    expect(loadConfig({ DATA_DIR: '/var/lib/dotm/db/' }).localStateDir).toBe('/var/lib/dotm/db-local');
    expect(loadConfig({ DATA_DIR: './data2' }).localStateDir).toBe('./data2-local');
    expect(loadConfig({ DATABASE_URL: 'postgres://db.example/dotm' }).localStateDir).toBeUndefined();
    expect(loadConfig({ LOCAL_STATE_DIR: '/srv/stand-ins' }).localStateDir).toBe('/srv/stand-ins');
    expect(loadConfig({ DATABASE_URL: 'postgres://db.example/dotm', LOCAL_STATE_DIR: '/srv/stand-ins' }).localStateDir).toBe('/srv/stand-ins');
  });
});
