// POST /webhooks/stripe: the raw body, the signature verified before anything else, the effect
// committed before the 2xx (Stripe retries anything else).
import express, { type Express } from 'express';
import type { Logger } from '../logger.js';
import type { BillingService } from './billing-service.js';
import type { StripeGateway } from './stripe-gateway.js';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

export function mountStripeWebhook(
  app: Express,
  deps: { billing: BillingService; gateway: StripeGateway; secret: string; toleranceSeconds: number; logger: Logger },
): void {
  app.post(STRIPE_WEBHOOK_PATH, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const signature = req.headers['stripe-signature'];
    if (typeof signature !== 'string' || !Buffer.isBuffer(req.body)) {
      res.status(400).json({ error: 'missing_signature', message: 'A Stripe-Signature header and a body are required' });
      return;
    }
    let event;
    try {
      event = deps.gateway.constructEvent(req.body, signature, deps.secret, deps.toleranceSeconds);
    } catch {
      req.log?.warn('Stripe webhook with a bad signature refused');
      res.status(400).json({ error: 'invalid_signature', message: 'The signature does not verify' });
      return;
    }
    const outcome = await deps.billing.handleEvent(event);
    req.log?.info({ eventId: event.id, type: event.type, outcome }, 'Stripe webhook');
    res.json({ received: true, outcome });
  });
}
