// activate_esim, from the user's state: register → invoice (awaiting_payment) → queued (position,
// ETA) → activating → active | failed. The LPA code and ICCID never leave this service.
import type { BillingService } from '../billing/billing-service.js';
import type { Database } from '../db/database.js';
import type { Caller } from '../identity/caller.js';
import type { RegistrationService } from '../identity/registration.js';
import type { User } from '../identity/user-store.js';
import { maskEmail, type Logger } from '../logger.js';
import type { ActivateEsimResult, ActivationFacade } from '../mcp/activation-facade.js';
import { activationStore, type Activation } from './activation-store.js';
import { estimatedWaitMinutes } from './eta.js';

export const publicActivationId = (id: number) => `act_${id}`;

export interface RateLimitStats {
  current_hour_activations: number;
  max_per_hour: number;
  capacity_used_percentage: number;
  slots_available: number;
  estimated_wait_minutes: number;
  queue_length: number;
}

export interface QueueStanding {
  position: number;
  estimatedWaitMinutes: number;
}

export class ActivationService implements ActivationFacade {
  constructor(
    private readonly deps: {
      db: Database;
      registration: RegistrationService;
      billing: BillingService;
      limit: number;
      logger: Logger;
    },
  ) {}

  async activateEsim(caller: Caller, input: { plan_id: string }): Promise<ActivateEsimResult> {
    const { db, registration, billing } = this.deps;
    const user = await registration.register(caller);
    let activation = await activationStore.currentForUser(db, user.id);
    if (!activation) activation = await activationStore.createAwaitingPayment(db, user.id, input.plan_id);
    if (activation.status === 'awaiting_payment') {
      const { invoice, paid } = await billing.invoiceFor(user, activation);
      if (!paid) {
        return {
          status: 'awaiting_payment',
          activation_id: publicActivationId(activation.id),
          invoice_url: invoice.hosted_invoice_url ?? undefined,
          amount_due: (invoice.amount_cents / 100).toFixed(2),
          currency: invoice.currency,
          message: `I've sent a $${(invoice.amount_cents / 100).toFixed(2)} invoice for the eSIM Beta Activation to ${maskEmail(user.email)}. Pay it from the e-mail or at the link, and the activation starts automatically.`,
          next_steps: [
            'Open the invoice link (or the e-mail from Stripe) and pay $1.00.',
            'Payment is picked up automatically; then ask again for the activation status.',
            'The QR code to install the eSIM will arrive by e-mail once it is active.',
          ],
        };
      }
      activation = (await activationStore.byId(db, activation.id))!;
    }
    return this.answerFor(activation, user);
  }

  /** Position among queued activations and the wait, from the in-window start times. O(1) in queue size. */
  async standing(activation: Pick<Activation, 'queue_seq'>): Promise<QueueStanding> {
    const state = await activationStore.windowState(this.deps.db, this.deps.limit);
    const position = Math.max(1, (activation.queue_seq ?? 0) - state.admitted);
    return {
      position,
      estimatedWaitMinutes: estimatedWaitMinutes({ limit: this.deps.limit, startsInWindow: state.starts, now: state.now, position }),
    };
  }

  async stats(): Promise<RateLimitStats> {
    const { limit } = this.deps;
    const state = await activationStore.windowState(this.deps.db, limit);
    const used = state.starts.length;
    return {
      current_hour_activations: used,
      max_per_hour: limit,
      capacity_used_percentage: Math.round((used / limit) * 1000) / 10,
      slots_available: Math.max(0, limit - used),
      estimated_wait_minutes: estimatedWaitMinutes({ limit, startsInWindow: state.starts, now: state.now, position: state.queueLength + 1 }),
      queue_length: state.queueLength,
    };
  }

  private async answerFor(a: Activation, user: User): Promise<ActivateEsimResult> {
    const activation_id = publicActivationId(a.id);
    switch (a.status) {
      case 'queued': {
        const { position, estimatedWaitMinutes: wait } = await this.standing(a);
        if (wait > 0) {
          this.deps.logger.info(
            { activationId: a.id, uid: user.firebase_uid, email: maskEmail(user.email), position, eta: wait },
            `[RATE LIMITED] UID: ${user.firebase_uid} | Email: ${maskEmail(user.email)} | Wait: ${wait}min | Queue Pos: ${position}`,
          );
        }
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
          next_steps: ['Ask again in a minute for your phone number.', `The QR code will be e-mailed to ${maskEmail(user.email)}.`],
        };
      case 'active':
        return {
          status: 'active',
          activation_id,
          phone_number: a.phone_number ?? undefined,
          message: `Your eSIM is active! Phone: ${a.phone_number}. Check your e-mail (${maskEmail(user.email)}) for the QR code.`,
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
          message:
            'We could not activate your eSIM with the carrier. Your payment is safe and you will not be charged again: our team has been alerted and will retry the activation or refund your $1.00.',
          next_steps: ['No action needed; we will e-mail you when it is resolved.', 'Ask again later for the status.'],
        };
      default:
        throw new Error(`unexpected activation status ${a.status}`);
    }
  }
}
