// The states of an activation, from the user's side: invoice sent → paid and waiting for a slot →
// with the carrier → a line, or a failure an operator resolves.
export const ACTIVATION_STATUSES = ['awaiting_payment', 'queued', 'activating', 'active', 'failed'] as const;
export type ActivationStatus = (typeof ACTIVATION_STATUSES)[number];

/** What a status read answers for a user who never started an activation. */
export const NO_ACTIVATION = 'none';
/** The statuses a read-only status read can answer: an activation's, or none at all. */
export const STATUS_READ_STATUSES = [NO_ACTIVATION, ...ACTIVATION_STATUSES] as const;
