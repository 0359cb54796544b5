import { AppError } from '../../errors.js';
import { defineTool } from '../tool.js';
import { activationText, describeActivationStatus, statusResultShape } from './activate-esim.js';

/**
 * The read-only twin of activate_esim: ChatGPT asks the user to confirm every call of a tool that
 * is not read-only, so the questions that follow a purchase come here.
 */
export const getActivationStatusTool = defineTool({
  name: 'get_activation_status',
  title: 'DOTM eSIM activation status',
  description:
    'Read-only status of the signed-in user\'s DOTM Global Data eSIM ("is my eSIM ready?", "I paid"): none, awaiting_payment, ' +
    'queued (position, wait), activating, active (phone number; QR code by e-mail) or failed.',
  inputSchema: {},
  outputSchema: statusResultShape,
  // Closed world: it reads the user's own activation (and asks Stripe only about the user's invoice).
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  requiresAuth: true,
  async handler(_args, { caller, activation }) {
    if (!caller) throw new AppError('unauthenticated', 'Sign in first: get_activation_status needs the user\'s bearer token.');
    const result = describeActivationStatus(await activation.activationStatus(caller));
    return { structured: result, text: activationText(result) };
  },
});
