// Starts the local stand-ins the configuration asks for and answers, for every integration, where
// the service reaches it: the stand-in's address and keys, or the real service's from the config.
import type { Express } from 'express';
import type { Integrations } from '../config.js';
import type { Logger } from '../logger.js';
import { sharedLocalFirebase, type LocalFirebase } from './firebase/server.js';
import { startLocalOxio, type LocalOxio } from './oxio/index.js';
import { createMailboxRouter } from './smtp/mailbox.js';
import { startLocalSmtp, type LocalSmtp } from './smtp/server.js';
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

export interface StandIns {
  /** The stand-ins in use: started here, or shared by the caller. */
  readonly running: LocalStandIns;
  readonly endpoints: Endpoints;
  /** The service listens at `webhookUrl`: a Stripe stand-in started here delivers its events there. */
  listening(webhookUrl: string): void;
  /** The mailbox pages of the SMTP stand-in, when it runs. */
  mount(app: Express): void;
  /** Log fields naming each stand-in's address. */
  describe(baseUrl: string): Record<string, string>;
  /** Closes the stand-ins started here (shared ones belong to the caller). */
  close(): Promise<void>;
}

/** `shared` stand-ins (multi-instance tests) are used instead of starting new ones, and not closed here. */
export async function startLocalStandIns(integrations: Integrations, o: { logger: Logger; shared?: LocalStandIns }): Promise<StandIns> {
  const { logger } = o;
  const running: LocalStandIns = { ...o.shared };
  const owned: Array<{ close(): Promise<void> }> = [];
  const own = <T extends { close(): Promise<void> }>(standIn: T): T => {
    owned.push(standIn);
    return standIn;
  };
  const { firebase, stripe, oxio, smtp } = integrations;

  if (firebase.kind === 'local') {
    // firebase-admin finds the emulator through the process environment.
    if (firebase.emulatorHost) process.env.FIREBASE_AUTH_EMULATOR_HOST = firebase.emulatorHost;
    else running.firebase ??= await sharedLocalFirebase();
  }
  const endpoints: Endpoints = {
    stripe:
      stripe.kind === 'real'
        ? { secretKey: stripe.secretKey, webhookSecret: stripe.webhookSecret }
        : stripeEndpoint((running.stripe ??= own(await startLocalStripe({ port: stripe.port, webhookSecret: stripe.webhookSecret, logger })))),
    oxio:
      oxio.kind === 'real'
        ? { baseUrl: oxio.baseUrl, apiKey: oxio.apiKey, authToken: oxio.authToken }
        : oxioEndpoint(
            (running.oxio ??= own(
              await startLocalOxio({ port: oxio.port, latencyMs: oxio.latencyMs, failureRate: oxio.failureRate, initiatingMs: oxio.initiatingMs, logger }),
            )),
          ),
    smtpUrl: smtp.kind === 'real' ? smtp.url : (running.smtp ??= own(await startLocalSmtp({ port: smtp.port, logger }))).url,
  };

  return {
    running,
    endpoints,
    listening(webhookUrl) {
      if (running.stripe && owned.includes(running.stripe)) running.stripe.setWebhookUrl(webhookUrl);
    },
    mount(app) {
      if (running.smtp) app.use('/local/mailbox', createMailboxRouter(running.smtp));
    },
    describe(baseUrl) {
      return {
        ...(running.stripe ? { localStripe: running.stripe.url } : {}),
        ...(running.oxio ? { localOxio: running.oxio.url } : {}),
        ...(running.smtp ? { localSmtp: running.smtp.url, mailbox: `${baseUrl}/local/mailbox` } : {}),
      };
    },
    async close() {
      for (const s of owned) await s.close().catch(() => {});
    },
  };
}

const stripeEndpoint = (s: LocalStripe): Endpoints['stripe'] => ({
  secretKey: s.secretKey,
  webhookSecret: s.webhookSecret,
  endpoint: { host: s.host, port: s.port, protocol: 'http' },
});

const oxioEndpoint = (o: LocalOxio): Endpoints['oxio'] => ({ baseUrl: o.url, apiKey: o.apiKey, authToken: o.authToken });
