import { z } from 'zod';
import type { ActivationState } from '../../activation/activation-service.js';
import { ACTIVATION_STATUSES } from '../../activation/status.js';
import { money } from '../../catalog/money.js';
import { AppError } from '../../errors.js';
import { maskEmail } from '../../logger.js';
import { defineTool } from '../tool.js';

export const ACTIVATABLE_PLANS = ['beta_esim_activation'] as const;

/** The SPEC's result shape of activate_esim. */
const resultShape = {
  status: z.enum(ACTIVATION_STATUSES),
  message: z.string(),
  next_steps: z.array(z.string()),
  invoice_url: z.string().optional(),
  amount_due: z.string().optional(),
  currency: z.string().optional(),
  queue_position: z.number().int().optional(),
  estimated_wait_minutes: z.number().int().optional(),
  phone_number: z.string().optional(),
  activation_id: z.string(),
};
export type ActivateEsimResult = z.infer<z.ZodObject<typeof resultShape>>;

/** "$1.00": the only currency sold is US dollars. */
const dollars = (cents: number) => `$${money(cents).amount}`;

/** The activation's state in the words the assistant passes on. */
export function describeActivation(state: ActivationState): ActivateEsimResult {
  const activation_id = state.activationId;
  const email = maskEmail(state.email);
  switch (state.status) {
    case 'awaiting_payment': {
      const due = dollars(state.amountDue.cents);
      return {
        status: 'awaiting_payment',
        activation_id,
        invoice_url: state.invoiceUrl,
        amount_due: money(state.amountDue.cents).amount,
        currency: state.amountDue.currency,
        message: `I've sent a ${due} invoice for the eSIM Beta Activation to ${email}. Pay it from the e-mail or at the link, and the activation starts automatically.`,
        next_steps: [
          `Open the invoice link (or the e-mail from Stripe) and pay ${due}.`,
          'Payment is picked up automatically; then ask again for the activation status.',
          'The QR code to install the eSIM will arrive by e-mail once it is active.',
        ],
      };
    }
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
          'Ask again for the status at any time; the QR code will arrive by e-mail.',
        ],
      };
    }
    case 'activating':
      return {
        status: 'activating',
        activation_id,
        message: 'Payment received and your eSIM is being activated with the carrier right now.',
        next_steps: ['Ask again in a minute for your phone number.', `The QR code will be e-mailed to ${email}.`],
      };
    case 'active':
      return {
        status: 'active',
        activation_id,
        phone_number: state.phoneNumber,
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
        next_steps: ['No action needed; we will e-mail you when it is resolved.', 'Ask again later for the status.'],
      };
  }
}

export const activateEsimTool = defineTool({
  name: 'activate_esim',
  title: 'Activate a DOTM Global Data eSIM',
  description:
    'Buy and activate the DOTM Global Data eSIM (also called DOT eSIM) for the signed-in user: "I need a Global Data eSIM", ' +
    '"my friend recommended DOT eSIM". First call: registers the user and e-mails a $1.00 Stripe invoice (status awaiting_payment, ' +
    'with invoice_url to share). After the user pays ("I paid"), call it again for the current state: queued (position and wait), ' +
    'activating, active (phone number; the QR code goes to the user\'s e-mail only) or failed. Safe to call repeatedly: it never ' +
    'sends a second invoice or charges twice. Requires the user to be signed in.',
  inputSchema: {
    plan_id: z.enum(ACTIVATABLE_PLANS).optional().describe('The offer to activate; the only one today is "beta_esim_activation" (default)'),
    email: z.string().max(320).optional().describe('Optional; if given it must be the signed-in user\'s e-mail'),
    firebase_uid: z.string().max(128).optional().describe('Optional; if given it must be the signed-in user\'s Firebase uid'),
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
    const text = [result.message, ...(result.invoice_url ? [`Invoice: ${result.invoice_url}`] : []), ...result.next_steps.map((s) => `- ${s}`)].join('\n');
    return { structured: result, text };
  },
});
