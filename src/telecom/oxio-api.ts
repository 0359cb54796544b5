// The OXIO (BrandVNO) wire contract: paths, request bodies and the answer fields we rely on.
// OXIO's own reference is closed to customers, so this is the best available reading
// (/work/shared/OXIO.md). Correcting a path or a field should only ever touch this file; the local
// simulator types its answers from these schemas, so a change here surfaces there at compile time.
// Answers are parsed leniently: unknown fields are allowed (and dropped), ids may be numbers.
import { createHash } from 'node:crypto';
import { z } from 'zod';

const segment = (value: string) => encodeURIComponent(value);

export const oxioPaths = {
  endUsers: '/v2/end-users',
  endUserLines: (endUserId: string) => `/v3/end-users/${segment(endUserId)}/lines`,
  createLine: '/v3/lines/line',
  line: (lineId: string) => `/v3/lines/${segment(lineId)}`,
  sim: (iccid: string) => `/v3/sims/${segment(iccid)}`,
  availablePhoneNumbers: '/v3/phone-numbers/available',
} as const;

/** Header that makes `POST /v3/lines/line` safe to repeat for one activation. */
export const idempotencyKeyHeader = 'Idempotency-Key';

/**
 * Our keys at OXIO. An end user belongs to one of our accounts, not to an e-mail address (two
 * accounts may share one): it carries `externalId` and is looked up by it. A line belongs to one
 * activation: it carries that activation's `externalReference`. Search answers are trusted only
 * when they echo the key we asked for. (The field names are our reading of OXIO's API, like the
 * rest of this file; if OXIO spells them otherwise, they change here and in the simulator.)
 */
export const endUserKeyParam = 'externalId';
/** The account key sent to OXIO: a digest of our stable user key, so the key itself stays ours. */
export const endUserExternalId = (customerKey: string) =>
  `dotm-user-${createHash('sha256').update(customerKey, 'utf8').digest('hex').slice(0, 32)}`;
/** The activation's carrier key is random per activation (never reused after a database reset). */
export const lineExternalReference = (activationKey: string) => `dotm-activation-${activationKey}`;
/**
 * The activation's key alone: whatever end user a retry ends up with, OXIO makes at most one line
 * per activation (a repeat for another end user is refused, not turned into a second line).
 */
export const lineIdempotencyKey = (activationKey: string) => lineExternalReference(activationKey);

const id = z.union([z.string().min(1), z.number()]).transform(String);
const optionalText = z.string().nullish().transform((v) => v ?? undefined);

// --- end users -------------------------------------------------------------------------------

export const endUserSchema = z.object({
  endUserId: id,
  externalId: optionalText,
  email: optionalText,
  firstName: optionalText,
  lastName: optionalText,
});
export type OxioEndUser = z.output<typeof endUserSchema>;
export type OxioEndUserWire = z.input<typeof endUserSchema>;

export const findEndUsersResponseSchema = z.object({
  endUsers: z.array(endUserSchema).nullish().transform((v) => v ?? []),
});

export const createEndUserRequestSchema = z.object({
  sex: z.literal('UNSPECIFIED'),
  firstName: z.string().min(1),
  lastName: z.string().min(1),
  email: z.string().min(3),
  externalId: z.string().min(1),
  brandId: z.string().min(1).optional(),
});
export type CreateEndUserRequest = z.input<typeof createEndUserRequestSchema>;

// Some OXIO answers wrap the entity (`{ endUser: {...} }`); accept both forms.
export const createEndUserResponseSchema = z.union([
  z.object({ endUserId: id }),
  z.object({ endUser: z.object({ endUserId: id }) }).transform((o) => o.endUser),
]);

// --- lines -----------------------------------------------------------------------------------

export const lineSchema = z.object({
  lineId: id,
  /** `ACTIVE`, or `INITIATING` while provisioning continues; compared upper-cased. */
  status: z.string().min(1).transform((s) => s.toUpperCase()),
  endUserId: id.nullish().transform((v) => v ?? undefined),
  /** The activation the line was created for, as we sent it. */
  externalReference: optionalText,
  phoneNumbers: z
    .array(z.object({ phoneNumber: z.string().min(1) }))
    .nullish()
    .transform((v) => v ?? []),
  sim: z
    .object({
      iccid: optionalText,
      simType: optionalText,
      status: optionalText,
      /** SGP.22 activation code, with or without the `LPA:` prefix. */
      activationCode: optionalText,
      activationUrl: optionalText,
    })
    .nullish()
    .transform((v) => v ?? undefined),
});
export type OxioLine = z.output<typeof lineSchema>;
/** What an OXIO line answer looks like on the wire (the simulator produces these). */
export type OxioLineWire = z.input<typeof lineSchema>;

export const lineResponseSchema = z.union([lineSchema, z.object({ line: lineSchema }).transform((o) => o.line)]);

export const lineListResponseSchema = z.union([
  z.array(lineSchema),
  z.object({ lines: z.array(lineSchema).nullish() }).transform((o) => o.lines ?? []),
]);

export const createLineRequestSchema = z.object({
  lineType: z.literal('LINE_TYPE_MOBILITY'),
  countryCode: z.literal('US'),
  sim: z.object({ simType: z.literal('EMBEDDED') }),
  endUserId: z.string().min(1),
  phoneNumberRequirements: z.object({ preferredAreaCode: z.string().optional() }),
  activateOnAttach: z.boolean(),
  externalReference: z.string().min(1),
  planId: z.string().min(1).optional(),
});
export type CreateLineRequest = z.input<typeof createLineRequestSchema>;

/** Lines in these states are gone for good; anything else still counts as the user's eSIM. */
export const deadLineStatuses: ReadonlySet<string> = new Set([
  'CANCELLED',
  'CANCELED',
  'FAILED',
  'TERMINATED',
  'DEACTIVATED',
  'DELETED',
]);
export const isLiveLine = (line: Pick<OxioLine, 'status'>) => !deadLineStatuses.has(line.status);

// --- SIMs and numbers (answers typed for the simulator; the client does not need them yet) ----

export const simResponseSchema = z.object({
  iccid: z.string().min(1),
  status: z.string(),
  simType: z.string(),
});
export type OxioSimWire = z.input<typeof simResponseSchema>;

export const availablePhoneNumbersResponseSchema = z.object({
  phoneNumbers: z.array(z.object({ phoneNumber: z.string().min(1) })),
});
export type OxioAvailablePhoneNumbersWire = z.input<typeof availablePhoneNumbersResponseSchema>;

// --- errors ----------------------------------------------------------------------------------

/** OXIO error bodies are undocumented; these are the fields worth reading. */
export const errorBodyFields = ['message', 'error', 'details', 'validation_errors'] as const;
export type OxioErrorBody = { message: string; error: string; validation_errors?: string[] };
