import { z } from 'zod';
import { AppError } from '../../errors.js';
import { ACTIVATION_STATUSES } from '../activation-facade.js';
import { defineTool } from '../tool.js';

export const ACTIVATABLE_PLANS = ['beta_esim_activation'] as const;

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
  outputSchema: {
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
  },
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
    if (!activation) throw new AppError('internal', 'activation is not wired');
    const result = await activation.activateEsim(caller, { plan_id: args.plan_id ?? 'beta_esim_activation' });
    const text = [result.message, ...(result.invoice_url ? [`Invoice: ${result.invoice_url}`] : []), ...result.next_steps.map((s) => `- ${s}`)].join('\n');
    return { structured: result, text };
  },
});
