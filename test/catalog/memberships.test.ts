// compareMemberships as arithmetic: properties that hold for every catalogue and every choice of plans.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareMemberships } from '../../src/catalog/catalog-service.js';
import { parseCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { AppError } from '../../src/errors.js';
import { anyCatalog, exactCents, isTwelfthRounded, membershipIds, priceOf } from './generated.js';

/** A catalogue and a non-empty choice of its memberships (repeats allowed). */
const catalogWithPlans = anyCatalog.chain((catalog) =>
  fc.tuple(fc.constant(catalog), fc.array(fc.constantFrom(...membershipIds(catalog)), { minLength: 1, maxLength: 10 })),
);

function refusal(catalog: Catalog, planIds: string[]): AppError {
  try {
    compareMemberships(catalog, planIds);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`compareMemberships accepted ${JSON.stringify(planIds)}`);
}

describe('compareMemberships', () => {
  it('without a choice, compares every membership in catalogue order and nothing else', () => {
    fc.assert(
      fc.property(anyCatalog, (catalog) => {
        expect(compareMemberships(catalog).plans.map((p) => p.id)).toEqual(membershipIds(catalog));
        expect(compareMemberships(catalog, [])).toEqual(compareMemberships(catalog));
      }),
    );
  });

  it('each chosen plan once, at its price, with a monthly equivalent of a twelfth rounded half up', () => {
    fc.assert(
      fc.property(catalogWithPlans, ([catalog, planIds]) => {
        const { plans } = compareMemberships(catalog, planIds);
        expect(plans.map((p) => p.id)).toEqual([...new Set(planIds)]);
        for (const p of plans) {
          expect(exactCents(p.price)).toBe(priceOf(catalog, p.id));
          expect(p.billing_period).toBe('yearly');
          expect(isTwelfthRounded(exactCents(p.monthly_equivalent), p.price.amount_cents)).toBe(true);
        }
      }),
    );
  });

  it('the price difference is the dearest plan less the cheapest; the cheapest plan is one that costs the least', () => {
    fc.assert(
      fc.property(catalogWithPlans, ([catalog, planIds]) => {
        const c = compareMemberships(catalog, planIds);
        const prices = c.plans.map((p) => p.price.amount_cents);
        expect(exactCents(c.price_difference)).toBe(Math.max(...prices) - Math.min(...prices));
        expect(priceOf(catalog, c.cheapest_plan_id)).toBe(Math.min(...prices));
        expect(c.plans.map((p) => p.id)).toContain(c.cheapest_plan_id);
      }),
    );
  });

  it('neither order nor repeats change the price difference or which price is cheapest', () => {
    fc.assert(
      fc.property(
        catalogWithPlans.chain(([catalog, planIds]) =>
          fc.tuple(fc.constant(catalog), fc.constant(planIds), fc.shuffledSubarray(planIds, { minLength: planIds.length }), fc.array(fc.constantFrom(...planIds))),
        ),
        ([catalog, planIds, shuffled, repeats]) => {
          const a = compareMemberships(catalog, planIds);
          const b = compareMemberships(catalog, [...shuffled, ...repeats]);
          expect(b.price_difference).toEqual(a.price_difference);
          expect(priceOf(catalog, b.cheapest_plan_id)).toBe(priceOf(catalog, a.cheapest_plan_id));
          expect(new Set(b.plans.map((p) => p.id))).toEqual(new Set(a.plans.map((p) => p.id)));
        },
      ),
    );
  });

  it('anything but a membership among the choice is an error naming it, suggesting memberships only', () => {
    const notMembership = (catalog: Catalog) =>
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 30 }).filter((x) => !catalog.byId(x)),
        ...(catalog.services.some((s) => s.service_type !== 'annual_subscription')
          ? [fc.constantFrom(...catalog.services.filter((s) => s.service_type !== 'annual_subscription').map((s) => s.id))]
          : []),
      );
    fc.assert(
      fc.property(
        catalogWithPlans.chain(([catalog, planIds]) =>
          fc.tuple(fc.constant(catalog), fc.constant(planIds), notMembership(catalog), fc.nat({ max: planIds.length })),
        ),
        ([catalog, planIds, stranger, at]) => {
          const err = refusal(catalog, [...planIds.slice(0, at), stranger, ...planIds.slice(at)]);
          expect(err.code).toBe('not_found');
          expect(err.message).toContain(`Unknown plan_ids entry '${stranger}'`);
          const members = membershipIds(catalog);
          for (const s of err.options.details?.suggestions as string[]) expect(members).toContain(s);
        },
      ),
    );
  });
});

describe('a catalogue without memberships', () => {
  it('answers the default comparison with a clear refusal, not an internal error', () => {
    const catalog = parseCatalog({
      categories: [{ id: 'general', name: 'General', description: 'Everything on offer' }],
      services: [
        {
          id: 'data_only',
          name: 'Data only',
          category: 'general',
          service_type: 'one_time_purchase',
          price_cents: 2000,
          currency: 'usd',
          billing_period: 'one_time',
          description: 'Data',
          features: ['10 GB'],
        },
      ],
    });
    for (const planIds of [undefined, []]) {
      let thrown: unknown;
      try {
        compareMemberships(catalog, planIds);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(AppError);
      expect((thrown as AppError).code).toBe('not_found');
      expect((thrown as AppError).message).toMatch(/no membership plans/);
    }
  });
});
