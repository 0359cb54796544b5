// activate_esim, from the user's state: register → invoice (awaiting_payment) → queued (position,
// ETA) → activating → active | failed. Answers with facts; the MCP tool words them. The LPA code and
// ICCID never leave this service.
import type { BillingService } from '../billing/billing-service.js';
import type { InvoiceRow } from '../billing/invoice-store.js';
import type { Database } from '../db/database.js';
import { AppError, notFound } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import type { RegistrationService } from '../identity/registration.js';
import type { User } from '../identity/user-store.js';
import { maskEmail, type Logger } from '../logger.js';
import { activationStore, type Activation } from './activation-store.js';
import { estimatedWaitMinutes } from './eta.js';
import { NO_ACTIVATION } from './status.js';

export const publicActivationId = (id: number) => `act_${id}`;

/** Postgres: a unique index refused the row. */
const UNIQUE_VIOLATION = '23505';

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

/** An amount in whole cents of `currency` (ISO 4217, lower case as Stripe writes it). */
export interface Amount {
  cents: number;
  currency: string;
}

/** Where the user's activation stands: what the assistant is told, as facts. */
export type ActivationState = {
  /** The public id (act_…). */
  activationId: string;
  /** Where the invoice and the QR code go. */
  email: string;
} & (
  | {
      status: 'awaiting_payment';
      /** The open invoice's page; undefined when there is none to pay right now (activate_esim makes one). */
      invoiceUrl: string | undefined;
      amountDue: Amount;
    }
  | { status: 'queued'; queuePosition: number; estimatedWaitMinutes: number }
  | { status: 'activating' }
  | { status: 'active'; phoneNumber: string | undefined }
  | { status: 'failed'; amountPaid: Amount }
);

/** A status read for a user who never started an activation. */
export interface NoActivation {
  status: typeof NO_ACTIVATION;
  email: string;
}

export interface Requeued {
  activation: Activation;
  standing: QueueStanding;
}

export class ActivationService {
  constructor(
    private readonly deps: {
      db: Database;
      registration: RegistrationService;
      billing: BillingService;
      limit: number;
      /** Price of a plan, in US cents (what a failed activation's user paid). */
      priceCents(planId: string): number;
      /** An activation joined the queue (after commit): wake the worker. */
      onQueued(): void;
      logger: Logger;
    },
  ) {}

  async activateEsim(caller: Caller, input: { plan_id: string }): Promise<ActivationState> {
    const { db, registration, billing } = this.deps;
    const user = await registration.register(caller);
    let activation = await activationStore.currentForUser(db, user.id);
    if (!activation) activation = await activationStore.createAwaitingPayment(db, user.id, input.plan_id);
    if (activation.status === 'awaiting_payment') {
      const { invoice, paid } = await billing.invoiceFor(user, activation);
      if (!paid) return this.awaitingPayment(activation, user, invoice);
      activation = (await activationStore.byId(db, activation.id))!;
    }
    return this.stateOf(activation, user);
  }

  /**
   * The read-only twin of activateEsim: where the user's activation stands. Registers the user as
   * every signed-in call does, but starts no activation and creates no invoice; the only outside
   * call is activateEsim's bounded "I paid" look-up at Stripe for an open invoice.
   */
  async activationStatus(caller: Caller): Promise<ActivationState | NoActivation> {
    const { db, registration, billing } = this.deps;
    const user = await registration.register(caller);
    let activation = await activationStore.currentForUser(db, user.id);
    if (!activation) return { status: NO_ACTIVATION, email: user.email };
    if (activation.status === 'awaiting_payment') {
      const { invoice, paid } = await billing.paymentStatus(activation);
      if (!paid) return this.awaitingPayment(activation, user, invoice);
      activation = (await activationStore.byId(db, activation.id))!;
    }
    return this.stateOf(activation, user);
  }

  /** An activation still to be paid: its open invoice's page, if there is one to pay now, and the amount. */
  private awaitingPayment(activation: Activation, user: User, invoice: InvoiceRow | undefined): ActivationState {
    return {
      status: 'awaiting_payment',
      activationId: publicActivationId(activation.id),
      email: user.email,
      invoiceUrl: invoice?.status === 'open' ? (invoice.hosted_invoice_url ?? undefined) : undefined,
      amountDue: invoice
        ? { cents: invoice.amount_cents, currency: invoice.currency }
        : { cents: this.deps.priceCents(activation.plan_id), currency: 'usd' },
    };
  }

  /**
   * An operator retries failed activation `id` (the user paid; the carrier refused): a new
   * activation for the same user and payment joins the end of the queue.
   */
  async requeueFailed(id: number): Promise<Requeued> {
    let requeued: Activation | undefined;
    try {
      requeued = await this.deps.db.withTransaction((tx) => activationStore.requeueFailed(tx, id));
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new AppError('conflict', 'This user already has an activation in progress or active.');
      }
      throw err;
    }
    if (!requeued) throw notFound(`No failed activation ${publicActivationId(id)}.`);
    this.deps.onQueued();
    return { activation: requeued, standing: await this.standing(requeued) };
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

  private async stateOf(a: Activation, user: User): Promise<ActivationState> {
    const facts = { activationId: publicActivationId(a.id), email: user.email };
    switch (a.status) {
      case 'queued': {
        const { position, estimatedWaitMinutes: wait } = await this.standing(a);
        if (wait > 0) {
          this.deps.logger.info(
            { activationId: a.id, uid: user.firebase_uid, email: maskEmail(user.email), position, eta: wait },
            `[RATE LIMITED] UID: ${user.firebase_uid} | Email: ${maskEmail(user.email)} | Wait: ${wait}min | Queue Pos: ${position}`,
          );
        }
        return { status: 'queued', ...facts, queuePosition: position, estimatedWaitMinutes: wait };
      }
      case 'activating':
        return { status: 'activating', ...facts };
      case 'active':
        return { status: 'active', ...facts, phoneNumber: a.phone_number ?? undefined };
      case 'failed':
        return { status: 'failed', ...facts, amountPaid: { cents: this.deps.priceCents(a.plan_id), currency: 'usd' } };
      default:
        throw new Error(`unexpected activation status ${a.status}`);
    }
  }
}
