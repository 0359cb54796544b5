// The only reader of process.env. Every setting is declared here, validated once at start, and
// frozen; a bad or missing value stops the start with one message naming every offending variable.
import { z } from 'zod';

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyToUndefined, z.url().optional());
const int = (def: number, min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(def));
const bool = (def: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );
const number = (def: number, min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().min(min).max(max).default(def));

const schema = z
  .object({
    NODE_ENV: z.preprocess(emptyToUndefined, z.enum(['development', 'test', 'production']).default('development')),
    PORT: int(3000, 0, 65535),
    HOST: z.preprocess(emptyToUndefined, z.string().default('0.0.0.0')),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    PUBLIC_BASE_URL: optionalUrl,
    ALLOWED_ORIGINS: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .default('')
        .transform((v) =>
          v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.url({ message: 'must be a comma-separated list of origins like https://chatgpt.com' }))),
    ),
    // How many proxies in front append to X-Forwarded-For: `true` is the one load balancer, a number
    // that many hops, `false` none. The client writes the left-most entries, so they are never trusted.
    TRUST_PROXY: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .default('false')
        .transform((raw, ctx) => {
          const v = raw.trim().toLowerCase();
          if (v === 'true' || v === 'yes') return 1;
          if (v === 'false' || v === 'no') return 0;
          if (/^\d{1,2}$/.test(v) && Number(v) <= 10) return Number(v);
          ctx.addIssue({ code: 'custom', message: 'must be true, false or the number of proxies in front (0-10)' });
          return z.NEVER;
        }),
    ),
    // An MCP request not answered by then gets a JSON-RPC error (its work may still finish, and every
    // tool is safe to call again); well above the slowest tool call, a few Stripe calls in a row.
    MCP_REQUEST_TIMEOUT_MS: int(60_000, 100, 600_000),
    // On SIGTERM, how long requests in flight may still finish before they are answered with an
    // error; below the 30 s after which the process exits regardless.
    SHUTDOWN_GRACE_MS: int(10_000, 0, 25_000),

    DATABASE_URL: optionalUrl,
    DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
    DATABASE_POOL_SIZE: int(10, 1, 200),

    CATALOG_FILE: optionalString,

    ACTIVATIONS_PER_HOUR: int(100, 1, 100_000),
    ADMIN_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
    USER_CALLS_PER_MINUTE: int(60, 1, 100_000),
    WORKER_POLL_MS: int(5000, 50, 600_000),
    WORKER_CONCURRENCY: int(4, 1, 64),
    ACTIVATION_LEASE_SECONDS: int(120, 1, 3600),
    ACTIVATION_MAX_ATTEMPTS: int(8, 1, 100),
    ACTIVATION_RETRY_BASE_SECONDS: int(5, 1, 3600),

    STRIPE_SECRET_KEY: z.preprocess(
      emptyToUndefined,
      z.string().regex(/^(sk|rk)_(test|live)_/, 'must be a Stripe secret key (sk_test_… or sk_live_…)').optional(),
    ),
    STRIPE_WEBHOOK_SECRET: z.preprocess(
      emptyToUndefined,
      z.string().regex(/^whsec_/, 'must be a Stripe webhook signing secret (whsec_…)').optional(),
    ),
    STRIPE_INVOICE_DUE_DAYS: int(7, 1, 365),
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: int(300, 10, 3600),
    STRIPE_TIMEOUT_MS: int(10_000, 100, 120_000),
    STRIPE_INVOICE_LOOKUP_INTERVAL_SECONDS: int(5, 0, 3600),
    LOCAL_STRIPE_PORT: int(0, 0, 65535),

    OXIO_BASE_URL: optionalUrl,
    OXIO_API_KEY: optionalString,
    OXIO_AUTH_TOKEN: optionalString,
    OXIO_BRAND_ID: optionalString,
    OXIO_TIMEOUT_MS: int(15_000, 100, 120_000),
    OXIO_MAX_RETRIES: int(4, 0, 20),
    OXIO_POLL_INTERVAL_MS: int(2000, 10, 60_000),
    OXIO_POLL_TIMEOUT_MS: int(15 * 60_000, 100, 24 * 3600_000),
    LOCAL_OXIO_PORT: int(0, 0, 65535),
    LOCAL_OXIO_LATENCY_MS: int(20, 0, 120_000),
    LOCAL_OXIO_FAILURE_RATE: number(0, 0, 1),
    LOCAL_OXIO_INITIATING_MS: int(0, 0, 3_600_000),

    SMTP_URL: optionalUrl,
    MAIL_FROM: z.preprocess(emptyToUndefined, z.string().default('DOTM <no-reply@dotm.local>')),
    MAIL_MAX_ATTEMPTS: int(20, 1, 1000),
    // SMTP waits, RFC 5321 §4.5.3.2 by default (see src/notify/mailer.ts): the connection time
    // includes the 5-minute greeting; one inactivity timer serves every command, so it is the
    // longest wait (10 min for the reply to the final "."); the send deadline is their sum.
    SMTP_DNS_TIMEOUT_MS: int(30_000, 100, 600_000),
    SMTP_CONNECTION_TIMEOUT_MS: int(360_000, 100, 3_600_000),
    SMTP_GREETING_TIMEOUT_MS: int(300_000, 100, 3_600_000),
    SMTP_SOCKET_TIMEOUT_MS: int(600_000, 100, 3_600_000),
    SMTP_SEND_TIMEOUT_MS: int(1_800_000, 100, 7_200_000),
    LOCAL_SMTP_PORT: int(0, 0, 65535),
    // Where the local Stripe, OXIO and SMTP stand-ins keep invoices, lines and mail, so the links
    // they hand out survive a restart. Default: beside the embedded database (see localStateDir).
    LOCAL_STATE_DIR: optionalString,

    FIREBASE_PROJECT_ID: optionalString,
    FIREBASE_AUTH_EMULATOR_HOST: optionalString,
    FIREBASE_WEB_API_KEY: optionalString,
    FIREBASE_AUTH_DOMAIN: optionalString,

    OAUTH_SIGNING_KEY: optionalString,
    ACCESS_TOKEN_TTL_SECONDS: int(3600, 60, 86_400),
    REFRESH_TOKEN_TTL_SECONDS: int(30 * 86_400, 3600, 365 * 86_400),
    AUTH_CODE_TTL_SECONDS: int(300, 10, 600),
    // Per address (IPv6: per /64), so nobody spends a limit for someone else: the pages a browser
    // opens before sign-in; failed /token and /revoke requests (one carrying a code or refresh token
    // we issued always passes, counted per user by USER_CALLS_PER_MINUTE); registrations. An
    // assistant's users all arrive from its servers: the registration limit must fit one assistant.
    OAUTH_SIGN_IN_PER_IP_PER_MINUTE: int(60, 1, 100_000),
    OAUTH_TOKEN_FAILURES_PER_IP_PER_MINUTE: int(600, 1, 1_000_000),
    OAUTH_REGISTRATIONS_PER_IP_PER_MINUTE: int(300, 1, 100_000),
    // Client ID Metadata Documents (a client_id that is an https URL): the fetch's deadline and size
    // cap, how long a document is used whatever its caching headers say (bounds), how long a failed
    // look-up is answered from memory, and fetches one address may start per minute.
    OAUTH_CLIENT_METADATA_TIMEOUT_MS: int(5000, 100, 60_000),
    OAUTH_CLIENT_METADATA_MAX_BYTES: int(5120, 1024, 65_536),
    OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS: int(60, 0, 86_400),
    OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS: int(86_400, 60, 7 * 86_400),
    OAUTH_CLIENT_METADATA_FAILURE_CACHE_SECONDS: int(30, 0, 600),
    OAUTH_CLIENT_METADATA_FETCHES_PER_IP_PER_MINUTE: int(30, 1, 100_000),
    // Node reads it at start to trust more certificate authorities; outside production the metadata
    // fetch also takes it from here, so a service started in-process can trust a local CA.
    NODE_EXTRA_CA_CERTS: optionalString,
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV !== 'production') return;
    const need = (key: keyof typeof c, why: string) => {
      if (c[key] === undefined || c[key] === '') ctx.addIssue({ code: 'custom', path: [key], message: why });
    };
    need('DATABASE_URL', 'required in production (the embedded database is for local use)');
    need('PUBLIC_BASE_URL', 'required in production (used for OAuth issuer and links)');
    need('ADMIN_TOKEN', 'required in production');
    need('STRIPE_SECRET_KEY', 'required in production (the local Stripe stand-in is refused)');
    need('STRIPE_WEBHOOK_SECRET', 'required in production');
    need('OXIO_BASE_URL', 'required in production (the local OXIO simulator is refused)');
    need('OXIO_API_KEY', 'required in production');
    need('OXIO_AUTH_TOKEN', 'required in production');
    need('SMTP_URL', 'required in production (the local SMTP stand-in is refused)');
    need('FIREBASE_PROJECT_ID', 'required in production');
    need('OAUTH_SIGNING_KEY', 'required in production (a persistent key for access tokens)');
    need('FIREBASE_WEB_API_KEY', 'required in production (the OAuth sign-in page signs users in with Firebase in the browser)');
    if (c.FIREBASE_AUTH_EMULATOR_HOST) {
      ctx.addIssue({
        code: 'custom',
        path: ['FIREBASE_AUTH_EMULATOR_HOST'],
        message: 'must not be set in production (emulator tokens are unsigned)',
      });
    }
  })
  .superRefine((c, ctx) => {
    if (c.STRIPE_SECRET_KEY && !c.STRIPE_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'required when STRIPE_SECRET_KEY is set' });
    }
    if (c.OXIO_BASE_URL && (!c.OXIO_API_KEY || !c.OXIO_AUTH_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: [!c.OXIO_API_KEY ? 'OXIO_API_KEY' : 'OXIO_AUTH_TOKEN'],
        message: 'required when OXIO_BASE_URL is set',
      });
    }
    if (c.OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS < c.OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS'], message: 'must not be below OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS' });
    }
  });

export type RawConfig = z.infer<typeof schema>;

/** Each external service: its local stand-in (settings for starting it) or the real one (its settings required). */
export interface Integrations {
  readonly stripe:
    | { readonly kind: 'local'; readonly port: number; readonly webhookSecret: string | undefined }
    | { readonly kind: 'real'; readonly secretKey: string; readonly webhookSecret: string };
  readonly oxio:
    | { readonly kind: 'local'; readonly port: number; readonly latencyMs: number; readonly failureRate: number; readonly initiatingMs: number }
    | { readonly kind: 'real'; readonly baseUrl: string; readonly apiKey: string; readonly authToken: string };
  readonly smtp: { readonly kind: 'local'; readonly port: number } | { readonly kind: 'real'; readonly url: string };
  /** Local: the in-process Auth emulator, or an emulator already running at `emulatorHost`. */
  readonly firebase: { readonly kind: 'local'; readonly emulatorHost: string | undefined } | { readonly kind: 'real' };
}

export interface Config extends RawConfig {
  /** Which integrations run against their local stand-ins. */
  readonly local: {
    readonly stripe: boolean;
    readonly oxio: boolean;
    readonly smtp: boolean;
    readonly firebase: boolean;
  };
  readonly integrations: Integrations;
  readonly firebaseProjectId: string;
  /**
   * The local stand-ins' state folder: LOCAL_STATE_DIR, else `<DATA_DIR>-local` beside the embedded
   * database's folder; with DATABASE_URL and no LOCAL_STATE_DIR none (in memory), so instances
   * sharing one PostgreSQL still start side by side without settings of their own.
   */
  readonly localStateDir: string | undefined;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError([...new Set(problems)]);
  }
  const c = parsed.data;
  const integrations = integrationsOf(c);
  const local = {
    stripe: integrations.stripe.kind === 'local',
    oxio: integrations.oxio.kind === 'local',
    smtp: integrations.smtp.kind === 'local',
    firebase: integrations.firebase.kind === 'local',
  };
  return Object.freeze({
    ...c,
    ALLOWED_ORIGINS: Object.freeze([...c.ALLOWED_ORIGINS]) as unknown as string[],
    local: Object.freeze(local),
    integrations,
    firebaseProjectId: c.FIREBASE_PROJECT_ID ?? 'dotm-local',
    localStateDir: c.LOCAL_STATE_DIR ?? (c.DATABASE_URL ? undefined : `${c.DATA_DIR.replace(/[\\/]+$/, '') || '.'}-local`),
  });
}

/** The schema's checks guarantee the companions of each real service's first setting. */
function integrationsOf(c: RawConfig): Integrations {
  const missing = (name: string): never => {
    throw new ConfigError([`${name}: required`]);
  };
  const integrations: Integrations = {
    stripe: c.STRIPE_SECRET_KEY
      ? { kind: 'real', secretKey: c.STRIPE_SECRET_KEY, webhookSecret: c.STRIPE_WEBHOOK_SECRET ?? missing('STRIPE_WEBHOOK_SECRET') }
      : { kind: 'local', port: c.LOCAL_STRIPE_PORT, webhookSecret: c.STRIPE_WEBHOOK_SECRET },
    oxio: c.OXIO_BASE_URL
      ? {
          kind: 'real',
          baseUrl: c.OXIO_BASE_URL,
          apiKey: c.OXIO_API_KEY ?? missing('OXIO_API_KEY'),
          authToken: c.OXIO_AUTH_TOKEN ?? missing('OXIO_AUTH_TOKEN'),
        }
      : {
          kind: 'local',
          port: c.LOCAL_OXIO_PORT,
          latencyMs: c.LOCAL_OXIO_LATENCY_MS,
          failureRate: c.LOCAL_OXIO_FAILURE_RATE,
          initiatingMs: c.LOCAL_OXIO_INITIATING_MS,
        },
    smtp: c.SMTP_URL ? { kind: 'real', url: c.SMTP_URL } : { kind: 'local', port: c.LOCAL_SMTP_PORT },
    firebase:
      !c.FIREBASE_PROJECT_ID || c.FIREBASE_AUTH_EMULATOR_HOST ? { kind: 'local', emulatorHost: c.FIREBASE_AUTH_EMULATOR_HOST } : { kind: 'real' },
  };
  return Object.freeze(integrations);
}
