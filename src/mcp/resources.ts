import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { calculatePricing, compareMemberships, summarize } from '../catalog/catalog-service.js';

const json = (uri: string, data: unknown) => ({
  contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(data, null, 2) }],
});

/** The catalogue as MCP resources and the prototype's three prompts. */
export function registerResourcesAndPrompts(server: McpServer, catalog: Catalog): void {
  registerResources(server, catalog);
  registerPrompts(server);
}

function registerResources(server: McpServer, catalog: Catalog): void {
  const byCategory = (categoryId: string) => catalog.services.filter((s) => s.category === categoryId).map((s) => summarize(catalog, s));

  server.registerResource(
    'services-catalog',
    'dotm://services/catalog',
    { title: 'DOTM service catalogue', description: 'Every DOTM service by category, with prices', mimeType: 'application/json' },
    async (uri) =>
      json(uri.href, {
        categories: catalog.categories.map((c) => ({ ...c, services: byCategory(c.id) })),
      }),
  );
  server.registerResource(
    'membership-plans',
    'dotm://services/membership',
    { title: 'DOTM membership plans', description: 'Membership plans compared', mimeType: 'application/json' },
    async (uri) => json(uri.href, compareMemberships(catalog)),
  );
  server.registerResource(
    'network-features',
    'dotm://services/network',
    { title: 'DOTM network features', description: 'VPN and network security add-ons', mimeType: 'application/json' },
    async (uri) => json(uri.href, { services: byCategory('network') }),
  );
  server.registerResource(
    'pricing-summary',
    'dotm://pricing/summary',
    { title: 'DOTM pricing summary', description: 'Every service\'s price and the cost of all of them together', mimeType: 'application/json' },
    async (uri) =>
      json(uri.href, {
        services: catalog.services.map((s) => summarize(catalog, s)),
        all_services: calculatePricing(
          catalog,
          catalog.services.map((s) => s.id),
        ).totals,
      }),
  );
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'recommend_plan',
    {
      title: 'Recommend a DOTM plan',
      description: 'Recommend DOTM services for a traveller\'s needs and budget',
      argsSchema: {
        needs: z.string().max(1000).optional().describe('What the user needs, e.g. "data for two weeks in Asia"'),
        budget: z.string().max(100).optional().describe('Budget in USD, e.g. "30"'),
      },
    },
    ({ needs, budget }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Recommend DOTM services for this user. Needs: ${needs ?? 'not stated'}. Budget: ${budget ? `$${budget}` : 'not stated'}. ` +
              'Use search_services and calculate_pricing; if they want a Global Data eSIM (DOT eSIM), offer the $1.00 beta activation with activate_esim.',
          },
        },
      ],
    }),
  );
  server.registerPrompt(
    'explain_service',
    {
      title: 'Explain a DOTM service',
      description: 'Explain one DOTM service in plain words',
      argsSchema: { service_id: z.string().max(100).describe('A service id, e.g. "beta_esim_activation"') },
    },
    ({ service_id }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `Explain the DOTM service "${service_id}" in plain words: what it is, what it costs, who it suits. Use get_service_details for the facts.`,
          },
        },
      ],
    }),
  );
  server.registerPrompt(
    'cost_optimization',
    {
      title: 'Optimise DOTM costs',
      description: 'Find the cheapest combination of DOTM services that covers the user\'s needs',
      argsSchema: {
        current_services: z.string().max(1000).optional().describe('Comma-separated service ids the user has or considers'),
      },
    },
    ({ current_services }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `The user has or considers: ${current_services || 'nothing yet'}. Use calculate_pricing and compare_memberships to find the ` +
              'cheapest combination that covers their needs, and show the first-year cost of each option.',
          },
        },
      ],
    }),
  );
}
