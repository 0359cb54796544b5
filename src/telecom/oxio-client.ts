// The OXIO client: finds or creates the account's end user (by our key, never by e-mail: two
// accounts may share an address), then adopts or creates the activation's one eSIM line (by the
// activation's key) and waits until it is ACTIVE. Every step is safe to repeat, so an activation that
// crashed or failed at any point resumes with the same call and never ends up with a second line —
// nor with another activation's line: search answers count only when they carry the key asked for.
import type { Logger } from 'pino';
import { deadLineStatuses, lineExternalReference, type OxioLine } from './oxio-api.js';
import { OxioEndUsers, type EndUserNames } from './oxio-end-users.js';
import { OxioError, OxioHttp, type OxioHttpOptions } from './oxio-http.js';
import { OxioLines, ownLine, toProvisioned, type LinePolling, type ProvisionedLine } from './oxio-lines.js';

export type { OxioLine } from './oxio-api.js';
export { OxioError } from './oxio-http.js';
export type { ProvisionedLine } from './oxio-lines.js';

export interface OxioClientOptions extends OxioHttpOptions, LinePolling {
  brandId?: string;
  logger: Logger;
}

/** Which line to look for: the activation's own, under its account's end user. */
export interface LineLookupRequest {
  /** For log lines only. */
  activationId: number;
  /** Our stable key of the account: one OXIO end user per account, whatever its e-mail. */
  customerKey: string;
  /** This activation's own random key: its line carries it. */
  activationKey: string;
  /** From an earlier attempt, if it got that far. */
  knownEndUserId?: string | null;
}

export interface ProvisionEsimRequest extends LineLookupRequest {
  email: string;
  firstName?: string;
  lastName?: string;
  preferredAreaCode?: string;
  knownLineId?: string | null;
}

/** What the carrier holds for an activation: nothing, a line still being provisioned, or a usable line. */
export type ExistingLine =
  | { state: 'none' }
  | { state: 'provisioning'; lineId: string }
  | { state: 'active'; line: ProvisionedLine };

export class OxioClient {
  private readonly log: Logger;
  private readonly endUsers: OxioEndUsers;
  private readonly lines: OxioLines;

  constructor(opts: OxioClientOptions) {
    this.log = opts.logger.child({ component: 'oxio' });
    const http = new OxioHttp(opts, this.log);
    this.endUsers = new OxioEndUsers(http, this.log, opts.brandId);
    this.lines = new OxioLines(http, opts);
  }

  async provisionEsim(req: ProvisionEsimRequest): Promise<ProvisionedLine> {
    const log = this.log.child({ activationId: req.activationId });
    const names = { firstName: req.firstName, lastName: req.lastName };
    const reference = lineExternalReference(req.activationKey);
    let endUserId = req.knownEndUserId ?? (await this.endUsers.findOrCreate(req.customerKey, req.email, names));

    let line = req.knownLineId ? await this.lines.known(req.knownLineId, endUserId, reference, log) : undefined;
    if (!line) {
      let lines: OxioLine[];
      try {
        lines = await this.lines.list(endUserId);
      } catch (err) {
        if (!(req.knownEndUserId && err instanceof OxioError && err.status === 404)) throw err;
        log.warn({ endUserId }, 'stored OXIO end user not found; looking it up by the account key');
        endUserId = await this.endUsers.findOrCreate(req.customerKey, req.email, names);
        lines = await this.lines.list(endUserId);
      }
      line = ownLine(lines, endUserId, reference, log);
      if (line) log.info({ endUserId, lineId: line.lineId, status: line.status }, 'adopting the existing OXIO line');
      else {
        const newLine = { endUserId, activationKey: req.activationKey, reference, preferredAreaCode: req.preferredAreaCode };
        line = await this.lines.create(newLine, log);
      }
    }

    if (deadLineStatuses.has(line.status)) {
      throw new OxioError(`OXIO line ${line.lineId} is ${line.status}`, { retryable: false, operation: 'create line' });
    }
    if (line.status !== 'ACTIVE') line = await this.lines.waitUntilActive(line, log);
    return toProvisioned(endUserId, line, log);
  }

  /**
   * Looks up, without creating anything, the line the carrier holds for this activation. Used
   * before an activation is given up: a line made by an earlier (or a still running) attempt must
   * be delivered, not declared failed.
   */
  async findExistingLine(req: LineLookupRequest): Promise<ExistingLine> {
    const log = this.log.child({ activationId: req.activationId });
    const reference = lineExternalReference(req.activationKey);
    const endUserIds = new Set<string>();
    if (req.knownEndUserId) endUserIds.add(req.knownEndUserId);
    const found = await this.endUsers.find(req.customerKey);
    if (found) endUserIds.add(found);
    for (const endUserId of endUserIds) {
      let lines: OxioLine[];
      try {
        lines = await this.lines.list(endUserId);
      } catch (err) {
        if (err instanceof OxioError && err.status === 404) continue;
        throw err;
      }
      const line = ownLine(lines, endUserId, reference, log);
      if (!line) continue;
      if (line.status !== 'ACTIVE') return { state: 'provisioning', lineId: line.lineId };
      try {
        return { state: 'active', line: toProvisioned(endUserId, line, log) };
      } catch (err) {
        // Active but not complete yet (no code or number): it exists, a later attempt reads it again.
        if (err instanceof OxioError && err.retryable) return { state: 'provisioning', lineId: line.lineId };
        throw err;
      }
    }
    return { state: 'none' };
  }

  findOrCreateEndUser(customerKey: string, email: string, names?: EndUserNames): Promise<string> {
    return this.endUsers.findOrCreate(customerKey, email, names);
  }

  listLines(endUserId: string): Promise<OxioLine[]> {
    return this.lines.list(endUserId);
  }

  getLine(lineId: string): Promise<OxioLine> {
    return this.lines.get(lineId);
  }
}
