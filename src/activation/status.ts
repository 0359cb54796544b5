// The states of an activation, from the user's side: invoice sent → paid and waiting for a slot →
// with the carrier → a line, or a failure an operator resolves.
export const ACTIVATION_STATUSES = ['awaiting_payment', 'queued', 'activating', 'active', 'failed'] as const;
export type ActivationStatus = (typeof ACTIVATION_STATUSES)[number];
