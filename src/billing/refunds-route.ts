// GET /admin/payments/refunds-due: second payments for an activation that was paid already, for an
// operator to refund at Stripe. Behind `Authorization: Bearer <ADMIN_TOKEN>`, like the other admin routes.
import type { Express } from 'express';
import { publicActivationId } from '../activation/activation-service.js';
import { isAdmin } from '../activation/admin-route.js';
import type { Database } from '../db/database.js';
import { maskEmail } from '../logger.js';
import { invoiceStore } from './invoice-store.js';

const LISTING_LIMIT = 500;

export function mountRefundRoutes(app: Express, deps: { adminToken: string | undefined; db: Database }): void {
  app.get('/admin/payments/refunds-due', async (req, res) => {
    if (!isAdmin(req, deps.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer realm="dotm-admin"');
      res.status(401).json({
        error: 'unauthorized',
        message: deps.adminToken ? 'Send Authorization: Bearer <ADMIN_TOKEN>.' : 'ADMIN_TOKEN is not configured on this server.',
      });
      return;
    }
    const rows = await invoiceStore.refundsDue(deps.db, LISTING_LIMIT);
    res.json({
      refunds_due: rows.map((r) => ({
        stripe_invoice_id: r.stripe_invoice_id,
        activation_id: publicActivationId(Number(r.activation_id)),
        user_id: Number(r.user_id),
        email: maskEmail(r.email),
        amount_paid_cents: r.amount_paid_cents,
        amount_paid: r.amount_paid_cents === null ? null : (r.amount_paid_cents / 100).toFixed(2),
        currency: r.currency,
        paid_at: r.paid_at,
        detected_at: r.detected_at,
        kept_stripe_invoice_id: r.kept_stripe_invoice_id,
      })),
    });
  });
}
