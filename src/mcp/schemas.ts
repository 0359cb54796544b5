// Shapes shared by the tools' published schemas. Money is registered with an `id`, so each tool's
// output schema writes it once as a JSON Schema definition and refers to it where it recurs, up to
// twelve times in one tool (zod's toJSONSchema, which the SDK calls for tools/list, reads the ids
// from zod's global registry). Only output schemas use it: input schemas stay plain objects without
// references, for the clients that handle nothing else.
import { z } from 'zod';
import { BILLING_PERIODS, SERVICE_TYPES } from '../catalog/catalog.js';

/**
 * A whole number, published as JSON Schema's plain "integer". zod adds the ±2^53 bounds of a safe
 * integer to each one (60 bytes, on every integer of every tool); the published schema leaves them
 * out, and parsing still refuses anything but a safe integer.
 */
export const integer = () => z.number().int().meta({ minimum: undefined, maximum: undefined });

export const moneySchema = z
  .object({
    amount_cents: integer(),
    amount: z.string(),
    currency: z.literal('usd'),
  })
  .meta({ id: 'money', description: 'Exact: cents, and dollars as "24.00"' });

export const serviceTypeSchema = z.enum(SERVICE_TYPES);
export const billingPeriodSchema = z.enum(BILLING_PERIODS);

export const serviceSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  category: z.string(),
  service_type: serviceTypeSchema,
  billing_period: billingPeriodSchema,
  price: moneySchema,
  description: z.string(),
});
