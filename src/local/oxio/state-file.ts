// The local OXIO's state file (`oxio.json` in the local state folder): end users, lines and the
// idempotency keys that made them. Activation codes here are the stand-in's own, installing nothing.
import { z } from 'zod';
import type { EndUserRecord, LineRecord, OxioStoreState } from './store.js';

export const OXIO_STATE_FILE = 'oxio.json';
const VERSION = 1;

const uuid = z.uuid();
const millis = z.number().int().nonnegative();

const endUser: z.ZodType<EndUserRecord> = z.object({
  endUserId: uuid,
  externalId: z.string().min(1).optional(),
  email: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  sex: z.string(),
  createdAt: z.iso.datetime(),
});

const line: z.ZodType<LineRecord> = z.object({
  lineId: uuid,
  endUserId: uuid,
  phoneNumber: z.string().regex(/^\+1\d{10}$/),
  iccid: z.string().regex(/^\d{19,20}$/),
  activationCode: z.string(),
  activateOnAttach: z.boolean(),
  planId: z.string().optional(),
  externalReference: z.string().min(1).optional(),
  createdAt: millis,
  activeAt: millis,
});

export const oxioStateSchema = z.object({
  version: z.literal(VERSION),
  endUsers: z.array(endUser),
  lines: z.array(line),
  idempotency: z.array(z.object({ key: z.string().min(1), lineId: uuid, endUserId: uuid })),
});

export function oxioStateFile(state: OxioStoreState): z.infer<typeof oxioStateSchema> {
  return { version: VERSION, ...state };
}
