// Search, details, pricing and membership comparison: pure functions over the catalogue data.
import { AppError, notFound } from '../errors.js';
import type { Catalog, Service, ServiceType } from './catalog.js';
import { divideRounded, money, type Money } from './money.js';
import { nearestIds } from './suggest.js';

/** The phrases a traveller uses for the offer; either puts the connectivity offers first. */
export const INVOCATION_PHRASES = ['Global Data eSIM', 'DOT eSIM'] as const;
const CONNECTIVITY = 'connectivity';

export interface ServiceSummary {
  id: string;
  name: string;
  category: string;
  service_type: ServiceType;
  billing_period: Service['billing_period'];
  price: Money;
  description: string;
}

export function summarize(catalog: Catalog, s: Service): ServiceSummary {
  return {
    id: s.id,
    name: s.name,
    category: catalog.category(s.category).name,
    service_type: s.service_type,
    billing_period: s.billing_period,
    price: money(s.price_cents),
    description: s.description,
  };
}

const normalise = (text: string) =>
  text
    .toLowerCase()
    .replace(/e-sim/g, 'esim')
    .replace(/[^a-z0-9$.\s]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

function relevance(s: Service, query: string, terms: string[]): number {
  let score = 0;
  // The invocation phrases lead to the connectivity offers, and first to the one activate_esim sells.
  if (INVOCATION_PHRASES.some((p) => query.includes(normalise(p))) && s.category === CONNECTIVITY) score += s.activatable ? 150 : 100;
  if (query.includes('esim') && s.category === CONNECTIVITY) score += 20;
  if (normalise(s.name) === query || s.id === query.replace(/ /g, '_')) score += 50;
  for (const k of s.keywords) if (query.includes(normalise(k))) score += 4;
  const name = normalise(s.name);
  const description = normalise(s.description);
  const features = normalise(s.features.join(' '));
  for (const t of terms) {
    if (t.length < 2) continue;
    if (name.split(' ').includes(t)) score += 6;
    if (s.keywords.some((k) => normalise(k).split(' ').includes(t))) score += 3;
    if (features.includes(t)) score += 2;
    if (description.includes(t)) score += 1;
  }
  if (score > 0 && s.activatable) score += 1;
  return score;
}

export interface SearchInput {
  query: string;
  service_type?: ServiceType;
  max_price?: number;
}

export function searchServices(catalog: Catalog, input: SearchInput) {
  const query = normalise(input.query ?? '');
  const terms = query ? query.split(' ') : [];
  const maxCents = input.max_price === undefined ? undefined : Math.round(input.max_price * 100);
  const filtered = catalog.services.filter(
    (s) => (!input.service_type || s.service_type === input.service_type) && (maxCents === undefined || s.price_cents <= maxCents),
  );
  const ranked = filtered
    .map((s, order) => ({ s, order, score: query ? relevance(s, query, terms) : 0 }))
    .filter((x) => !query || x.score > 0)
    .sort((a, b) => b.score - a.score || a.order - b.order);
  return {
    query: input.query ?? '',
    filters: { service_type: input.service_type ?? null, max_price: input.max_price ?? null },
    total: ranked.length,
    results: ranked.map(({ s, score }) => ({ ...summarize(catalog, s), relevance: score })),
  };
}

export function unknownServiceError(catalog: Catalog, serviceId: string, argument: string, pool?: readonly string[]): AppError {
  const ids = pool ?? catalog.services.map((s) => s.id);
  const near = nearestIds(serviceId, ids);
  return new AppError(
    'not_found',
    `Unknown ${argument} '${serviceId}'. Did you mean ${near.map((n) => `'${n}'`).join(', ')}? Valid ids: ${ids.join(', ')}.`,
    { details: { argument, suggestions: near } },
  );
}

export function getServiceDetails(catalog: Catalog, serviceId: string) {
  const s = catalog.byId(serviceId);
  if (!s) throw unknownServiceError(catalog, serviceId, 'service_id');
  const category = catalog.category(s.category);
  return {
    service: {
      ...summarize(catalog, s),
      category: { id: category.id, name: category.name, description: category.description },
      features: [...s.features],
      ...(s.data_mb !== undefined ? { data_mb: s.data_mb } : {}),
      ...(s.validity_days !== undefined ? { validity_days: s.validity_days } : {}),
      activatable_in_conversation: s.activatable,
    },
  };
}

/** What one service costs in its first year: a one-time charge once, monthly ×12, yearly once. */
function firstYearCents(s: Service): number {
  switch (s.billing_period) {
    case 'one_time':
      return s.price_cents;
    case 'monthly':
      return s.price_cents * 12;
    case 'yearly':
      return s.price_cents;
  }
}

export function calculatePricing(catalog: Catalog, serviceIds: readonly string[]) {
  if (serviceIds.length === 0) throw new AppError('invalid_argument', 'service_ids must list at least one service id.');
  const unique = [...new Set(serviceIds)];
  const services = unique.map((sid) => {
    const s = catalog.byId(sid);
    if (!s) throw unknownServiceError(catalog, sid, 'service_ids entry');
    return s;
  });
  let oneTime = 0;
  let monthly = 0;
  let yearly = 0;
  for (const s of services) {
    if (s.billing_period === 'one_time') oneTime += s.price_cents;
    else if (s.billing_period === 'monthly') monthly += s.price_cents;
    else yearly += s.price_cents;
  }
  const monthlyEquivalent = monthly + divideRounded(yearly, 12);
  return {
    line_items: services.map((s) => ({
      id: s.id,
      name: s.name,
      service_type: s.service_type,
      billing_period: s.billing_period,
      price: money(s.price_cents),
      first_year: money(firstYearCents(s)),
    })),
    totals: {
      one_time: money(oneTime),
      monthly_recurring: money(monthly),
      yearly_recurring: money(yearly),
      monthly_equivalent: money(monthlyEquivalent),
      first_year: money(oneTime + monthly * 12 + yearly),
    },
    duplicates_ignored: serviceIds.length - unique.length,
    currency: 'usd' as const,
  };
}

export function compareMemberships(catalog: Catalog, planIds?: readonly string[]) {
  const memberships = catalog.services.filter((s) => s.service_type === 'annual_subscription');
  const membershipIds = memberships.map((s) => s.id);
  const chosen =
    planIds && planIds.length > 0
      ? [...new Set(planIds)].map((pid) => {
          const s = catalog.byId(pid);
          if (!s || s.service_type !== 'annual_subscription') throw unknownServiceError(catalog, pid, 'plan_ids entry', membershipIds);
          return s;
        })
      : memberships;
  // An operator's catalogue may hold no membership at all: say so instead of failing inside reduce.
  if (chosen.length === 0) throw notFound('The catalogue offers no membership plans to compare right now.');
  const plans = chosen.map((s) => ({
    id: s.id,
    name: s.name,
    price: money(s.price_cents),
    billing_period: s.billing_period,
    monthly_equivalent: money(divideRounded(s.price_cents, 12)),
    features: [...s.features],
  }));
  const prices = chosen.map((s) => s.price_cents);
  const cheapest = chosen.reduce((a, b) => (b.price_cents < a.price_cents ? b : a));
  const richest = chosen.reduce((a, b) => (b.features.length > a.features.length ? b : a));
  return {
    plans,
    price_difference: money(Math.max(...prices) - Math.min(...prices)),
    cheapest_plan_id: cheapest.id,
    recommendation:
      chosen.length === 1
        ? `${cheapest.name} costs $${money(cheapest.price_cents).amount} a year.`
        : `${cheapest.name} is the lowest-cost way in at $${money(cheapest.price_cents).amount} a year; ${richest.name} adds the most features.`,
  };
}
