// calculatePricing as arithmetic: properties that hold for every catalogue and every list of ids.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calculatePricing } from '../../src/catalog/catalog-service.js';
import { AppError } from '../../src/errors.js';
import { catalogWithIds, exactCents, isTwelfthRounded, priceOf, shippedCatalog } from './generated.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('calculatePricing', () => {
  it('line items are the catalogue prices; each total is the sum of its line items, to the cent', () => {
    fc.assert(
      fc.property(catalogWithIds, ([catalog, ids]) => {
        const { line_items, totals } = calculatePricing(catalog, ids);
        for (const item of line_items) {
          const price = exactCents(item.price);
          expect(price).toBe(priceOf(catalog, item.id));
          expect(item.billing_period).toBe(catalog.byId(item.id)!.billing_period);
          expect(exactCents(item.first_year)).toBe(item.billing_period === 'monthly' ? price * 12 : price);
        }
        const pricesBilled = (period: string) => sum(line_items.filter((l) => l.billing_period === period).map((l) => l.price.amount_cents));
        expect(exactCents(totals.one_time)).toBe(pricesBilled('one_time'));
        expect(exactCents(totals.monthly_recurring)).toBe(pricesBilled('monthly'));
        expect(exactCents(totals.yearly_recurring)).toBe(pricesBilled('yearly'));
        expect(exactCents(totals.first_year)).toBe(sum(line_items.map((l) => l.first_year.amount_cents)));
      }),
    );
  });

  it('first year = one-time + 12 × monthly + yearly', () => {
    fc.assert(
      fc.property(catalogWithIds, ([catalog, ids]) => {
        const t = calculatePricing(catalog, ids).totals;
        expect(t.first_year.amount_cents).toBe(t.one_time.amount_cents + 12 * t.monthly_recurring.amount_cents + t.yearly_recurring.amount_cents);
      }),
    );
  });

  it('the monthly equivalent is the monthly charges plus a twelfth of the yearly ones, rounded half up to the cent', () => {
    fc.assert(
      fc.property(catalogWithIds, ([catalog, ids]) => {
        const t = calculatePricing(catalog, ids).totals;
        const twelfth = exactCents(t.monthly_equivalent) - t.monthly_recurring.amount_cents;
        expect(isTwelfthRounded(twelfth, t.yearly_recurring.amount_cents), `${twelfth} for ${t.yearly_recurring.amount_cents}`).toBe(true);
      }),
    );
  });

  it('an id listed twice counts once, and the answer says how many were ignored', () => {
    fc.assert(
      fc.property(
        catalogWithIds.chain(([catalog, ids]) => fc.tuple(fc.constant(catalog), fc.constant(ids), fc.array(fc.constantFrom(...ids), { maxLength: 10 }))),
        ([catalog, ids, repeats]) => {
          const unique = [...new Set(ids)];
          const listed = [...ids, ...repeats];
          expect(calculatePricing(catalog, listed)).toEqual({ ...calculatePricing(catalog, unique), duplicates_ignored: listed.length - unique.length });
        },
      ),
    );
  });

  it('the order of the ids changes the order of the line items only', () => {
    fc.assert(
      fc.property(
        catalogWithIds.chain(([catalog, ids]) => fc.tuple(fc.constant(catalog), fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length }))),
        ([catalog, ids, shuffled]) => {
          const a = calculatePricing(catalog, ids);
          const b = calculatePricing(catalog, shuffled);
          const byId = (items: typeof a.line_items) => [...items].sort((x, y) => x.id.localeCompare(y.id));
          expect(b.totals).toEqual(a.totals);
          expect(b.duplicates_ignored).toBe(a.duplicates_ignored);
          expect(byId(b.line_items)).toEqual(byId(a.line_items));
        },
      ),
    );
  });

  it('an unknown id is always an error naming it, wherever it stands among known ones', () => {
    fc.assert(
      fc.property(
        catalogWithIds.chain(([catalog, ids]) =>
          fc.tuple(
            fc.constant(catalog),
            fc.constant(ids),
            fc.string({ minLength: 1, maxLength: 30 }).filter((x) => !catalog.byId(x)),
            fc.nat({ max: ids.length }),
          ),
        ),
        ([catalog, ids, unknown, at]) => {
          const listed = [...ids.slice(0, at), unknown, ...ids.slice(at)];
          let thrown: unknown;
          try {
            calculatePricing(catalog, listed);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(AppError);
          const err = thrown as AppError;
          expect(err.code).toBe('not_found');
          expect(err.userFault).toBe(true);
          expect(err.message).toContain(`Unknown service_ids entry '${unknown}'`);
          const suggestions = err.options.details?.suggestions as string[];
          expect(suggestions.length).toBeGreaterThan(0);
          for (const s of suggestions) expect(catalog.byId(s)).toBeDefined();
        },
      ),
    );
  });

  it('an empty list is refused', () => {
    expect(() => calculatePricing(shippedCatalog, [])).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
