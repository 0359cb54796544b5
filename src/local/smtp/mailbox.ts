// The local mailbox page (mounted at /local/mailbox): what the local SMTP stand-in received, so a
// developer can see the activation e-mail and its QR code without a real mail account.
// Plain HTML, no JavaScript; every value from a message is escaped, and a message's own HTML is
// shown in a sandboxed frame that cannot run scripts.
import express, { type Router } from 'express';
import { escapeHtml as e } from '../../notify/html.js';
import type { LocalSmtp, StoredAttachment, StoredMail } from './server.js';

const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'text/plain', 'application/pdf']);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #1a1a1a; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 6px 12px 6px 0; border-bottom: 1px solid #eee; vertical-align: top; }
iframe { width: 100%; height: 1500px; border: 1px solid #ccc; resize: vertical; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 12px; }
.muted { color: #666; }
</style></head>
<body>
${body}
</body>
</html>
`;
}

/** The message HTML with `cid:` references replaced by data URLs of the matching inline parts. */
export function inlineCidImages(html: string, attachments: StoredAttachment[]): string {
  return html.replace(/cid:([^"'\s)>]+)/gi, (match, ref: string) => {
    let cid = ref;
    try {
      cid = decodeURIComponent(ref);
    } catch {
      // keep the raw reference
    }
    const part = attachments.find((a) => a.cid !== undefined && a.cid.toLowerCase() === cid.toLowerCase());
    if (!part) return match;
    const type = /^[\w.+-]+\/[\w.+-]+$/.test(part.contentType) ? part.contentType : 'application/octet-stream';
    return `data:${type};base64,${part.content.toString('base64')}`;
  });
}

function summary(m: StoredMail) {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    subject: m.subject,
    date: m.date.toISOString(),
    receivedAt: m.receivedAt.toISOString(),
    messageId: m.messageId ?? null,
    text: m.text,
    html: m.html,
    attachments: m.attachments.map((a, index) => ({
      index,
      filename: a.filename ?? null,
      contentType: a.contentType,
      cid: a.cid ?? null,
      disposition: a.disposition ?? null,
      size: a.size,
    })),
  };
}

function safeFilename(name: string | undefined, index: number): string {
  const cleaned = (name ?? '').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return cleaned || `attachment-${index}`;
}

export function createMailboxRouter(smtp: Pick<LocalSmtp, 'messages' | 'message'>): Router {
  const router = express.Router();

  router.use((_req, res, next) => {
    // Images only as data URLs or from this page's own attachment links; no scripts at all.
    res.set('Content-Security-Policy', "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-src 'self'; form-action 'none'; base-uri 'none'");
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/', (req, res) => {
    const base = req.baseUrl;
    const mails = smtp.messages().slice().reverse();
    const rows = mails
      .map(
        (m) =>
          `<tr><td>${e(m.date.toISOString())}</td><td>${e(m.to.join(', '))}</td><td><a href="${e(`${base}/${encodeURIComponent(m.id)}`)}">${e(m.subject || '(no subject)')}</a></td><td>${m.attachments.length}</td></tr>`,
      )
      .join('\n');
    const body = mails.length
      ? `<table><thead><tr><th>Date</th><th>To</th><th>Subject</th><th>Attachments</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
      : '<p class="muted">No mail yet. Messages sent to the local SMTP server appear here.</p>';
    res.type('html').send(page('Local mailbox', `<h1>Local mailbox</h1>\n<p class="muted">${mails.length} message(s), newest first. <a href="${e(`${base}/messages.json`)}">JSON</a></p>\n${body}`));
  });

  router.get('/messages.json', (_req, res) => {
    res.json({ messages: smtp.messages().slice().reverse().map(summary) });
  });

  router.get('/:id', (req, res) => {
    const m = smtp.message(req.params.id);
    const base = req.baseUrl;
    if (!m) {
      res.status(404).type('html').send(page('Not found', `<h1>No such message</h1>\n<p><a href="${e(base || '/')}">Back to the mailbox</a></p>`));
      return;
    }
    const attachments = m.attachments
      .map(
        (a, i) =>
          `<li><a href="${e(`${base}/${encodeURIComponent(m.id)}/attachments/${i}`)}">${e(a.filename ?? `attachment ${i}`)}</a> <span class="muted">${e(a.contentType)}, ${a.size} bytes${a.cid ? `, inline (cid:${e(a.cid)})` : ''}</span></li>`,
      )
      .join('\n');
    // Links in the message open in a new tab; the frame itself runs no scripts.
    const htmlBody = m.html === null ? '' : `<base target="_blank">${inlineCidImages(m.html, m.attachments)}`;
    const body = `<p><a href="${e(base || '/')}">&larr; Mailbox</a></p>
<h1>${e(m.subject || '(no subject)')}</h1>
<table>
<tr><th>From</th><td>${e(m.from)}</td></tr>
<tr><th>To</th><td>${e(m.to.join(', '))}</td></tr>
<tr><th>Date</th><td>${e(m.date.toISOString())}</td></tr>
<tr><th>Message-ID</th><td>${e(m.messageId ?? '')}</td></tr>
</table>
${m.attachments.length ? `<h2>Attachments</h2>\n<ul>\n${attachments}\n</ul>` : ''}
${m.html !== null ? `<h2>HTML</h2>\n<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" title="Message HTML" srcdoc="${e(htmlBody)}"></iframe>` : ''}
<h2>Text</h2>
<pre>${e(m.text)}</pre>`;
    res.type('html').send(page(m.subject || 'Message', body));
  });

  router.get('/:id/attachments/:index', (req, res) => {
    const m = smtp.message(req.params.id);
    const index = /^\d+$/.test(req.params.index) ? Number(req.params.index) : -1;
    const a = m?.attachments[index];
    if (!m || !a) {
      res.status(404).type('text').send('No such attachment');
      return;
    }
    const type = a.contentType.toLowerCase();
    const inline = INLINE_TYPES.has(type);
    res.set('Content-Type', inline ? type : 'application/octet-stream');
    res.set('Content-Disposition', `${inline ? 'inline' : 'attachment'}; filename="${safeFilename(a.filename, index)}"`);
    res.send(a.content);
  });

  return router;
}
