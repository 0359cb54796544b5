// Local SMTP stand-in: a real SMTP server (plain, no TLS, no auth) on the loopback interface that
// keeps the last messages for the mailbox page and tests: in memory, and with a state folder also
// on disk (./mail-files.ts), stored before the message is acknowledged, as a mail server does.
// `setDown(true)` answers 421 to everything, so the outbox's retry path can be exercised end to end;
// `setReplyDelay(ms)` keeps each message but answers its final "." only after `ms`, like a slow
// relay (content scanning).
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerEnvelope } from 'smtp-server';
import type { Logger } from '../../logger.js';
import { forgetMail, loadMail, MAILBOX_FOLDER, saveMail, type MailEnvelope } from './mail-files.js';

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
  /** A folder (the caller holds it: see ../state.ts) whose mailbox/ keeps the messages across restarts. Unset: in memory only. */
  stateDir?: string;
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

/** The envelope's addresses, as the mailbox keeps them. */
function envelopeOf(envelope: SMTPServerEnvelope): MailEnvelope {
  return { from: envelope.mailFrom ? envelope.mailFrom.address : undefined, to: envelope.rcptTo.map((a) => a.address) };
}

/** A parsed message as the mailbox keeps it; the envelope fills in what the headers leave out. */
function toStoredMail(id: string, parsed: ParsedMail, envelope: MailEnvelope, receivedAt: Date): StoredMail {
  return {
    id,
    from: parsed.from?.text ?? envelope.from ?? '',
    to: addresses(parsed.to).length > 0 ? addresses(parsed.to) : envelope.to,
    envelope: { from: envelope.from, to: [...envelope.to] },
    subject: parsed.subject ?? '',
    date: parsed.date ?? receivedAt,
    receivedAt,
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

const parse = (raw: Buffer) => simpleParser(raw, { keepCidLinks: true });

export async function startLocalSmtp(opts: LocalSmtpOptions = {}): Promise<LocalSmtp> {
  const bindHost = opts.host ?? '127.0.0.1';
  const capacity = opts.capacity ?? 500;
  const log = opts.logger?.child({ component: 'local-smtp' });
  const stored: StoredMail[] = [];
  const arrivals = new EventEmitter();
  let down = false;
  let replyDelayMs = 0;
  let nextId = 1;

  const folder = opts.stateDir ? join(opts.stateDir, MAILBOX_FOLDER) : null;
  if (folder) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const { kept, highestId } = loadMail(folder, log);
    for (const mail of kept.splice(0, Math.max(0, kept.length - capacity))) forgetMail(folder, mail.id);
    for (const mail of kept) stored.push(toStoredMail(mail.id, await parse(mail.raw), mail.envelope, mail.receivedAt));
    // New messages never take an id (a link) handed out before.
    nextId = highestId + 1;
    if (kept.length) log?.info({ folder, messages: kept.length }, 'local SMTP: mailbox restored');
  }
  const drop = (mails: StoredMail[]) => {
    if (!folder) return;
    for (const mail of mails) {
      try {
        forgetMail(folder, mail.id);
      } catch (err) {
        log?.warn({ mailId: mail.id, err: (err as Error).message }, 'local SMTP: could not delete a dropped message');
      }
    }
  };

  const receive = async (stream: SMTPServerDataStream, smtpEnvelope: SMTPServerEnvelope, raw: Buffer): Promise<StoredMail> => {
    if (down) throw unavailable();
    if (stream.sizeExceeded) {
      throw Object.assign(new Error('Message exceeds the size limit'), { responseCode: 552 });
    }
    const parsed = await parse(raw);
    const envelope = envelopeOf(smtpEnvelope);
    const mail = toStoredMail(String(nextId++), parsed, envelope, new Date());
    if (folder) {
      try {
        await saveMail(folder, { id: mail.id, receivedAt: mail.receivedAt, envelope, raw });
      } catch (err) {
        log?.warn({ mailId: mail.id, err: (err as Error).message }, 'local SMTP: could not store a message; refused for now');
        throw Object.assign(new Error('Requested action aborted: local error in processing'), { responseCode: 451 });
      }
    }
    stored.push(mail);
    if (stored.length > capacity) drop(stored.splice(0, stored.length - capacity));
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
      drop(stored.splice(0));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
