// The local mailbox on disk: one file per message in `mailbox/` of the local state folder, the
// message exactly as received (base64) with its envelope and arrival time, so the mailbox page
// shows the same messages, under the same links, after a restart.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { readStateFile, writeFileAtomically } from '../state.js';

export const MAILBOX_FOLDER = 'mailbox';
const VERSION = 1;
const MAIL_FILE = /^(\d{1,15})\.json$/;
/** A message file, or one set aside as unreadable: either way its id was handed out. */
const MAIL_ID_TAKEN = /^(\d{1,15})\.json(?:\.corrupt-.*)?$/;

export interface MailEnvelope {
  from: string | undefined;
  to: string[];
}

export interface KeptMail {
  id: string;
  receivedAt: Date;
  envelope: MailEnvelope;
  raw: Buffer;
}

const mailFileSchema = z.object({
  version: z.literal(VERSION),
  id: z.string().regex(/^\d{1,15}$/),
  receivedAt: z.iso.datetime(),
  envelope: z.object({ from: z.string().optional(), to: z.array(z.string()) }),
  raw: z.base64(),
});

const fileOf = (folder: string, id: string) => join(folder, `${id}.json`);

export function saveMail(folder: string, mail: KeptMail): Promise<void> {
  const file: z.infer<typeof mailFileSchema> = {
    version: VERSION,
    id: mail.id,
    receivedAt: mail.receivedAt.toISOString(),
    envelope: { ...(mail.envelope.from !== undefined ? { from: mail.envelope.from } : {}), to: mail.envelope.to },
    raw: mail.raw.toString('base64'),
  };
  return writeFileAtomically(fileOf(folder, mail.id), JSON.stringify(file));
}

export function forgetMail(folder: string, id: string): void {
  rmSync(fileOf(folder, id), { force: true });
}

/**
 * The messages kept in `folder`, oldest first (unreadable files are moved aside: see
 * readStateFile), and the highest id ever handed out there, so no link is given to another message.
 */
export function loadMail(folder: string, logger?: Logger): { kept: KeptMail[]; highestId: number } {
  const kept: KeptMail[] = [];
  let highestId = 0;
  for (const name of readdirSync(folder)) {
    const taken = MAIL_ID_TAKEN.exec(name)?.[1];
    if (taken !== undefined) highestId = Math.max(highestId, Number(taken));
  }
  for (const name of readdirSync(folder)) {
    const id = MAIL_FILE.exec(name)?.[1];
    if (id === undefined) continue;
    const file = readStateFile(join(folder, name), mailFileSchema, logger);
    if (!file) continue;
    if (file.id !== id) {
      logger?.warn({ file: name, id: file.id }, 'local mailbox: a message file names another message; skipped');
      continue;
    }
    kept.push({
      id,
      receivedAt: new Date(file.receivedAt),
      envelope: { from: file.envelope.from, to: file.envelope.to },
      raw: Buffer.from(file.raw, 'base64'),
    });
  }
  return { kept: kept.sort((a, b) => Number(a.id) - Number(b.id)), highestId };
}
