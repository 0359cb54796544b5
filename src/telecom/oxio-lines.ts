// OXIO lines: an activation's one eSIM line, recognised by the activation's reference, created at
// most once (idempotency key, and a look before every retry), polled until ACTIVE and read into
// what the activation records.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ProvisionedLine as ActivationLine } from '../activation/worker.js';
import { AppError } from '../errors.js';
import { lastFour, normalizeActivationCode } from './activation-code.js';
import {
  createLineRequestSchema,
  deadLineStatuses,
  idempotencyKeyHeader,
  isLiveLine,
  lineIdempotencyKey,
  lineListResponseSchema,
  lineResponseSchema,
  oxioPaths,
  type OxioLine,
} from './oxio-api.js';
import { OxioError, requestBody, type OxioHttp } from './oxio-http.js';

/**
 * The line the activation worker records (its `activationCode` as given by OXIO, in its complete
 * SGP.22 form, checked by `normalizeActivationCode`), known here to be ACTIVE.
 */
export interface ProvisionedLine extends ActivationLine {
  status: 'ACTIVE';
}

/** The line a new activation asks for. */
export interface NewLine {
  endUserId: string;
  activationKey: string;
  /** `lineExternalReference(activationKey)`. */
  reference: string;
  preferredAreaCode?: string;
}

export interface LinePolling {
  /** Polling an INITIATING line until ACTIVE. */
  pollIntervalMs: number;
  pollTimeoutMs: number;
}

export class OxioLines {
  constructor(
    private readonly http: OxioHttp,
    private readonly polling: LinePolling,
  ) {}

  list(endUserId: string): Promise<OxioLine[]> {
    return this.http.call({ operation: 'list lines', method: 'GET', path: oxioPaths.endUserLines(endUserId), answer: lineListResponseSchema });
  }

  get(lineId: string): Promise<OxioLine> {
    return this.http.call({ operation: 'get line', method: 'GET', path: oxioPaths.line(lineId), answer: lineResponseSchema });
  }

  /** The line an earlier attempt stored, if it is still this activation's live line. */
  async known(lineId: string, endUserId: string, reference: string, log: Logger): Promise<OxioLine | undefined> {
    let line: OxioLine;
    try {
      line = await this.get(lineId);
    } catch (err) {
      if (err instanceof OxioError && err.status === 404) {
        log.warn({ lineId }, 'stored OXIO line not found; checking the end user’s lines');
        return undefined;
      }
      throw err;
    }
    if (line.endUserId && line.endUserId !== endUserId) {
      log.warn({ lineId, endUserId, lineEndUserId: line.endUserId }, 'stored OXIO line belongs to another end user; ignoring it');
      return undefined;
    }
    if (line.externalReference && line.externalReference !== reference) {
      log.warn({ lineId }, 'stored OXIO line was made for another activation; ignoring it');
      return undefined;
    }
    if (!isLiveLine(line)) {
      log.warn({ lineId, status: line.status }, 'stored OXIO line is no longer live; checking the end user’s lines');
      return undefined;
    }
    log.info({ endUserId, lineId, status: line.status }, 'resuming with the stored OXIO line');
    return line;
  }

  create(request: NewLine, log: Logger): Promise<OxioLine> {
    const { endUserId, reference } = request;
    const operation = 'create line';
    const body = requestBody(createLineRequestSchema, operation, {
      lineType: 'LINE_TYPE_MOBILITY',
      countryCode: 'US',
      sim: { simType: 'EMBEDDED' },
      endUserId,
      phoneNumberRequirements: { preferredAreaCode: request.preferredAreaCode },
      activateOnAttach: false,
      externalReference: reference,
    });
    const headers = { [idempotencyKeyHeader]: lineIdempotencyKey(request.activationKey) };
    log.info({ endUserId }, 'creating the OXIO line');
    // A timeout or 5xx may come after OXIO committed the line: list the lines before every retry
    // and adopt this activation's line if it is there, so the POST is not repeated once it exists.
    return this.http.withRetries(
      operation,
      async () => {
        const line = await this.http.once({ operation, method: 'POST', path: oxioPaths.createLine, body, headers, answer: lineResponseSchema });
        if ((line.externalReference && line.externalReference !== reference) || (line.endUserId && line.endUserId !== endUserId)) {
          throw new OxioError(`OXIO ${operation}: answered with line ${line.lineId} of another activation`, { retryable: false, operation });
        }
        return line;
      },
      async () => {
        const line = ownLine(await this.list(endUserId), endUserId, reference, log);
        if (line) log.info({ endUserId, lineId: line.lineId, status: line.status }, 'the OXIO line exists after all; adopting it');
        return line;
      },
    );
  }

  async waitUntilActive(line: OxioLine, log: Logger): Promise<OxioLine> {
    const { lineId } = line;
    const { pollIntervalMs, pollTimeoutMs } = this.polling;
    const deadline = Date.now() + pollTimeoutMs;
    let current = line;
    log.info({ lineId, status: current.status }, 'waiting for the OXIO line to become active');
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new OxioError(`OXIO line ${lineId} still ${current.status} after ${pollTimeoutMs} ms`, {
          retryable: true,
          operation: 'wait for line',
        });
      }
      await sleep(Math.min(pollIntervalMs, remaining));
      try {
        current = await this.get(lineId);
      } catch (err) {
        if (!(err instanceof OxioError && err.retryable)) throw err;
        log.warn({ lineId, err: err.message }, 'polling the OXIO line failed; polling on');
        continue;
      }
      if (current.status === 'ACTIVE') return current;
      if (deadLineStatuses.has(current.status)) {
        throw new OxioError(`OXIO line ${lineId} became ${current.status} while provisioning`, {
          retryable: false,
          operation: 'wait for line',
        });
      }
      log.debug({ lineId, status: current.status }, 'OXIO line not active yet');
    }
  }
}

/**
 * This activation's line among a search answer: it must carry the activation's reference and
 * belong to the end user asked about. Anything else (a filter OXIO ignored, another activation's
 * line of the same end user) is never adopted.
 */
export function ownLine(lines: OxioLine[], endUserId: string, reference: string, log: Logger): OxioLine | undefined {
  const own = lines.filter((line) => line.externalReference === reference && (!line.endUserId || line.endUserId === endUserId));
  if (own.length < lines.length) log.debug({ endUserId, returned: lines.length, own: own.length }, 'OXIO lines of other activations ignored');
  const live = own.filter(isLiveLine);
  return live.find((line) => line.status === 'ACTIVE') ?? live[0];
}

/** An ACTIVE line read into what the activation records; throws while it is not complete. */
export function toProvisioned(endUserId: string, line: OxioLine, log: Logger): ProvisionedLine {
  const operation = 'read line';
  const phoneNumber = line.phoneNumbers[0]?.phoneNumber;
  const iccid = line.sim?.iccid;
  const rawCode = line.sim?.activationCode;
  // Missing fields on an ACTIVE line may still be filled in by OXIO: a later attempt adopts the
  // same line and reads it again. A code that is present but malformed will not fix itself.
  if (!rawCode) {
    throw new OxioError(`OXIO line ${line.lineId} is ACTIVE but has no activation code`, { retryable: true, operation });
  }
  let activationCode: string;
  try {
    activationCode = normalizeActivationCode(rawCode);
  } catch (err) {
    // The carrier's record is wrong and reading it again gives the same: the attempt fails here,
    // before the line is recorded with a code no phone could install.
    const reason = err instanceof AppError ? err.message : 'unreadable';
    throw new OxioError(`OXIO line ${line.lineId} has a malformed activation code (${reason})`, { retryable: false, operation });
  }
  if (!phoneNumber || !iccid) {
    const missing = [phoneNumber ? null : 'phone number', iccid ? null : 'ICCID'].filter(Boolean).join(' and ');
    throw new OxioError(`OXIO line ${line.lineId} is ACTIVE but has no ${missing}`, { retryable: true, operation });
  }
  log.info({ endUserId, lineId: line.lineId, iccidEnd: lastFour(iccid), phoneEnd: lastFour(phoneNumber) }, 'eSIM line provisioned');
  return { endUserId, lineId: line.lineId, iccid, phoneNumber, activationCode, status: 'ACTIVE' };
}
