import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalSmtp, type LocalSmtp } from '../../src/local/smtp/server.js';
import { activationMessageId, buildActivationEmail, QR_ATTACHMENT_FILENAME } from '../../src/notify/activation-email.js';
import { installLinks } from '../../src/notify/install-links.js';
import { createMailer, smtpTransportOptions, type Mailer } from '../../src/notify/mailer.js';
import { renderQrPng } from '../../src/notify/qr.js';
import { decodeQrPng } from './qr-decode.js';

const logger = pino({ level: 'silent' });
const LPA = 'LPA:1$smdp.oxio.example$K2-1SEFCP-V0TVD6';

describe('the activation e-mail', () => {
  let smtp: LocalSmtp;
  let mailer: Mailer;
  beforeAll(async () => {
    smtp = await startLocalSmtp();
    mailer = createMailer({ smtpUrl: smtp.url, logger });
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
  });

  it('is built with a deterministic Message-ID, inline and attached QR, and escaped values', async () => {
    const qrPng = await renderQrPng(LPA);
    const msg = buildActivationEmail({ activationId: 7, to: 'u@example.com', from: 'DOTM <no-reply@dotm.test>', phoneNumber: '+1 <b>555</b>', activationCode: LPA, qrPng });
    expect(msg.messageId).toBe('<activation-7@dotm.esim>');
    expect(activationMessageId(7)).toBe(msg.messageId);
    expect(msg.subject).toBe('Your DOTM Global Data eSIM is ready');
    expect(msg.html).toContain('+1 &lt;b&gt;555&lt;/b&gt;');
    expect(msg.html).not.toContain('<b>555</b>');
    // The links' `&`-free query survives escaping unchanged; `$` is percent-encoded.
    expect(msg.html).toContain(`href="${installLinks(LPA).ios}"`);
    expect(() => buildActivationEmail({ activationId: 1, to: 'u@example.com', from: 'x@y.z', phoneNumber: '1', activationCode: '8901410321111851072', qrPng })).toThrow();
  });

  it('goes through a real SMTP conversation with everything the user needs', async () => {
    const qrPng = await renderQrPng(LPA);
    const msg = buildActivationEmail({
      activationId: 42,
      to: 'traveller@example.com',
      from: 'DOTM <no-reply@dotm.test>',
      phoneNumber: '+14155550123',
      activationCode: LPA,
      qrPng,
    });
    const { messageId } = await mailer.send(msg);
    expect(messageId).toBe('<activation-42@dotm.esim>');

    const got = await smtp.waitFor((m) => m.messageId === messageId, 5000);
    expect(got.subject).toBe('Your DOTM Global Data eSIM is ready');
    expect(got.to).toEqual(['traveller@example.com']);
    expect(got.from).toContain('no-reply@dotm.test');

    for (const body of [got.text, got.html!]) {
      expect(body).toContain('+14155550123');
      expect(body).toContain('smdp.oxio.example');
      expect(body).toContain('K2-1SEFCP-V0TVD6');
      expect(body).toContain(installLinks(LPA).ios);
      expect(body).toContain(installLinks(LPA).android);
      expect(body).toMatch(/iPhone/);
      expect(body).toMatch(/Android/);
    }

    const inline = got.attachments.find((a) => a.cid);
    expect(inline).toBeDefined();
    expect(inline!.contentType).toBe('image/png');
    expect(got.html).toContain(`cid:${inline!.cid}`);
    expect(decodeQrPng(inline!.content)).toBe(LPA);

    const attached = got.attachments.find((a) => a.filename === QR_ATTACHMENT_FILENAME);
    expect(attached).toBeDefined();
    expect(attached!.contentType).toBe('image/png');
    expect(attached!.disposition).toBe('attachment');
    expect(decodeQrPng(attached!.content)).toBe(LPA);
  });

  it('fails the send with a 421 while the stand-in is down, and works again after', async () => {
    const qrPng = await renderQrPng(LPA);
    const msg = buildActivationEmail({ activationId: 43, to: 'u@example.com', from: 'no-reply@dotm.test', phoneNumber: '+1', activationCode: LPA, qrPng });
    smtp.setDown(true);
    try {
      await expect(mailer.send(msg)).rejects.toMatchObject({ responseCode: 421 });
    } finally {
      smtp.setDown(false);
    }
    await expect(mailer.send(msg)).resolves.toEqual({ messageId: '<activation-43@dotm.esim>' });
  });

  it('reports an unreachable server within the timeout', async () => {
    const unreachable = createMailer({ smtpUrl: 'smtp://127.0.0.1:1', logger, timeouts: { connectionMs: 2000 } });
    try {
      await expect(unreachable.send({ from: 'a@b.c', to: 'd@e.f', text: 'x' })).rejects.toMatchObject({ code: 'ESOCKET' });
    } finally {
      unreachable.close();
    }
  });

  it('insists on STARTTLS off this host, plain on loopback, and lets URL options win', async () => {
    // RFC 5321 §4.5.3.2 waits: 5 min for the greeting, 10 min for the reply to the final ".".
    expect(smtpTransportOptions('smtp://user:pw@smtp.example.com:587')).toMatchObject({
      requireTLS: true,
      greetingTimeout: 300_000,
      socketTimeout: 600_000,
      connectionTimeout: 360_000,
    });
    expect(smtpTransportOptions('smtp://127.0.0.1:2525')).toMatchObject({ ignoreTLS: true });
    expect(smtpTransportOptions('smtp://localhost:2525')).toMatchObject({ ignoreTLS: true });
    expect(smtpTransportOptions('smtps://smtp.example.com')).not.toHaveProperty('requireTLS');
    expect(() => smtpTransportOptions('http://smtp.example.com')).toThrow(/smtp:\/\//);

    // A query option overrides the default: the stand-in offers no STARTTLS, so requiring it fails.
    const strict = createMailer({ smtpUrl: `${smtp.url}?requireTLS=true`, logger });
    try {
      await expect(strict.send({ from: 'a@b.c', to: 'd@e.f', text: 'x' })).rejects.toThrow(/STARTTLS/i);
    } finally {
      strict.close();
    }
  });
});
