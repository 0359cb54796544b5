import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailboxRouter, inlineCidImages } from '../../src/local/smtp/mailbox.js';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { buildActivationEmail } from '../../src/notify/activation-email.js';
import { createMailer, type Mailer } from '../../src/notify/mailer.js';
import { renderQrPng } from '../../src/notify/qr.js';
import { decodeQrPng } from './qr-decode.js';

const LPA = 'LPA:1$smdp.oxio.example$MAILBOX-0001';

describe('the local mailbox page', () => {
  let smtp: LocalSmtp;
  let mailer: Mailer;
  let app: express.Express;
  let id: string;
  beforeAll(async () => {
    smtp = await startLocalSmtp();
    mailer = createMailer({ smtpUrl: smtp.url, logger: pino({ level: 'silent' }) });
    app = express();
    app.use('/local/mailbox', createMailboxRouter(smtp));
    const msg = buildActivationEmail({
      activationId: 9,
      to: 'mailbox@example.com',
      from: 'DOTM <no-reply@dotm.test>',
      phoneNumber: '+14155550199',
      activationCode: LPA,
      qrPng: await renderQrPng(LPA),
    });
    await mailer.send(msg);
    await mailer.send({ from: 'x@example.com', to: 'evil@example.com', subject: '<script>alert(1)</script>', text: 'hi', html: '<p onclick="x()">hi</p><script>alert(2)</script>' });
    id = (await smtp.waitFor((m) => m.to.includes('mailbox@example.com'))).id;
    await smtp.waitFor((m) => m.to.includes('evil@example.com'));
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
  });

  it('lists the received mail, newest first, with links', async () => {
    const res = await request(app).get('/local/mailbox').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('Your DOTM Global Data eSIM is ready');
    expect(res.text).toContain('mailbox@example.com');
    expect(res.text).toContain(`href="/local/mailbox/${id}"`);
    expect(res.text.indexOf('evil@example.com')).toBeLessThan(res.text.indexOf('mailbox@example.com'));
    expect(res.text).not.toContain('<script>');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('shows a message with its QR code as a data: image', async () => {
    const res = await request(app).get(`/local/mailbox/${id}`).expect(200);
    expect(res.text).toContain('data:image/png;base64,');
    expect(res.text).toContain('src=&quot;data:image/png;base64,');
    expect(res.text).not.toMatch(/src=(&quot;|")cid:/);
    expect(res.text).toContain('+14155550199');
    expect(res.text).toContain('dotm-esim-qr.png');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('never runs a message’s scripts', async () => {
    const evil = smtp.messages().find((m) => m.to.includes('evil@example.com'))!;
    const res = await request(app).get(`/local/mailbox/${evil.id}`).expect(200);
    expect(res.text).not.toMatch(/<script/i);
    expect(res.text).toMatch(/<iframe sandbox="[^"]*" [^>]*srcdoc="[^"<>]*"><\/iframe>/);
    expect(res.text).not.toMatch(/sandbox="[^"]*allow-scripts/);
  });

  it('serves attachments', async () => {
    const m = smtp.message(id)!;
    const index = m.attachments.findIndex((a) => a.filename === 'dotm-esim-qr.png');
    const res = await request(app).get(`/local/mailbox/${id}/attachments/${index}`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-disposition']).toBe('inline; filename="dotm-esim-qr.png"');
    expect(decodeQrPng(res.body as Buffer)).toBe(LPA);
    await request(app).get(`/local/mailbox/${id}/attachments/99`).expect(404);
    await request(app).get(`/local/mailbox/${id}/attachments/x`).expect(404);
  });

  it('lists the mail as JSON without attachment bodies', async () => {
    const res = await request(app).get('/local/mailbox/messages.json').expect(200).expect('content-type', /json/);
    const { messages } = res.body as { messages: { id: string; to: string[]; subject: string; attachments: Record<string, unknown>[] }[] };
    expect(messages).toHaveLength(2);
    expect(messages[0]!.to).toEqual(['evil@example.com']);
    const esim = messages.find((m) => m.id === id)!;
    expect(esim.subject).toBe('Your DOTM Global Data eSIM is ready');
    expect(esim.attachments.map((a) => a.filename)).toContain('dotm-esim-qr.png');
    for (const a of esim.attachments) expect(a).not.toHaveProperty('content');
  });

  it('answers 404 for an unknown message', async () => {
    await request(app).get('/local/mailbox/does-not-exist').expect(404);
    await request(app).get('/local/mailbox/12345').expect(404);
  });

  it('replaces only cid: references that match an inline part', () => {
    const html = '<img src="cid:a@x"><img src="cid:missing@x">';
    const out = inlineCidImages(html, [{ filename: 'a.png', contentType: 'image/png', cid: 'a@x', disposition: 'inline', size: 3, content: Buffer.from('abc') }]);
    expect(out).toBe('<img src="data:image/png;base64,YWJj"><img src="cid:missing@x">');
  });
});

describe('the local SMTP stand-in', () => {
  it('keeps only the newest messages and can be cleared', async () => {
    const smtp = await startLocalSmtp({ capacity: 2 });
    const mailer = createMailer({ smtpUrl: smtp.url, logger: pino({ level: 'silent' }) });
    try {
      expect(smtp.url).toBe(`smtp://127.0.0.1:${smtp.port}`);
      for (const n of [1, 2, 3]) await mailer.send({ from: 'a@example.com', to: 'b@example.com', subject: `m${n}`, text: 'x' });
      expect(smtp.messages().map((m) => m.subject)).toEqual(['m2', 'm3']);
      await expect(smtp.waitFor((m) => m.subject === 'never', 100)).rejects.toThrow(/no matching mail/);
      smtp.clear();
      expect(smtp.messages()).toEqual([]);
    } finally {
      mailer.close();
      await smtp.close();
    }
  });
});
