import { z } from 'zod';
import { getServiceDetails } from '../../catalog/catalog-service.js';
import { integer, serviceSummarySchema } from '../schemas.js';
import { defineTool } from '../tool.js';

export const getServiceDetailsTool = defineTool({
  name: 'get_service_details',
  title: 'DOTM service details',
  description:
    'One DOTM service by id (e.g. beta_esim_activation, the $1.00 Global Data eSIM / DOT eSIM beta): price, billing, features.',
  inputSchema: {
    service_id: z.string().min(1).max(100).describe('e.g. "beta_esim_activation"'),
  },
  outputSchema: {
    service: serviceSummarySchema.extend({
      category: z.object({ id: z.string(), name: z.string(), description: z.string() }),
      features: z.array(z.string()),
      data_mb: integer().optional(),
      validity_days: integer().optional(),
      activatable_in_conversation: z.boolean(),
    }),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { catalog }) {
    const details = getServiceDetails(catalog, args.service_id);
    const s = details.service;
    const text =
      `${s.name} (${s.id}) — ${s.category.name}\n` +
      `Price: $${s.price.amount} ${s.billing_period.replace('_', '-')}\n` +
      `${s.description}\nFeatures: ${s.features.join('; ')}` +
      (s.activatable_in_conversation ? '\nThis offer can be activated right here with the activate_esim tool.' : '');
    return { structured: details, text };
  },
});
