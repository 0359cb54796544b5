// Shared steps for the billing tests.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import type { LocalStripe } from '../../src/local/stripe/index.js';

export const uniqueEmail = (name: string) => `${name}.${randomBytes(3).toString('hex')}@example.com`;

/** The invoice id in a hosted invoice page's address. */
export const stripeIdFromUrl = (url: string) => /\/i\/(in_\w+)/.exec(url)![1]!;

/** The real SDK pointed at the stand-in: Stripe's own view of customers and invoices. */
export const stripeSdk = (local: LocalStripe) => new Stripe(local.secretKey, { host: local.host, port: local.port, protocol: 'http' });

/** An event as Stripe would send it, signed with the given secret (the stand-in's, or a wrong one). */
export function signedEvent(type: string, object: Record<string, unknown>, secret: string, timestamp?: number) {
  const payload = JSON.stringify({
    id: `evt_test_${randomBytes(8).toString('hex')}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    type,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
  return { payload, signature, id: (JSON.parse(payload) as { id: string }).id };
}
