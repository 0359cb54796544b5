import type { AnyTool } from '../tool.js';
import { activateEsimTool } from './activate-esim.js';
import { calculatePricingTool } from './calculate-pricing.js';
import { checkDeviceCompatibilityTool } from './check-device-compatibility.js';
import { compareMembershipsTool } from './compare-memberships.js';
import { getActivationStatusTool } from './get-activation-status.js';
import { getServiceDetailsTool } from './get-service-details.js';
import { searchServicesTool } from './search-services.js';

export const TOOLS: readonly AnyTool[] = [
  searchServicesTool,
  getServiceDetailsTool,
  calculatePricingTool,
  compareMembershipsTool,
  checkDeviceCompatibilityTool,
  activateEsimTool,
  getActivationStatusTool,
];

/** Tool names that act for a signed-in user. */
export const AUTH_REQUIRED_TOOLS: ReadonlySet<string> = new Set(TOOLS.filter((t) => t.requiresAuth).map((t) => t.name));
