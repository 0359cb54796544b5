// Catalogues for the property tests: the shipped one, and generated ones that pass the same
// validation an operator's file does (any types, any prices, one service or many).
import fc from 'fast-check';
import { expect } from 'vitest';
import { loadCatalog, parseCatalog, SERVICE_TYPES, type Catalog, type ServiceType } from '../../src/catalog/catalog.js';
import type { Money } from '../../src/catalog/money.js';

const PERIOD = { beta_program: 'one_time', one_time_purchase: 'one_time', annual_subscription: 'yearly', add_on: 'monthly' } as const;

export const shippedCatalog = loadCatalog();

const service = (types: readonly ServiceType[]) =>
  fc.record({
    service_type: fc.constantFrom(...types),
    price_cents: fc.integer({ min: 0, max: 10_000_000 }),
    features: fc.integer({ min: 1, max: 6 }),
  });

function build(list: Array<{ service_type: ServiceType; price_cents: number; features: number }>): Catalog {
  return parseCatalog({
    categories: [{ id: 'general', name: 'General', description: 'Everything on offer' }],
    services: list.map((s, i) => ({
      id: `service_${i}`,
      name: `Service ${i}`,
      category: 'general',
      service_type: s.service_type,
      price_cents: s.price_cents,
      currency: 'usd',
      billing_period: PERIOD[s.service_type],
      description: `Generated service ${i}`,
      features: Array.from({ length: s.features }, (_, j) => `Feature ${j}`),
    })),
  });
}

/** The shipped catalogue or a generated one with at least one membership, in any order. */
export const anyCatalog: fc.Arbitrary<Catalog> = fc.oneof(
  fc.constant(shippedCatalog),
  fc
    .tuple(fc.array(service(SERVICE_TYPES), { maxLength: 10 }), fc.array(service(['annual_subscription']), { minLength: 1, maxLength: 4 }))
    .chain(([others, memberships]) => fc.shuffledSubarray([...others, ...memberships], { minLength: others.length + memberships.length }))
    .map(build),
);

/** A catalogue and a non-empty list of its ids (repeats allowed). */
export const catalogWithIds = anyCatalog.chain((catalog) =>
  fc.tuple(fc.constant(catalog), fc.array(fc.constantFrom(...catalog.services.map((s) => s.id)), { minLength: 1, maxLength: 20 })),
);

export const membershipIds = (catalog: Catalog) => catalog.services.filter((s) => s.service_type === 'annual_subscription').map((s) => s.id);

/**
 * The cents of an amount, after checking that its dollar string says exactly the same: read
 * digit by digit, not through a float.
 */
export function exactCents(m: Money): number {
  expect(m.currency).toBe('usd');
  expect(m.amount).toMatch(/^-?\d+\.\d{2}$/);
  expect(Number(m.amount.replace('.', ''))).toBe(m.amount_cents);
  return m.amount_cents;
}

/** Rounded half up to the cent: what a twelfth of a yearly price is shown as. */
export function isTwelfthRounded(twelfth: number, whole: number): boolean {
  const error = twelfth * 12 - whole;
  return error > -6 && error <= 6;
}

export const priceOf = (catalog: Catalog, id: string) => catalog.byId(id)!.price_cents;
