// Runs the local Stripe stand-in on its own: `tsx src/local/stripe/cli.ts`.
// Settings come from the environment (the one place besides src/config.ts that reads it, since
// this runs without the app): LOCAL_STRIPE_PORT (default 12111), LOCAL_STRIPE_WEBHOOK_URL,
// STRIPE_WEBHOOK_SECRET.
import { pino } from 'pino';
import { startLocalStripe } from './index.js';

const portText = process.env.LOCAL_STRIPE_PORT?.trim() || '12111';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`LOCAL_STRIPE_PORT must be a port number (0-65535), got "${portText}"`);
  process.exit(1);
}
const webhookUrl = process.env.LOCAL_STRIPE_WEBHOOK_URL?.trim() || undefined;
const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET?.trim() || undefined;

const logger = pino({ level: process.env.LOG_LEVEL?.trim() || 'info' }, pino.destination(2));
const stripe = await startLocalStripe({ port, webhookUrl, webhookSecret, logger });

console.log(`Local Stripe listening at ${stripe.url}
  STRIPE_SECRET_KEY=${stripe.secretKey}   (any key starting with sk_test_ is accepted)
  STRIPE_WEBHOOK_SECRET=${stripe.webhookSecret}
  webhooks: ${webhookUrl ?? 'not delivered (set LOCAL_STRIPE_WEBHOOK_URL, e.g. http://127.0.0.1:3000/webhooks/stripe)'}
Point the SDK at it: new Stripe(key, { host: '${stripe.host}', port: ${stripe.port}, protocol: 'http' })`);

const shutdown = () => {
  void stripe.close().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
