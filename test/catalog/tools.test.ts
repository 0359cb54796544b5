// The four catalogue tools at handler level, over the shipped catalogue: what each answers for any
// valid input matches its own published output schema, and the words the assistant reads carry the
// same amounts as the structured answer. The SDK, HTTP and the endpoint are covered in test/mcp/.
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SERVICE_TYPES } from '../../src/catalog/catalog.js';
import { money } from '../../src/catalog/money.js';
import { AppError } from '../../src/errors.js';
import type { AnyTool, ToolContext, ToolDefinition } from '../../src/mcp/tool.js';
import { calculatePricingTool } from '../../src/mcp/tools/calculate-pricing.js';
import { compareMembershipsTool } from '../../src/mcp/tools/compare-memberships.js';
import { getServiceDetailsTool } from '../../src/mcp/tools/get-service-details.js';
import { searchServicesTool } from '../../src/mcp/tools/search-services.js';
import { membershipIds, shippedCatalog as catalog } from './generated.js';

const ctx: ToolContext = {
  catalog,
  logger: pino({ level: 'silent' }),
  activation: {
    activateEsim: () => Promise.reject(new Error('the catalogue tools never activate')),
    activationStatus: () => Promise.reject(new Error('the catalogue tools never read an activation')),
  },
};

const ids = catalog.services.map((s) => s.id);
const dollars = (cents: number) => `$${money(cents).amount}`;

/** Calls the handler with arguments its input schema accepts, and checks the answer against its output schema. */
async function answer<I extends z.ZodRawShape, O extends z.ZodRawShape>(tool: ToolDefinition<I, O>, args: unknown) {
  const input = z.object(tool.inputSchema).parse(args);
  const result = await tool.handler(input, ctx);
  const structured = z.object(tool.outputSchema).strict().parse(result.structured);
  expect(result.structured).toEqual(structured);
  return result;
}

async function refusal(tool: AnyTool, args: unknown): Promise<AppError> {
  const err = await tool.handler(z.object(tool.inputSchema).parse(args), ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).userFault).toBe(true);
  return err as AppError;
}

const queryWords = fc.oneof(
  fc.constantFrom('', 'Global Data eSIM', 'DOT eSIM', 'vpn', 'membership', 'esim', 'beta_esim_activation', 'security'),
  fc.string({ maxLength: 40 }),
);

describe('search_services handler', () => {
  it('for any query and filters: answers to its schema, within the filters, and says what it found', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { query: queryWords, service_type: fc.constantFrom(...SERVICE_TYPES), max_price: fc.double({ min: 0, max: 100, noNaN: true }) },
          { requiredKeys: ['query'] },
        ),
        async (args) => {
          const { structured, text } = await answer(searchServicesTool, args);
          expect(structured.total).toBe(structured.results.length);
          for (const r of structured.results) {
            if (args.service_type) expect(r.service_type).toBe(args.service_type);
            if (args.max_price !== undefined) expect(r.price.amount_cents).toBeLessThanOrEqual(Math.round(args.max_price * 100));
            expect(text).toContain(`(${r.id}) — ${dollars(r.price.amount_cents)}`);
          }
          if (structured.total === 0) expect(text).toContain(`No DOTM service matches "${args.query}"`);
          else expect(text).toMatch(new RegExp(`^Found ${structured.total} service\\(s\\):`));
        },
      ),
    );
  });
});

describe('get_service_details handler', () => {
  it.each(ids)('%s: answers to its schema with its catalogue price in words and numbers', async (id) => {
    const { structured, text } = await answer(getServiceDetailsTool, { service_id: id });
    const s = catalog.byId(id)!;
    expect(structured.service).toMatchObject({ id, name: s.name, price: money(s.price_cents), activatable_in_conversation: s.activatable });
    expect(text).toContain(`Price: ${dollars(s.price_cents)} ${s.billing_period.replace('_', '-')}`);
    expect(text.includes('activate_esim')).toBe(s.activatable);
  });

  it('an unknown id is refused with the nearest ids suggested', async () => {
    const err = await refusal(getServiceDetailsTool, { service_id: 'full_member' });
    expect(err.code).toBe('not_found');
    expect(err.options.details).toMatchObject({ argument: 'service_id', suggestions: expect.arrayContaining(['full_membership']) });
  });
});

describe('calculate_pricing handler', () => {
  it('for any list of ids: answers to its schema, and the text names every line item and total at its amount', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...ids), { minLength: 1, maxLength: 50 }), async (serviceIds) => {
        const { structured, text } = await answer(calculatePricingTool, { service_ids: serviceIds });
        for (const l of structured.line_items) expect(text).toContain(`- ${l.name}: ${dollars(l.price.amount_cents)} ${l.billing_period.replace('_', '-')}`);
        const t = structured.totals;
        expect(text).toContain(`One-time: ${dollars(t.one_time.amount_cents)}; monthly: ${dollars(t.monthly_recurring.amount_cents)}`);
        expect(text).toContain(`yearly: ${dollars(t.yearly_recurring.amount_cents)}`);
        expect(text).toContain(`Monthly equivalent of recurring charges: ${dollars(t.monthly_equivalent.amount_cents)}`);
        expect(text).toContain(`first year in total: ${dollars(t.first_year.amount_cents)}`);
      }),
    );
  });

  it('the input schema refuses an empty list and more than 50 ids before the handler runs', () => {
    const input = z.object(calculatePricingTool.inputSchema);
    expect(input.safeParse({ service_ids: [] }).success).toBe(false);
    expect(input.safeParse({ service_ids: Array(51).fill('basic_membership') }).success).toBe(false);
    expect(input.safeParse({ service_ids: ['basic_membership'] }).success).toBe(true);
  });

  it('an unknown id among known ones is refused, not dropped', async () => {
    const err = await refusal(calculatePricingTool, { service_ids: ['basic_membership', 'gold_membership'] });
    expect(err.message).toContain("Unknown service_ids entry 'gold_membership'");
  });
});

describe('compare_memberships handler', () => {
  const memberships = membershipIds(catalog);

  it('for any choice of memberships (or none): answers to its schema, and the text carries each price and the difference', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(fc.array(fc.constantFrom(...memberships), { maxLength: 10 }), { nil: undefined }), async (planIds) => {
        const { structured, text } = await answer(compareMembershipsTool, planIds === undefined ? {} : { plan_ids: planIds });
        for (const p of structured.plans) {
          expect(text).toContain(`- ${p.name}: ${dollars(p.price.amount_cents)}/year (about ${dollars(p.monthly_equivalent.amount_cents)}/month)`);
        }
        expect(text).toContain(`Price difference: ${dollars(structured.price_difference.amount_cents)}.`);
        const cheapest = catalog.byId(structured.cheapest_plan_id)!;
        expect(text).toContain(`${cheapest.name}`);
        expect(text).toContain(`${dollars(cheapest.price_cents)} a year`);
      }),
    );
  });

  it('a service that is not a membership is refused, with memberships suggested', async () => {
    const err = await refusal(compareMembershipsTool, { plan_ids: ['network_vpn_access'] });
    expect(err.options.details?.suggestions).toEqual(expect.arrayContaining(memberships));
  });
});
