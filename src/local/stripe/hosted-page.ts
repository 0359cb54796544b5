// The hosted invoice page (`hosted_invoice_url`): the amount, what it is for and a Pay button that
// is a plain HTML form, so paying works without JavaScript. Paying sends `invoice.paid`. Served on
// the stand-in's own port and, when the service runs the stand-in, under the service's
// /local/stripe (where hosted_invoice_url points, so links survive the stand-in's random port);
// its own links are relative to wherever it is mounted.
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { RenderContext } from './render.js';
import type { InvoiceItemRecord, InvoiceRecord } from './records.js';

export function createHostedPageRouter(ctx: RenderContext, logger: Logger): Router {
  const router = express.Router();
  const store = ctx.store;

  router.use((_req, res, next) => {
    // A page of our own markup: no scripts, no other origins; the form posts back here only.
    res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  const pagePath = (req: Request, invoiceId: string) => `${req.baseUrl}/i/${encodeURIComponent(invoiceId)}`;

  /** Only finalized invoices have a hosted page, as in Stripe. */
  function visibleInvoice(req: Request): InvoiceRecord | null {
    const invoice = store.findInvoice(String(req.params.id));
    return invoice && invoice.status !== 'draft' ? invoice : null;
  }

  router.get('/i/:id', (req, res) => {
    const invoice = visibleInvoice(req);
    if (!invoice) return notFound(res);
    res.set('Cache-Control', 'no-store').type('html').send(invoicePage(ctx, invoice, store.invoiceItems(invoice), `${pagePath(req, invoice.id)}/pay`));
  });

  router.post('/i/:id/pay', express.urlencoded({ extended: false, limit: '10kb' }), async (req, res) => {
    const invoice = visibleInvoice(req);
    if (!invoice) return notFound(res);
    const { changed } = store.payFromHostedPage(invoice.id);
    if (changed) {
      logger.info({ invoiceId: invoice.id }, 'local Stripe: invoice paid on the hosted page');
      await ctx.saved();
    }
    res.redirect(303, pagePath(req, invoice.id));
  });

  router.get('/i/:id/pdf', (req, res) => {
    const invoice = visibleInvoice(req);
    if (!invoice) return notFound(res);
    const { amountDue } = store.totals(invoice);
    const lines = [
      ctx.accountName,
      `Invoice ${invoice.number ?? invoice.id}`,
      invoice.description ?? '',
      `Amount: ${formatAmount(amountDue, invoice.currency)}`,
      `Status: ${invoice.status}`,
    ];
    res
      .type('application/pdf')
      .set('Content-Disposition', `inline; filename="${invoice.number ?? invoice.id}.pdf"`)
      .send(minimalPdf(lines));
  });

  return router;
}

export function formatAmount(minorUnits: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(minorUnits / 100);
  } catch {
    return `${(minorUnits / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

function notFound(res: Response): void {
  res
    .status(404)
    .type('html')
    .send(layout('Invoice not found', '<h1>Invoice not found</h1><p>This invoice does not exist or has not been issued yet.</p>'));
}

const STATUS_LABEL: Record<InvoiceRecord['status'], string> = {
  draft: 'Draft',
  open: 'Due',
  paid: 'Paid',
  void: 'Void',
  uncollectible: 'Past due',
};

function invoicePage(ctx: RenderContext, invoice: InvoiceRecord, items: InvoiceItemRecord[], payPath: string): string {
  const { amountDue } = ctx.store.totals(invoice);
  const amount = formatAmount(amountDue, invoice.currency);
  const customerEmail = invoice.frozenCustomer?.email ?? ctx.store.findCustomer(invoice.customer)?.email ?? null;
  const payable = invoice.status === 'open' || invoice.status === 'uncollectible';
  const date = (seconds: number | null) => (seconds === null ? '—' : new Date(seconds * 1000).toISOString().slice(0, 10));

  const details: Array<[string, string | null]> = [
    ['Invoice number', invoice.number],
    ['For', invoice.description],
    ['Billed to', customerEmail],
    [invoice.status === 'paid' ? 'Paid on' : 'Due date', date(invoice.status === 'paid' ? invoice.paidAt : invoice.dueDate)],
  ];
  const lines = items
    .map((item) => `<tr><td>${escapeHtml(item.description ?? 'Item')}</td><td class="num">${escapeHtml(formatAmount(item.amount, item.currency))}</td></tr>`)
    .join('');

  let action: string;
  if (payable) {
    action = `<form method="post" action="${escapeHtml(payPath)}"><button type="submit">Pay ${escapeHtml(amount)}</button></form>`;
  } else if (invoice.status === 'paid') {
    action = `<p class="done">This invoice has been paid. Thank you!</p>`;
  } else {
    action = `<p class="done">This invoice was voided and can no longer be paid.</p>`;
  }

  const body = `
<p class="account">${escapeHtml(ctx.accountName)}</p>
<h1 class="amount">${escapeHtml(amount)}</h1>
<p class="status status-${invoice.status}" data-status="${invoice.status}">${STATUS_LABEL[invoice.status]}</p>
<dl>${details
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v!)}</dd>`)
    .join('')}</dl>
<table><tbody>${lines}</tbody><tfoot><tr><th>${invoice.status === 'paid' ? 'Amount paid' : 'Amount due'}</th><th class="num">${escapeHtml(amount)}</th></tr></tfoot></table>
${action}
<p class="note">Test mode — a local Stripe stand-in; no real payment is taken.</p>`;
  return layout(`Invoice ${invoice.number ?? invoice.id} — ${STATUS_LABEL[invoice.status]}`, body);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0;padding:2rem 1rem}
main{max-width:28rem;margin:0 auto;background:#fff;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.08);padding:2rem}
.account{color:#697386;margin:0}.amount{font-size:2.2rem;margin:.3rem 0}
.status{display:inline-block;padding:.1rem .6rem;border-radius:4px;background:#e3e8ee;font-weight:600}
.status-paid{background:#d7f7c2;color:#05690d}.status-open{background:#fcedb9;color:#a82c00}.status-void{background:#e3e8ee;color:#4f566b}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#697386}dd{margin:0}
table{width:100%;border-collapse:collapse;margin:1rem 0}td,th{padding:.4rem 0;border-top:1px solid #e3e8ee;text-align:left}.num{text-align:right}
button{width:100%;padding:.8rem;font-size:1rem;border:0;border-radius:6px;background:#635bff;color:#fff;cursor:pointer}
.done{font-weight:600}.note{color:#697386;font-size:.8rem;margin-top:1.5rem}
</style></head>
<body><main>${body}</main></body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A one-page PDF with a few lines of text (ASCII only), with a correct cross-reference table. */
function minimalPdf(lines: string[]): Buffer {
  const text = lines
    .map((line) => line.replace(/[^\x20-\x7e]/g, '?').replace(/[\\()]/g, (c) => `\\${c}`))
    .map((line, i) => `BT /F1 12 Tf 72 ${740 - i * 20} Td (${line}) Tj ET`)
    .join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${Buffer.byteLength(text, 'latin1')} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((obj, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${obj}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}
