// The catalogue is data an operator edits (src/catalog/services.json or CATALOG_FILE), validated
// at start: a bad file stops the start with a message naming the offending entry.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const SERVICE_TYPES = ['beta_program', 'one_time_purchase', 'annual_subscription', 'add_on'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
export const BILLING_PERIODS = ['one_time', 'monthly', 'yearly'] as const;
export type BillingPeriod = (typeof BILLING_PERIODS)[number];

const id = z.string().regex(/^[a-z][a-z0-9_]*$/, 'ids are lower_snake_case');

const serviceSchema = z
  .object({
    id,
    name: z.string().min(1),
    category: id,
    service_type: z.enum(SERVICE_TYPES),
    price_cents: z.number().int().nonnegative(),
    currency: z.literal('usd'),
    billing_period: z.enum(BILLING_PERIODS),
    description: z.string().min(1),
    features: z.array(z.string().min(1)).min(1),
    keywords: z.array(z.string().min(1)).default([]),
    data_mb: z.number().int().positive().optional(),
    validity_days: z.number().int().positive().optional(),
    activatable: z.boolean().default(false),
  })
  .strict()
  .refine((s) => (s.service_type === 'annual_subscription' ? s.billing_period === 'yearly' : true), {
    message: 'an annual_subscription is billed yearly',
  })
  .refine((s) => (s.service_type === 'add_on' ? s.billing_period === 'monthly' : true), { message: 'an add_on is billed monthly' })
  .refine((s) => (['beta_program', 'one_time_purchase'].includes(s.service_type) ? s.billing_period === 'one_time' : true), {
    message: 'beta_program and one_time_purchase are one-time charges',
  });

const catalogSchema = z
  .object({
    categories: z.array(z.object({ id, name: z.string().min(1), description: z.string().min(1) }).strict()).min(1),
    services: z.array(serviceSchema).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    const categoryIds = new Set(c.categories.map((x) => x.id));
    const seen = new Set<string>();
    c.services.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: `duplicate id ${s.id}` });
      seen.add(s.id);
      if (!categoryIds.has(s.category))
        ctx.addIssue({ code: 'custom', path: ['services', i, 'category'], message: `unknown category ${s.category}` });
    });
  });

export type Service = z.infer<typeof serviceSchema>;
export type Category = z.infer<typeof catalogSchema>['categories'][number];

export interface Catalog {
  readonly categories: readonly Category[];
  readonly services: readonly Service[];
  byId(id: string): Service | undefined;
  category(id: string): Category;
}

export const DEFAULT_CATALOG_FILE = fileURLToPath(new URL('./services.json', import.meta.url));

export class CatalogError extends Error {}

export function parseCatalog(raw: unknown, source = 'catalogue'): Catalog {
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new CatalogError(`Invalid ${source}:\n${problems}`);
  }
  const { categories, services } = parsed.data;
  const index = new Map(services.map((s) => [s.id, Object.freeze(s)]));
  const cats = new Map(categories.map((c) => [c.id, Object.freeze(c)]));
  return Object.freeze({
    categories: Object.freeze([...cats.values()]),
    services: Object.freeze([...index.values()]),
    byId: (serviceId: string) => index.get(serviceId),
    category: (categoryId: string) => cats.get(categoryId)!,
  });
}

export function loadCatalog(file = DEFAULT_CATALOG_FILE): Catalog {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogError(`Cannot read the catalogue ${file}: ${(err as Error).message}`);
  }
  return parseCatalog(raw, `catalogue ${file}`);
}
