import { z } from 'zod';
import { compareMemberships } from '../../catalog/catalog-service.js';
import { billingPeriodSchema, moneySchema } from '../schemas.js';
import { defineTool } from '../tool.js';

export const compareMembershipsTool = defineTool({
  name: 'compare_memberships',
  title: 'Compare DOTM memberships',
  description:
    'DOTM memberships side by side (Basic $24/year, Full $66/year): monthly equivalents, price difference. For ongoing plans ' +
    'after a Global Data eSIM / DOT eSIM. Default: all.',
  inputSchema: {
    plan_ids: z.array(z.string().min(1).max(100)).max(10).optional().describe('e.g. ["basic_membership", "full_membership"]'),
  },
  outputSchema: {
    plans: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        price: moneySchema,
        billing_period: billingPeriodSchema,
        monthly_equivalent: moneySchema,
        features: z.array(z.string()),
      }),
    ),
    price_difference: moneySchema,
    cheapest_plan_id: z.string(),
    recommendation: z.string(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { catalog }) {
    const comparison = compareMemberships(catalog, args.plan_ids);
    const text =
      comparison.plans
        .map((p) => `- ${p.name}: $${p.price.amount}/year (about $${p.monthly_equivalent.amount}/month) — ${p.features.join('; ')}`)
        .join('\n') + `\nPrice difference: $${comparison.price_difference.amount}. ${comparison.recommendation}`;
    return { structured: comparison, text };
  },
});
