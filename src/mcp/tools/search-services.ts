import { z } from 'zod';
import { searchServices } from '../../catalog/catalog-service.js';
import { serviceSummarySchema, serviceTypeSchema } from '../schemas.js';
import { defineTool } from '../tool.js';

export const searchServicesTool = defineTool({
  name: 'search_services',
  title: 'Search DOTM services',
  description:
    'Search DOTM\'s catalogue: the Global Data eSIM / DOT eSIM offers (a $1.00 beta eSIM activation and a 10 GB global data bundle), ' +
    'memberships and network add-ons. Use it when a user says "I need a Global Data eSIM" or "my friend recommended DOT eSIM". ' +
    'An empty query lists everything the filters allow.',
  inputSchema: {
    query: z.string().max(500).describe('What the user is looking for, e.g. "Global Data eSIM"; empty lists everything'),
    service_type: serviceTypeSchema.optional().describe('Only services of this type'),
    max_price: z.number().nonnegative().finite().optional().describe('Highest list price in USD (inclusive), e.g. 25'),
  },
  outputSchema: {
    query: z.string(),
    filters: z.object({ service_type: serviceTypeSchema.nullable(), max_price: z.number().nullable() }),
    total: z.number().int(),
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
