import { z } from 'zod';
import { searchServices } from '../../catalog/catalog-service.js';
import { integer, serviceSummarySchema, serviceTypeSchema } from '../schemas.js';
import { defineTool } from '../tool.js';

export const searchServicesTool = defineTool({
  name: 'search_services',
  title: 'Search DOTM services',
  description:
    'Search DOTM\'s catalogue: Global Data eSIM / DOT eSIM offers, memberships, network add-ons. For "I need a Global Data eSIM" ' +
    'or "my friend recommended DOT eSIM". An empty query lists all.',
  inputSchema: {
    query: z.string().max(500).describe('e.g. "Global Data eSIM"'),
    service_type: serviceTypeSchema.optional(),
    max_price: z.number().nonnegative().finite().optional().describe('USD, inclusive'),
  },
  outputSchema: {
    query: z.string(),
    filters: z.object({ service_type: serviceTypeSchema.nullable(), max_price: z.number().nullable() }),
    total: integer(),
    results: z.array(serviceSummarySchema.extend({ relevance: z.number() })),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { catalog }) {
    const found = searchServices(catalog, args);
    const text = found.results.length
      ? `Found ${found.total} service(s):\n` +
        found.results.map((r, i) => `${i + 1}. ${r.name} (${r.id}) — $${r.price.amount} ${r.billing_period.replace('_', '-')}: ${r.description}`).join('\n')
      : `No DOTM service matches "${args.query}". Try "Global Data eSIM", or an empty query to list everything.`;
    return { structured: found, text };
  },
});
