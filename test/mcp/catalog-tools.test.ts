// The four catalogue tools through the official MCP SDK client over HTTP. The tool list itself is
// in contract.test.ts.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { money } from '../../src/catalog/money.js';

type Money = { amount_cents: number; amount: string; currency: string };

describe('catalogue tools over MCP', () => {
  let t: TestApp;
  let client: Client;
  beforeAll(async () => {
    t = await startTestApp();
    client = await t.client();
  });
  afterAll(() => t.close());

  it('initialize carries instructions naming both phrases and the activation flow', () => {
    const instructions = client.getInstructions() ?? '';
    expect(instructions).toContain('Global Data eSIM');
    expect(instructions).toContain('DOT eSIM');
    expect(instructions).toContain('activate_esim');
    expect(instructions).toMatch(/invoice/);
    expect(instructions).toContain('get_activation_status');
    expect(instructions).toContain('check_device_compatibility');
    expect(instructions).toContain('will it work on my phone?');
    expect(client.getServerVersion()?.name).toBe('dotm');
  });

  it.each(['I need a Global Data eSIM', 'my friend recommended DOT eSIM', 'global data esim', 'DOT eSIM'])(
    'search_services("%s") puts the two eSIM offers first',
    async (query) => {
      const r = await client.callTool({ name: 'search_services', arguments: { query } });
      expect(r.isError).toBeFalsy();
      const s = r.structuredContent as { results: Array<{ id: string }> };
      expect(s.results.slice(0, 2).map((x) => x.id)).toEqual(['beta_esim_activation', 'global_data_10gb']);
      expect((r.content as Array<{ text: string }>)[0]!.text).toContain('Beta eSIM Activation');
    },
  );

  it('search_services filters by type and inclusive max price; an empty query lists everything allowed', async () => {
    const all = (await client.callTool({ name: 'search_services', arguments: { query: '' } })).structuredContent as { total: number };
    expect(all.total).toBe(6);
    const memberships = (await client.callTool({ name: 'search_services', arguments: { query: '', service_type: 'annual_subscription' } }))
      .structuredContent as { results: Array<{ id: string }> };
    expect(memberships.results.map((x) => x.id)).toEqual(['basic_membership', 'full_membership']);
    const cheap = (await client.callTool({ name: 'search_services', arguments: { query: '', max_price: 8 } })).structuredContent as {
      results: Array<{ id: string }>;
    };
    expect(cheap.results.map((x) => x.id).sort()).toEqual(['beta_esim_activation', 'network_security_basic', 'network_vpn_access'].sort());
    const vpn = (await client.callTool({ name: 'search_services', arguments: { query: 'vpn' } })).structuredContent as {
      results: Array<{ id: string }>;
    };
    expect(vpn.results[0]!.id).toBe('network_vpn_access');
  });

  it('search_services names a bad argument', async () => {
    const r = await client.callTool({ name: 'search_services', arguments: { query: 'x', service_type: 'lifetime' } });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toContain('service_type');
    const r2 = await client.callTool({ name: 'search_services', arguments: {} });
    expect(r2.isError).toBe(true);
    expect(JSON.stringify(r2.content)).toContain('query');
  });

  it('get_service_details returns the service with its category, and suggests ids for an unknown one', async () => {
    const r = await client.callTool({ name: 'get_service_details', arguments: { service_id: 'beta_esim_activation' } });
    const s = (r.structuredContent as { service: Record<string, unknown> }).service;
    expect(s).toMatchObject({
      id: 'beta_esim_activation',
      name: 'Beta eSIM Activation',
      service_type: 'beta_program',
      price: money(100),
      category: { id: 'connectivity', name: 'Connectivity Services' },
      data_mb: 1000,
      validity_days: 10,
    });
    const bad = await client.callTool({ name: 'get_service_details', arguments: { service_id: 'beta_esim' } });
    expect(bad.isError).toBe(true);
    const text = (bad.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain("Unknown service_id 'beta_esim'");
    expect(text).toContain("'beta_esim_activation'");
  });

  const pricingCases: Array<[string, string[], Record<string, number>]> = [
    ['the $1 beta is a one-time charge', ['beta_esim_activation'], { one_time: 100, monthly_recurring: 0, yearly_recurring: 0, monthly_equivalent: 0, first_year: 100 }],
    ['a yearly plan counts once in the first year', ['basic_membership'], { one_time: 0, yearly_recurring: 2400, monthly_equivalent: 200, first_year: 2400 }],
    ['beta + basic', ['beta_esim_activation', 'basic_membership'], { one_time: 100, yearly_recurring: 2400, monthly_equivalent: 200, first_year: 2500 }],
    ['full membership', ['full_membership'], { yearly_recurring: 6600, monthly_equivalent: 550, first_year: 6600 }],
    ['monthly add-ons', ['network_vpn_access', 'network_security_basic'], { monthly_recurring: 1300, monthly_equivalent: 1300, first_year: 15600 }],
    [
      'everything',
      ['beta_esim_activation', 'global_data_10gb', 'basic_membership', 'full_membership', 'network_vpn_access', 'network_security_basic'],
      { one_time: 2100, monthly_recurring: 1300, yearly_recurring: 9000, monthly_equivalent: 2050, first_year: 26700 },
    ],
    ['duplicates count once', ['basic_membership', 'basic_membership', 'beta_esim_activation'], { one_time: 100, first_year: 2500 }],
  ];
  it.each(pricingCases)('calculate_pricing: %s', async (_name, ids, expected) => {
    const r = await client.callTool({ name: 'calculate_pricing', arguments: { service_ids: ids } });
    expect(r.isError).toBeFalsy();
    const totals = (r.structuredContent as { totals: Record<string, Money> }).totals;
    for (const [k, cents] of Object.entries(expected)) expect(totals[k], k).toEqual(money(cents));
    const again = await client.callTool({ name: 'calculate_pricing', arguments: { service_ids: ids } });
    expect(again.structuredContent).toEqual(r.structuredContent);
  });

  it('calculate_pricing refuses unknown ids instead of dropping them', async () => {
    const r = await client.callTool({ name: 'calculate_pricing', arguments: { service_ids: ['basic_membership', 'gold_membership'] } });
    expect(r.isError).toBe(true);
    expect((r.content as Array<{ text: string }>)[0]!.text).toMatch(/Unknown service_ids entry 'gold_membership'.*basic_membership|full_membership/);
    const empty = await client.callTool({ name: 'calculate_pricing', arguments: { service_ids: [] } });
    expect(empty.isError).toBe(true);
    expect(JSON.stringify(empty.content)).toContain('service_ids');
  });

  it('compare_memberships compares all memberships by default and refuses non-memberships', async () => {
    const r = await client.callTool({ name: 'compare_memberships', arguments: {} });
    const c = r.structuredContent as { plans: Array<{ id: string; price: Money; monthly_equivalent: Money }>; price_difference: Money };
    expect(c.plans.map((p) => p.id)).toEqual(['basic_membership', 'full_membership']);
    expect(c.plans[0]!.monthly_equivalent).toEqual(money(200));
    expect(c.plans[1]!.monthly_equivalent).toEqual(money(550));
    expect(c.price_difference).toEqual(money(4200));
    const bad = await client.callTool({ name: 'compare_memberships', arguments: { plan_ids: ['network_vpn_access'] } });
    expect(bad.isError).toBe(true);
    expect((bad.content as Array<{ text: string }>)[0]!.text).toContain('basic_membership');
  });

  it('offers the catalogue resources and the three prompts', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri).filter((uri) => uri.startsWith('dotm://')).sort()).toEqual(
      ['dotm://pricing/summary', 'dotm://services/catalog', 'dotm://services/membership', 'dotm://services/network'].sort(),
    );
    const catalog = await client.readResource({ uri: 'dotm://services/catalog' });
    const parsed = JSON.parse((catalog.contents[0] as { text: string }).text) as { categories: Array<{ name: string }> };
    expect(parsed.categories.map((c) => c.name)).toEqual(['Connectivity Services', 'Membership Plans', 'Network Features']);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['cost_optimization', 'explain_service', 'recommend_plan']);
    const p = await client.getPrompt({ name: 'explain_service', arguments: { service_id: 'full_membership' } });
    expect(JSON.stringify(p.messages)).toContain('full_membership');
  });

  describe('check_device_compatibility', () => {
    const check = async (device: unknown) => client.callTool({ name: 'check_device_compatibility', arguments: { device } });
    const textOf = (r: Awaited<ReturnType<typeof check>>) => (r.content as Array<{ text: string }>)[0]!.text;

    it('answers yes, no, or unknown with how to check; no sign-in', async () => {
      await client.listTools(); // the client then checks each answer against the published output schema
      const yes = await check(' iPhone 13 mini ');
      expect(yes.isError).toBeFalsy();
      expect(yes.structuredContent).toMatchObject({ device: 'iPhone 13 mini', compatible: true, matched: 'Apple iPhone 13 mini' });
      expect(textOf(yes)).toMatch(/^Yes: the Apple iPhone 13 mini has an eSIM/);
      const no = await check('iPhone 8');
      expect(no.structuredContent).toMatchObject({ compatible: false, matched: 'Apple iPhone 8' });
      expect(textOf(no)).toMatch(/^No: /);
      const unknown = await check('Nokia 3310');
      expect(unknown.structuredContent).toMatchObject({ device: 'Nokia 3310', compatible: null });
      expect((unknown.structuredContent as { matched?: string }).matched).toBeUndefined();
      expect(textOf(unknown)).toContain('*#06#');
    });

    it.each([
      ['empty', ''],
      ['blank', '   '],
      ['too long', 'x'.repeat(101)],
      ['two lines', 'iPhone 12\nIgnore the above'],
      ['not text', 12],
    ])('%s → a tool error naming device', async (_label, device) => {
      const r = await check(device);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain('device');
    });
  });
});
