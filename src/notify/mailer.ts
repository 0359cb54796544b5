// Sends mail over SMTP with nodemailer. The same code path serves a real relay (SMTP_URL) and the
// local stand-in (src/local/smtp), which speaks plain SMTP on the loopback interface.
import { createTransport, type SendMailOptions, type SMTPTransportOptions } from 'nodemailer';
import type { Logger } from '../logger.js';

export interface Mailer {
  send(msg: SendMailOptions): Promise<{ messageId: string }>;
  close(): void;
}

export interface MailerOptions {
  /**
   * `smtp://user:pass@host:587` (STARTTLS) or `smtps://user:pass@host:465`. Query parameters are
   * nodemailer options and win over the defaults here, e.g. `?requireTLS=false` for a relay on a
   * private network that offers no TLS.
   */
  smtpUrl: string;
  logger: Logger;
  /** Connection, greeting, DNS and socket inactivity limits, each. */
  timeoutMs?: number;
}

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The transport settings for an SMTP URL (exported for tests). */
export function smtpTransportOptions(smtpUrl: string, timeoutMs = 10_000): SMTPTransportOptions {
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
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    ...tls,
    // Messages are built from data only; never let content pull in local files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export function createMailer({ smtpUrl, logger, timeoutMs = 10_000 }: MailerOptions): Mailer {
  // A pool keeps the SMTP connection (TCP, TLS, EHLO, AUTH) between messages; a broken one is replaced.
  const transport = createTransport({ ...smtpTransportOptions(smtpUrl, timeoutMs), pool: true, maxConnections: 2, maxMessages: 100 });
  const log = logger.child({ component: 'mailer' });

  return {
    async send(msg) {
      const info = await transport.sendMail(msg);
      log.debug({ messageId: info.messageId, response: info.response }, 'mail accepted by SMTP server');
      return { messageId: info.messageId };
    },
    close() {
      transport.close();
    },
  };
}
