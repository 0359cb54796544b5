import type { Caller } from '../identity/caller.js';

export const ACTIVATION_STATUSES = ['awaiting_payment', 'queued', 'activating', 'active', 'failed'] as const;
export type ActivationStatus = (typeof ACTIVATION_STATUSES)[number];

/** What `activate_esim` answers: the SPEC's result shape. */
export interface ActivateEsimResult {
  status: ActivationStatus;
  message: string;
  next_steps: string[];
  invoice_url?: string;
  amount_due?: string;
  currency?: string;
  queue_position?: number;
  estimated_wait_minutes?: number;
  phone_number?: string;
  activation_id: string;
}

/** The door from the MCP tool into registration, billing and activation. */
export interface ActivationFacade {
  activateEsim(caller: Caller, input: { plan_id: string }): Promise<ActivateEsimResult>;
}
