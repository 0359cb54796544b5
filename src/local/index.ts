// Starts the local stand-ins the configuration asks for and answers, for every integration, where
// the service reaches it: the stand-in's address and keys, or the real service's from the config.
// The pages a user is sent to (the hosted invoice page, the mailbox) are served on the service's
// own port, and with a state folder the stand-ins keep their records there: a link handed out
// before a restart still works after it.
import type { Express } from 'express';
import type { Integrations } from '../config.js';
import type { Logger } from '../logger.js';
import { sharedLocalFirebase, type LocalFirebase } from './firebase/server.js';
import { startLocalOxio, type LocalOxio } from './oxio/index.js';
import { createMailboxRouter } from './smtp/mailbox.js';
import { startLocalSmtp, type LocalSmtp } from './smtp/server.js';
import { openStateFolder, type StateFolder } from './state.js';
import { startLocalStripe, type LocalStripe } from './stripe/index.js';

export interface LocalStandIns {
  firebase?: LocalFirebase;
  stripe?: LocalStripe;
  oxio?: LocalOxio;
  smtp?: LocalSmtp;
}

export interface Endpoints {
  stripe: { secretKey: string; webhookSecret: string; endpoint?: { host: string; port: number; protocol: 'http' } };
  oxio: { baseUrl: string; apiKey: string; authToken: string };
  smtpUrl: string;
}

/** Where the service serves the local Stripe's hosted invoice pages (`<base>/local/stripe/i/<invoice id>`). */
export const LOCAL_STRIPE_PAGES_PATH = '/local/stripe';
/** Where the service serves the local SMTP's mailbox. */
export const LOCAL_MAILBOX_PATH = '/local/mailbox';

export interface StandIns {
  /** The stand-ins in use: started here, or shared by the caller. */
  readonly running: LocalStandIns;
  readonly endpoints: Endpoints;
  /** The state folder the stand-ins started here keep their records in; null: in memory. */
  readonly stateDir: string | null;
  /**
   * The service listens: a Stripe stand-in started here delivers its events to `webhookUrl` and
   * points its hosted invoice links at `baseUrl` (the service's public origin).
   */
  listening(o: { webhookUrl: string; baseUrl: string }): void;
  /** The hosted invoice pages and the mailbox, on the service's own routes, when those stand-ins run. */
  mount(app: Express): void;
  /** Log fields naming each stand-in's address. */
  describe(baseUrl: string): Record<string, string>;
  /** Closes the stand-ins started here (shared ones belong to the caller); their state is saved first. */
  close(): Promise<void>;
}

export interface StandInOptions {
  logger: Logger;
  /** Shared stand-ins (multi-instance tests) are used instead of starting new ones, and not closed here. */
  shared?: LocalStandIns;
  /**
   * A folder of this instance's own where the stand-ins started here keep invoices, lines and mail
   * across restarts (locked while they run). Unset: in memory only.
   */
  stateDir?: string;
}

export async function startLocalStandIns(integrations: Integrations, o: StandInOptions): Promise<StandIns> {
  const { logger } = o;
  const running: LocalStandIns = { ...o.shared };
  const owned: Array<{ close(): Promise<void> }> = [];
  const own = <T extends { close(): Promise<void> }>(standIn: T): T => {
    owned.push(standIn);
    return standIn;
  };
  const { firebase, stripe, oxio, smtp } = integrations;
  const starts = {
    stripe: stripe.kind === 'local' && !running.stripe,
    oxio: oxio.kind === 'local' && !running.oxio,
    smtp: smtp.kind === 'local' && !running.smtp,
  };
  // Only a stand-in started here keeps state, so only then is the folder taken.
  const folder: StateFolder | null = o.stateDir && (starts.stripe || starts.oxio || starts.smtp) ? openStateFolder(o.stateDir, logger) : null;
  const stateDir = folder?.dir;
  const closeOwned = async () => {
    for (const s of owned) await s.close().catch((err) => logger.warn({ err }, 'closing a local stand-in failed'));
    folder?.release();
  };

  let endpoints: Endpoints;
  try {
    if (firebase.kind === 'local') {
      // firebase-admin finds the emulator through the process environment.
      if (firebase.emulatorHost) process.env.FIREBASE_AUTH_EMULATOR_HOST = firebase.emulatorHost;
      else running.firebase ??= await sharedLocalFirebase();
    }
    endpoints = {
      stripe:
        stripe.kind === 'real'
          ? { secretKey: stripe.secretKey, webhookSecret: stripe.webhookSecret }
          : stripeEndpoint((running.stripe ??= own(await startLocalStripe({ port: stripe.port, webhookSecret: stripe.webhookSecret, logger, stateDir })))),
      oxio:
        oxio.kind === 'real'
          ? { baseUrl: oxio.baseUrl, apiKey: oxio.apiKey, authToken: oxio.authToken }
          : oxioEndpoint(
              (running.oxio ??= own(
                await startLocalOxio({
                  port: oxio.port,
                  latencyMs: oxio.latencyMs,
                  failureRate: oxio.failureRate,
                  initiatingMs: oxio.initiatingMs,
                  logger,
                  stateDir,
                }),
              )),
            ),
      smtpUrl: smtp.kind === 'real' ? smtp.url : (running.smtp ??= own(await startLocalSmtp({ port: smtp.port, logger, stateDir }))).url,
    };
  } catch (err) {
    await closeOwned();
    throw err;
  }
  const ownsStripe = running.stripe !== undefined && owned.includes(running.stripe);

  return {
    running,
    endpoints,
    stateDir: stateDir ?? null,
    listening({ webhookUrl, baseUrl }) {
      if (!ownsStripe) return;
      running.stripe!.setWebhookUrl(webhookUrl);
      running.stripe!.setPublicBaseUrl(`${baseUrl.replace(/\/+$/, '')}${LOCAL_STRIPE_PAGES_PATH}`);
    },
    mount(app) {
      // Only when a local Stripe runs: with real Stripe there is no such page here.
      if (running.stripe) app.use(LOCAL_STRIPE_PAGES_PATH, running.stripe.hostedPages);
      if (running.smtp) app.use(LOCAL_MAILBOX_PATH, createMailboxRouter(running.smtp));
    },
    describe(baseUrl) {
      return {
        ...(running.stripe ? { localStripe: running.stripe.url } : {}),
        ...(ownsStripe ? { invoicePages: `${baseUrl}${LOCAL_STRIPE_PAGES_PATH}/i/` } : {}),
        ...(running.oxio ? { localOxio: running.oxio.url } : {}),
        ...(running.smtp ? { localSmtp: running.smtp.url, mailbox: `${baseUrl}${LOCAL_MAILBOX_PATH}` } : {}),
        ...(stateDir ? { localState: stateDir } : {}),
      };
    },
    close: closeOwned,
  };
}

const stripeEndpoint = (s: LocalStripe): Endpoints['stripe'] => ({
  secretKey: s.secretKey,
  webhookSecret: s.webhookSecret,
  endpoint: { host: s.host, port: s.port, protocol: 'http' },
});

const oxioEndpoint = (o: LocalOxio): Endpoints['oxio'] => ({ baseUrl: o.url, apiKey: o.apiKey, authToken: o.authToken });
