// The e-mail that delivers an eSIM: the QR code (inline and attached), install steps for iPhone
// and Android, the one-tap install links and the manual-entry details. Built from plain data so
// the outbox can rebuild the same message for every retry.
import type { SendMailOptions } from 'nodemailer';
import { parseActivationCode } from '../telecom/activation-code.js';
import { escapeHtml } from './html.js';
import { installLinks } from './install-links.js';

export const QR_ATTACHMENT_FILENAME = 'dotm-esim-qr.png';
export const ACTIVATION_EMAIL_SUBJECT = 'Your DOTM Global Data eSIM is ready';

export interface ActivationEmailInput {
  activationId: number;
  to: string;
  from: string;
  phoneNumber: string;
  activationCode: string;
  qrPng: Buffer;
}

/** The same activation always gets the same Message-ID, so a resent e-mail is recognisably a copy. */
export function activationMessageId(activationId: number): string {
  return `<activation-${activationId}@dotm.esim>`;
}

export function buildActivationEmail(input: ActivationEmailInput): SendMailOptions {
  const { activationId, to, from, phoneNumber, activationCode, qrPng } = input;
  const { smdpAddress, matchingId, confirmationCodeRequired } = parseActivationCode(activationCode);
  const links = installLinks(activationCode);
  const cid = `esim-qr-${activationId}@dotm.esim`;
  const confirmationNote = confirmationCodeRequired
    ? 'Your phone will ask for a confirmation code during installation: this eSIM needs one.'
    : '';
  const parts: EmailParts = { activationId, phoneNumber, smdpAddress, matchingId, links, confirmationNote, cid };

  return {
    from,
    to,
    subject: ACTIVATION_EMAIL_SUBJECT,
    messageId: activationMessageId(activationId),
    text: activationText(parts),
    html: activationHtml(parts),
    attachments: qrAttachments(qrPng, cid),
  };
}

/** What the text and HTML parts both show. */
interface EmailParts {
  activationId: number;
  phoneNumber: string;
  smdpAddress: string;
  matchingId: string;
  links: ReturnType<typeof installLinks>;
  /** Empty when the eSIM needs no confirmation code. */
  confirmationNote: string;
  /** Content-ID of the inline QR code. */
  cid: string;
}

function activationText({ activationId, phoneNumber, smdpAddress, matchingId, links, confirmationNote }: EmailParts): string {
  return [
    'Your DOTM Global Data eSIM is ready.',
    '',
    `Phone number: ${phoneNumber}`,
    '',
    `Scan the attached QR code (${QR_ATTACHMENT_FILENAME}) with the phone you want to use the eSIM on.`,
    'Show it on another screen or print it: a phone cannot scan its own screen.',
    'The eSIM can be installed once. Keep this e-mail private: anyone with the code can install it.',
    '',
    'iPhone (iOS 17.4 or later can use the one-tap link below):',
    '  1. Open Settings > Cellular (or Mobile Service) > Add eSIM.',
    '  2. Choose "Use QR Code" and scan the code.',
    '  3. Follow the prompts, then turn on the new line and Data Roaming when you travel.',
    '',
    'Android (Pixel, Samsung and most others):',
    '  1. Open Settings > Network & internet (or Connections) > SIMs > Add eSIM.',
    '  2. Choose to scan a QR code and scan the code.',
    '  3. Follow the prompts, then turn on the new SIM and roaming when you travel.',
    '',
    'Reading this on the phone itself? Tap to install:',
    `  iPhone:  ${links.ios}`,
    `  Android: ${links.android}`,
    '',
    'Or enter the details by hand (Add eSIM > Enter details manually):',
    `  SM-DP+ address: ${smdpAddress}`,
    `  Activation code (matching ID): ${matchingId}`,
    ...(confirmationNote ? ['', confirmationNote] : []),
    '',
    `DOTM activation reference: ${activationId}`,
    '',
  ].join('\n');
}

function activationHtml({ activationId, phoneNumber, smdpAddress, matchingId, links, confirmationNote, cid }: EmailParts): string {
  const e = escapeHtml;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(ACTIVATION_EMAIL_SUBJECT)}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a; line-height: 1.5; max-width: 600px; margin: 0 auto; padding: 16px;">
<h1 style="font-size: 22px;">Your DOTM Global Data eSIM is ready</h1>
<p>Phone number: <strong>${e(phoneNumber)}</strong></p>
<p>Scan this QR code with the phone you want to use the eSIM on. Show it on another screen or print it: a phone cannot scan its own screen.</p>
<p style="text-align: center;"><img src="cid:${e(cid)}" width="280" height="280" alt="eSIM QR code" style="width: 280px; height: 280px; border: 1px solid #ddd;"></p>
<p style="font-size: 14px; color: #555;">The QR code is also attached as ${e(QR_ATTACHMENT_FILENAME)}. The eSIM can be installed once. Keep this e-mail private: anyone with the code can install it.</p>
<h2 style="font-size: 18px;">iPhone</h2>
<ol>
<li>Open Settings &gt; Cellular (or Mobile Service) &gt; Add eSIM.</li>
<li>Choose &ldquo;Use QR Code&rdquo; and scan the code.</li>
<li>Follow the prompts, then turn on the new line and Data Roaming when you travel.</li>
</ol>
<h2 style="font-size: 18px;">Android</h2>
<ol>
<li>Open Settings &gt; Network &amp; internet (or Connections) &gt; SIMs &gt; Add eSIM.</li>
<li>Choose to scan a QR code and scan the code.</li>
<li>Follow the prompts, then turn on the new SIM and roaming when you travel.</li>
</ol>
<h2 style="font-size: 18px;">Reading this on the phone itself?</h2>
<p>Tap to install: <a href="${e(links.ios)}">Install on iPhone</a> (iOS 17.4 or later) &middot; <a href="${e(links.android)}">Install on Android</a></p>
<h2 style="font-size: 18px;">Enter the details by hand</h2>
<p>In Add eSIM, choose &ldquo;Enter details manually&rdquo;:</p>
<table style="border-collapse: collapse;">
<tr><td style="padding: 4px 12px 4px 0;">SM-DP+ address</td><td style="padding: 4px 0;"><code>${e(smdpAddress)}</code></td></tr>
<tr><td style="padding: 4px 12px 4px 0;">Activation code (matching ID)</td><td style="padding: 4px 0;"><code>${e(matchingId)}</code></td></tr>
</table>
${confirmationNote ? `<p>${e(confirmationNote)}</p>\n` : ''}<p style="font-size: 12px; color: #777;">DOTM activation reference: ${e(activationId)}</p>
</body>
</html>
`;
}

/** The QR code twice: inline for the HTML part, and as a named file to print or show on another screen. */
function qrAttachments(qrPng: Buffer, cid: string): NonNullable<SendMailOptions['attachments']> {
  return [
    { filename: 'esim-qr.png', content: qrPng, contentType: 'image/png', cid, contentDisposition: 'inline' },
    { filename: QR_ATTACHMENT_FILENAME, content: qrPng, contentType: 'image/png', contentDisposition: 'attachment' },
  ];
}
