import { z } from 'zod';
import { BILLING_PERIODS, SERVICE_TYPES } from '../catalog/catalog.js';

export const moneySchema = z
  .object({
    amount_cents: z.number().int().describe('Exact amount in cents'),
    amount: z.string().describe('The amount in dollars with two decimals, e.g. "24.00"'),
    currency: z.literal('usd'),
  })
  .describe('An exact amount of money');

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
