// Tool results for every state a card shows, made by the same functions the tools answer with
// (the activation's words, the catalogue's pricing and comparison), as the host passes them on.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ActivationState, NoActivation } from '../../src/activation/activation-service.js';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { calculatePricing, compareMemberships } from '../../src/catalog/catalog-service.js';
import { activationText, describeActivationStatus } from '../../src/mcp/tools/activate-esim.js';

export const SAMPLE_EMAIL = 'maria.traveller@example.com';
export const SAMPLE_EMAIL_HINT = 'm***@example.com';
export const SAMPLE_INVOICE_URL = 'https://invoice.stripe.com/i/acct_1DotmDemo/test_YWNjdF9kZW1v';
export const SAMPLE_PHONE = '+14155550134';

export type ActivationCardState = 'none' | 'awaiting_payment' | 'queued' | 'activating' | 'active' | 'failed';

const base = { activationId: 'act_4f1c2d9e', email: SAMPLE_EMAIL };
const dollar = { cents: 100, currency: 'usd' };

/** The tool result for an activation state (or none), text and structured content. */
export function activationResult(state: ActivationState | NoActivation): CallToolResult {
  const structured = describeActivationStatus(state);
  return { content: [{ type: 'text', text: activationText(structured) }], structuredContent: structured as unknown as Record<string, unknown> };
}

export const queued = (position: number, minutes: number): CallToolResult =>
  activationResult({ ...base, status: 'queued', queuePosition: position, estimatedWaitMinutes: minutes });

export const ACTIVATION_RESULTS: Record<ActivationCardState, CallToolResult> = {
  none: activationResult({ status: 'none', email: SAMPLE_EMAIL }),
  awaiting_payment: activationResult({ ...base, status: 'awaiting_payment', invoiceUrl: SAMPLE_INVOICE_URL, amountDue: dollar }),
  queued: queued(3, 12),
  activating: activationResult({ ...base, status: 'activating' }),
  active: activationResult({ ...base, status: 'active', phoneNumber: SAMPLE_PHONE }),
  failed: activationResult({ ...base, status: 'failed', amountPaid: dollar }),
};

const catalog = loadCatalog();
const asResult = (structured: object, text: string): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent: structured as Record<string, unknown>,
});

export const PRICED_SERVICES = ['beta_esim_activation', 'basic_membership', 'network_vpn_access'];

export const OFFERS_RESULTS = {
  compare_memberships: asResult(compareMemberships(catalog), 'Memberships compared'),
  calculate_pricing: asResult(calculatePricing(catalog, PRICED_SERVICES), 'Pricing'),
};
