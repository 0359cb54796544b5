import { z } from 'zod';
import { calculatePricing } from '../../catalog/catalog-service.js';
import { billingPeriodSchema, integer, moneySchema, serviceTypeSchema } from '../schemas.js';
import { defineTool } from '../tool.js';

export const calculatePricingTool = defineTool({
  name: 'calculate_pricing',
  title: 'Calculate DOTM pricing',
  description:
    'Exact cost of DOTM services together (e.g. the $1.00 Global Data eSIM beta and a membership): one-time, monthly, yearly, ' +
    'monthly-equivalent and first-year totals. Duplicates count once.',
  inputSchema: {
    service_ids: z.array(z.string().min(1).max(100)).min(1).max(50).describe('e.g. ["beta_esim_activation", "basic_membership"]'),
  },
  outputSchema: {
    line_items: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        service_type: serviceTypeSchema,
        billing_period: billingPeriodSchema,
        price: moneySchema,
        first_year: moneySchema,
      }),
    ),
    totals: z.object({
      one_time: moneySchema,
      monthly_recurring: moneySchema,
      yearly_recurring: moneySchema,
      monthly_equivalent: moneySchema,
      first_year: moneySchema,
    }),
    duplicates_ignored: integer(),
    currency: z.literal('usd'),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { catalog }) {
    const pricing = calculatePricing(catalog, args.service_ids);
    const t = pricing.totals;
    const text =
      pricing.line_items.map((l) => `- ${l.name}: $${l.price.amount} ${l.billing_period.replace('_', '-')}`).join('\n') +
      `\nOne-time: $${t.one_time.amount}; monthly: $${t.monthly_recurring.amount}; yearly: $${t.yearly_recurring.amount}` +
      `\nMonthly equivalent of recurring charges: $${t.monthly_equivalent.amount}; first year in total: $${t.first_year.amount}`;
    return { structured: pricing, text };
  },
});
