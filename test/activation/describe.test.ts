// The activate_esim tool words the activation's facts; amounts come from the invoice, in cents.
import { describe, expect, it } from 'vitest';
import { describeActivation } from '../../src/mcp/tools/activate-esim.js';

describe('describeActivation', () => {
  it('states the invoice amount from its cents, in the message, the next step and amount_due', () => {
    const r = describeActivation({
      status: 'awaiting_payment',
      activationId: 'act_7',
      email: 'alice@example.com',
      invoiceUrl: 'https://pay.example/in_1',
      amountDue: { cents: 1250, currency: 'usd' },
    });
    expect(r).toMatchObject({ status: 'awaiting_payment', activation_id: 'act_7', amount_due: '12.50', currency: 'usd', invoice_url: 'https://pay.example/in_1' });
    expect(r.message).toContain('$12.50 invoice');
    expect(r.message).not.toContain('alice@example.com');
    expect(r.next_steps[0]).toBe('Open the invoice link (or the e-mail from Stripe) and pay $12.50.');
  });

  it('a failed activation promises the refund of what was paid', () => {
    const r = describeActivation({ status: 'failed', activationId: 'act_8', email: 'bob@example.com', amountPaid: { cents: 100, currency: 'usd' } });
    expect(Object.keys(r)).toEqual(['status', 'activation_id', 'message', 'next_steps']);
    expect(r.message).toMatch(/refund your \$1\.00\.$/);
  });
});
