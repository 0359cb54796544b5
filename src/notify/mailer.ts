// Sends mail over SMTP with nodemailer. The same code path serves a real relay (SMTP_URL) and the
// local stand-in (src/local/smtp), which speaks plain SMTP on the loopback interface.
import { createTransport, type SendMailOptions, type SMTPTransportOptions } from 'nodemailer';
import type { Logger } from '../logger.js';

export interface Mailer {
  send(msg: SendMailOptions): Promise<{ messageId: string }>;
  /** The longest one send() may take; it fails (outcome unknown) after that. */
  readonly sendTimeoutMs: number;
  close(): void;
}

/**
 * How long to wait for the relay. A relay may legitimately take minutes: RFC 5321 §4.5.3.2 gives
 * the greeting 5 min, MAIL and RCPT 5 min each, DATA 2 min, each data block 3 min and the reply to
 * the final "." 10 min. A client that gives up sooner sends the message again while the first copy
 * is being accepted.
 */
export interface SmtpTimeouts {
  dnsMs: number;
  /** TCP connect plus the greeting (nodemailer counts the greeting within this time). */
  connectionMs: number;
  greetingMs: number;
  /** Inactivity on the connection: one timer serves every command, so the longest wait (10 min). */
  socketMs: number;
  /** The whole message: the sum of the RFC waits (5+5+5+2+3+10 min). */
  sendMs: number;
}

export const RFC5321_TIMEOUTS: SmtpTimeouts = {
  dnsMs: 30_000,
  connectionMs: 6 * 60_000,
  greetingMs: 5 * 60_000,
  socketMs: 10 * 60_000,
  sendMs: 30 * 60_000,
};

export interface MailerOptions {
  /**
   * `smtp://user:pass@host:587` (STARTTLS) or `smtps://user:pass@host:465`. Query parameters are
   * nodemailer options and win over the defaults here, e.g. `?requireTLS=false` for a relay on a
   * private network that offers no TLS.
   */
  smtpUrl: string;
  logger: Logger;
  /** RFC 5321 values by default (SMTP_*_TIMEOUT_MS settings). */
  timeouts?: Partial<SmtpTimeouts>;
}

/**
 * The send failed after the relay may already have taken the message: the connection broke or
 * went silent without a reply (possibly after the final "."), or the send ran out of time. Sending
 * it again at once could deliver a second copy.
 */
export class MailOutcomeUnknownError extends Error {
  readonly code: string | undefined;
  constructor(cause: Error & { code?: unknown }) {
    super(`outcome unknown: ${cause.message}`, { cause });
    this.name = 'MailOutcomeUnknownError';
    this.code = typeof cause.code === 'string' ? cause.code : undefined;
  }
}

// Failures that come before any mail transaction could start: nothing reached the relay.
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** True when the relay may have accepted the message although the send failed (exported for tests). */
export function isOutcomeUnknown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; responseCode?: unknown; timeoutType?: unknown; originalCode?: unknown };
  // The relay answered with a 4xx/5xx reply: it did not take the message.
  if (typeof e.responseCode === 'number') return false;
  switch (e.code) {
    case 'EABORT':
      return true;
    case 'ETIMEDOUT':
      return !SETUP_TIMEOUTS.has(String(e.timeoutType));
    case 'ECONNECTION':
      return true;
    case 'ESOCKET':
      return !NEVER_CONNECTED.has(String(e.originalCode));
    default:
      return false;
  }
}

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The transport settings for an SMTP URL (exported for tests). */
export function smtpTransportOptions(smtpUrl: string, timeouts: Partial<SmtpTimeouts> = {}): SMTPTransportOptions {
  const t = { ...RFC5321_TIMEOUTS, ...timeouts };
  const url = new URL(smtpUrl);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`SMTP URL must start with smtp:// or smtps:// (got ${url.protocol}//)`);
  }
  // The e-mail carries an eSIM activation code: off this host, insist on STARTTLS rather than
  // silently falling back to plain text. On the loopback interface the traffic never leaves the
  // host, and the local stand-in offers no STARTTLS.
  const tls: Partial<SMTPTransportOptions> =
    url.protocol === 'smtps:' ? {} : isLoopback(url.hostname) ? { ignoreTLS: true } : { requireTLS: true };
  return {
    url: smtpUrl,
    connectionTimeout: t.connectionMs,
    greetingTimeout: t.greetingMs,
    socketTimeout: t.socketMs,
    dnsTimeout: t.dnsMs,
    ...tls,
    // Messages are built from data only; never let content pull in local files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export function createMailer({ smtpUrl, logger, timeouts = {} }: MailerOptions): Mailer {
  const sendTimeoutMs = timeouts.sendMs ?? RFC5321_TIMEOUTS.sendMs;
  // A pool keeps the SMTP connection (TCP, TLS, EHLO, AUTH) between messages; a broken one is replaced.
  const transport = createTransport({ ...smtpTransportOptions(smtpUrl, timeouts), pool: true, maxConnections: 2, maxMessages: 100 });
  const log = logger.child({ component: 'mailer' });

  return {
    sendTimeoutMs,
    async send(msg) {
      // The deadline bounds the whole send (queue, connect, every reply), so that a caller can
      // hold the message for longer than any send may take.
      const signal = AbortSignal.timeout(sendTimeoutMs);
      try {
        const info = await transport.sendMail({ ...msg, signal } as SendMailOptions);
        log.debug({ messageId: info.messageId, response: info.response }, 'mail accepted by SMTP server');
        return { messageId: info.messageId };
      } catch (err) {
        throw isOutcomeUnknown(err) ? new MailOutcomeUnknownError(err as Error) : err;
      }
    },
    close() {
      transport.close();
    },
  };
}
