// Local SMTP stand-in: a real SMTP server (plain, no TLS, no auth) on the loopback interface that
// keeps the last messages in memory for the mailbox page and tests. `setDown(true)` answers 421
// to everything, so the outbox's retry path can be exercised end to end; `setReplyDelay(ms)` keeps
// each message but answers its final "." only after `ms`, like a slow relay (content scanning).
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerEnvelope } from 'smtp-server';
import type { Logger } from '../../logger.js';

export interface StoredAttachment {
  filename: string | undefined;
  contentType: string;
  /** Content-ID without angle brackets, for `cid:` references. */
  cid: string | undefined;
  /** 'inline' or 'attachment' as the message said, when it said. */
  disposition: string | undefined;
  size: number;
  content: Buffer;
}

export interface StoredMail {
  id: string;
  /** The From header as text. */
  from: string;
  /** Recipient addresses from the To header (the envelope's when the header has none). */
  to: string[];
  envelope: { from: string | undefined; to: string[] };
  subject: string;
  date: Date;
  receivedAt: Date;
  messageId: string | undefined;
  text: string;
  /** The HTML body as sent, `cid:` links untouched; null when the message has no HTML part. */
  html: string | null;
  attachments: StoredAttachment[];
}

export interface LocalSmtp {
  readonly host: string;
  readonly port: number;
  /** `smtp://127.0.0.1:PORT`, ready for SMTP_URL or createMailer. */
  readonly url: string;
  /** Oldest first. */
  messages(): StoredMail[];
  message(id: string): StoredMail | undefined;
  /** Resolves with the first message (already received or arriving) that matches. */
  waitFor(pred: (m: StoredMail) => boolean, timeoutMs?: number): Promise<StoredMail>;
  /** While down, every connection and transaction is refused with 421 (service not available). */
  setDown(down: boolean): void;
  /** Each message is kept at once, but the reply to its final "." waits this long (0: none). */
  setReplyDelay(ms: number): void;
  clear(): void;
  close(): Promise<void>;
}

export interface LocalSmtpOptions {
  port?: number;
  host?: string;
  logger?: Logger;
  /** How many messages to keep; older ones are dropped. */
  capacity?: number;
}

const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

function unavailable(): Error {
  return Object.assign(new Error('Service not available (local SMTP stand-in is set down)'), { responseCode: 421 });
}

function addresses(header: AddressObject | AddressObject[] | undefined): string[] {
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return list.flatMap((h) => h.value.map((a) => a.address).filter((a): a is string => Boolean(a)));
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A parsed message as the mailbox keeps it; the envelope fills in what the headers leave out. */
function toStoredMail(id: string, parsed: ParsedMail, envelope: SMTPServerEnvelope): StoredMail {
  const envelopeTo = envelope.rcptTo.map((a) => a.address);
  const mailFrom = envelope.mailFrom;
  return {
    id,
    from: parsed.from?.text ?? (mailFrom ? mailFrom.address : ''),
    to: addresses(parsed.to).length > 0 ? addresses(parsed.to) : envelopeTo,
    envelope: { from: mailFrom ? mailFrom.address : undefined, to: envelopeTo },
    subject: parsed.subject ?? '',
    date: parsed.date ?? new Date(),
    receivedAt: new Date(),
    messageId: parsed.messageId,
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : null,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      cid: a.cid,
      disposition: a.contentDisposition,
      size: a.size,
      content: a.content,
    })),
  };
}

/** The first message among `stored`, or arriving on `arrivals`, that matches. */
function waitForMail(stored: StoredMail[], arrivals: EventEmitter, pred: (m: StoredMail) => boolean, timeoutMs: number): Promise<StoredMail> {
  const found = stored.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const onMail = (m: StoredMail) => {
      if (!pred(m)) return;
      clearTimeout(timer);
      arrivals.off('mail', onMail);
      resolve(m);
    };
    const timer = setTimeout(() => {
      arrivals.off('mail', onMail);
      reject(new Error(`no matching mail arrived within ${timeoutMs} ms`));
    }, timeoutMs);
    arrivals.on('mail', onMail);
  });
}

function listen(server: SMTPServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
}

/** Plain SMTP, no TLS or auth; while `isDown()`, every step is refused with 421. */
function createSmtpServer(
  isDown: () => boolean,
  receive: (stream: SMTPServerDataStream, envelope: SMTPServerEnvelope, raw: Buffer) => Promise<StoredMail>,
  onRefused: (err: Error) => void,
): SMTPServer {
  return new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    banner: 'DOTM local SMTP stand-in',
    size: MAX_MESSAGE_BYTES,
    closeTimeout: 1000,
    onConnect(_session, callback) {
      callback(isDown() ? unavailable() : null);
    },
    onMailFrom(_address, _session, callback) {
      callback(isDown() ? unavailable() : null);
    },
    onRcptTo(_address, _session, callback) {
      callback(isDown() ? unavailable() : null);
    },
    onData(stream, session, callback) {
      readAll(stream)
        .then((raw) => receive(stream, session.envelope, raw))
        .then((mail) => callback(null, `OK: stored as ${mail.id}`))
        .catch((err: Error) => {
          onRefused(err);
          callback(err);
        });
    },
  });
}

export async function startLocalSmtp(opts: LocalSmtpOptions = {}): Promise<LocalSmtp> {
  const bindHost = opts.host ?? '127.0.0.1';
  const capacity = opts.capacity ?? 500;
  const log = opts.logger?.child({ component: 'local-smtp' });
  const stored: StoredMail[] = [];
  const arrivals = new EventEmitter();
  let down = false;
  let replyDelayMs = 0;
  let nextId = 1;

  const receive = async (stream: SMTPServerDataStream, envelope: SMTPServerEnvelope, raw: Buffer): Promise<StoredMail> => {
    if (down) throw unavailable();
    if (stream.sizeExceeded) {
      throw Object.assign(new Error('Message exceeds the size limit'), { responseCode: 552 });
    }
    const parsed = await simpleParser(raw, { keepCidLinks: true });
    const mail = toStoredMail(String(nextId++), parsed, envelope);
    stored.push(mail);
    if (stored.length > capacity) stored.splice(0, stored.length - capacity);
    log?.info({ mailId: mail.id, subject: mail.subject, attachments: mail.attachments.length }, 'local SMTP received a message');
    arrivals.emit('mail', mail);
    if (replyDelayMs > 0) await new Promise((r) => setTimeout(r, replyDelayMs));
    return mail;
  };

  const server = createSmtpServer(() => down, receive, (err) => log?.warn({ err: err.message }, 'local SMTP refused a message'));
  server.on('error', (err) => log?.warn({ err: err.message }, 'local SMTP connection error'));

  await listen(server, opts.port ?? 0, bindHost);
  const port = (server.server.address() as AddressInfo).port;
  const host = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
  const url = `smtp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url }, 'local SMTP stand-in listening');

  return {
    host,
    port,
    url,
    messages: () => [...stored],
    message: (id) => stored.find((m) => m.id === id),
    waitFor: (pred, timeoutMs = 5000) => waitForMail(stored, arrivals, pred, timeoutMs),
    setDown(value) {
      down = value;
      log?.info({ down }, value ? 'local SMTP set down (answers 421)' : 'local SMTP back up');
    },
    setReplyDelay(ms) {
      replyDelayMs = ms;
    },
    clear() {
      stored.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
