import { z } from 'zod';
import type { ActivationState, NoActivation } from '../../activation/activation-service.js';
import { ACTIVATION_STATUSES, NO_ACTIVATION, STATUS_READ_STATUSES } from '../../activation/status.js';
import { money } from '../../catalog/money.js';
import { AppError } from '../../errors.js';
import { maskEmail } from '../../logger.js';
import { integer } from '../schemas.js';
import { defineTool } from '../tool.js';

export const ACTIVATABLE_PLANS = ['beta_esim_activation'] as const;

/** The SPEC's result shape, shared by activate_esim and get_activation_status. */
const resultFields = {
  message: z.string(),
  next_steps: z.array(z.string()),
  invoice_url: z.string().optional(),
  amount_due: z.string().optional(),
  currency: z.string().optional(),
  queue_position: integer().optional(),
  estimated_wait_minutes: integer().optional(),
  phone_number: z.string().optional(),
  /** The address the invoice and the QR code go to, masked: "m***@example.com". */
  email_hint: z.string().optional(),
};
const resultShape = { status: z.enum(ACTIVATION_STATUSES), ...resultFields, activation_id: z.string() };
/** get_activation_status also answers `none` (never started), without an activation id. */
export const statusResultShape = { status: z.enum(STATUS_READ_STATUSES), ...resultFields, activation_id: z.string().optional() };
export type ActivateEsimResult = z.infer<z.ZodObject<typeof resultShape>>;
export type ActivationStatusResult = z.infer<z.ZodObject<typeof statusResultShape>>;

/** "$1.00": the only currency sold is US dollars. */
const dollars = (cents: number) => `$${money(cents).amount}`;

/** Awaiting payment: the invoice link to share, or none to pay right now. `email` is masked. */
function awaitingPayment(state: Extract<ActivationState, { status: 'awaiting_payment' }>, email: string): ActivateEsimResult {
  const due = dollars(state.amountDue.cents);
  const common = {
    status: 'awaiting_payment' as const,
    activation_id: state.activationId,
    amount_due: money(state.amountDue.cents).amount,
    currency: state.amountDue.currency,
    email_hint: email,
  };
  if (!state.invoiceUrl) {
    return {
      ...common,
      message: `Your ${due} invoice for the eSIM Beta Activation is not ready to pay right now.`,
      next_steps: ['Call activate_esim to get the invoice link: it never sends a second invoice or charges twice.'],
    };
  }
  return {
    ...common,
    invoice_url: state.invoiceUrl,
    message: `I've sent a ${due} invoice for the eSIM Beta Activation to ${email}. Pay it from the e-mail or at the link, and the activation starts automatically.`,
    next_steps: [
      `Open the invoice link (or the e-mail from Stripe) and pay ${due}.`,
      'Payment is picked up automatically; when the user says they paid, call get_activation_status.',
      'The QR code to install the eSIM will arrive by e-mail once it is active.',
    ],
  };
}

/** The activation's state in the words the assistant passes on. */
export function describeActivation(state: ActivationState): ActivateEsimResult {
  const activation_id = state.activationId;
  const email = maskEmail(state.email);
  switch (state.status) {
    case 'awaiting_payment':
      return awaitingPayment(state, email);
    case 'queued': {
      const { queuePosition: position, estimatedWaitMinutes: wait } = state;
      return {
        status: 'queued',
        activation_id,
        queue_position: position,
        estimated_wait_minutes: wait,
        message:
          wait > 0
            ? `We're processing high volume right now. You're #${position} in queue, estimated wait: ${wait} minute${wait === 1 ? '' : 's'}. Your account and payment are ready - just timing!`
            : `Payment received! You're #${position} in queue and your activation is starting now. Your account and payment are ready.`,
        next_steps: [
          'Nothing to do: the activation starts automatically when your turn comes.',
          'Check at any time with get_activation_status; the QR code will arrive by e-mail.',
        ],
      };
    }
    case 'activating':
      return {
        status: 'activating',
        activation_id,
        email_hint: email,
        message: 'Payment received and your eSIM is being activated with the carrier right now.',
        next_steps: ['Call get_activation_status in a minute for the phone number.', `The QR code will be e-mailed to ${email}.`],
      };
    case 'active':
      return {
        status: 'active',
        activation_id,
        phone_number: state.phoneNumber,
        email_hint: email,
        message: `Your eSIM is active! Phone: ${state.phoneNumber}. Check your e-mail (${email}) for the QR code.`,
        next_steps: [
          'Open the e-mail on another screen, or use its one-tap install link on the phone itself.',
          'iPhone: Settings → Cellular → Add eSIM → Use QR Code. Android: Settings → Network & internet → SIMs → Add eSIM.',
          'The beta includes one eSIM per account.',
        ],
      };
    case 'failed':
      return {
        status: 'failed',
        activation_id,
        message: `We could not activate your eSIM with the carrier. Your payment is safe and you will not be charged again: our team has been alerted and will retry the activation or refund your ${dollars(state.amountPaid.cents)}.`,
        next_steps: ['No action needed; we will e-mail you when it is resolved.', 'Check again later with get_activation_status.'],
      };
  }
}

/** get_activation_status's answer: describeActivation's, or `none` for a user who never started. */
export function describeActivationStatus(state: ActivationState | NoActivation): ActivationStatusResult {
  if (state.status === NO_ACTIVATION) {
    return {
      status: NO_ACTIVATION,
      message: 'You have not started a DOTM Global Data eSIM activation yet.',
      next_steps: ['To start one, call activate_esim: it e-mails the invoice for the eSIM Beta Activation and answers with its link.'],
    };
  }
  return describeActivation(state);
}

/** The text content: the message, the invoice link when there is one, then the next steps. */
export const activationText = (result: ActivationStatusResult): string =>
  [result.message, ...(result.invoice_url ? [`Invoice: ${result.invoice_url}`] : []), ...result.next_steps.map((s) => `- ${s}`)].join('\n');

export const activateEsimTool = defineTool({
  name: 'activate_esim',
  title: 'Activate a DOTM Global Data eSIM',
  description:
    'Buy and activate the DOTM Global Data eSIM for the signed-in user ("I need a Global Data eSIM", "my friend recommended DOT eSIM"). ' +
    'First call e-mails a $1.00 Stripe invoice: share invoice_url. Never invoices or charges twice. ' +
    'Later questions ("is it ready?", "I paid"): get_activation_status.',
  inputSchema: {
    plan_id: z.enum(ACTIVATABLE_PLANS).optional(),
    email: z.string().max(320).optional().describe('Only the signed-in user\'s'),
    firebase_uid: z.string().max(128).optional().describe('Only the signed-in user\'s'),
  },
  outputSchema: resultShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  requiresAuth: true,
  async handler(args, { caller, activation }) {
    if (!caller) throw new AppError('unauthenticated', 'Sign in first: activate_esim needs the user\'s bearer token.');
    if (args.firebase_uid !== undefined && args.firebase_uid !== caller.uid) {
      throw new AppError('forbidden', 'The firebase_uid argument does not match the signed-in user. Leave it out: the account comes from the sign-in.');
    }
    if (args.email !== undefined && args.email.trim().toLowerCase() !== (caller.email ?? '').toLowerCase()) {
      throw new AppError('forbidden', 'The email argument does not match the signed-in user\'s e-mail. Leave it out: the account comes from the sign-in.');
    }
    const result = describeActivation(await activation.activateEsim(caller, { plan_id: args.plan_id ?? 'beta_esim_activation' }));
    return { structured: result, text: activationText(result) };
  },
});
