// State of the local OXIO: end users, lines and idempotency keys, in memory; `onChange` tells the
// state file (when the stand-in keeps one) and `snapshot`/`restore` carry them across a restart.
// Answers are typed from the client's wire schemas, so both sides change together.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { OxioEndUserWire, OxioLineWire, OxioSimWire } from '../../telecom/oxio-api.js';

export const SMDP_ADDRESS = 'smdp.sim.local';

export interface EndUserRecord {
  endUserId: string;
  /** The customer's own key for this end user, if it sent one. */
  externalId?: string;
  email: string;
  firstName: string;
  lastName: string;
  sex: string;
  createdAt: string;
}

export interface LineRecord {
  lineId: string;
  endUserId: string;
  phoneNumber: string;
  iccid: string;
  activationCode: string;
  activateOnAttach: boolean;
  planId?: string;
  /** The customer's reference for this line, echoed in every answer. */
  externalReference?: string;
  createdAt: number;
  /** The line reads as INITIATING before this instant, ACTIVE from it on. */
  activeAt: number;
}

/** What the store keeps across restarts. */
export interface OxioStoreState {
  endUsers: EndUserRecord[];
  lines: LineRecord[];
  idempotency: Array<{ key: string; lineId: string; endUserId: string }>;
}

export class LocalOxioStore {
  private readonly endUsers = new Map<string, EndUserRecord>();
  private readonly linesById = new Map<string, LineRecord>();
  private readonly idempotency = new Map<string, { lineId: string; endUserId: string }>();
  private readonly phoneNumbers = new Set<string>();
  private readonly iccids = new Set<string>();
  lineCreates = 0;
  endUserCreates = 0;

  constructor(private readonly onChange: () => void = () => {}) {}

  snapshot(): OxioStoreState {
    return {
      endUsers: [...this.endUsers.values()],
      lines: [...this.linesById.values()],
      idempotency: [...this.idempotency].map(([key, made]) => ({ key, ...made })),
    };
  }

  /** Loads a snapshot into an empty store (before the stand-in serves anything). */
  restore(state: OxioStoreState): void {
    for (const user of state.endUsers) this.endUsers.set(user.endUserId, user);
    for (const line of state.lines) {
      this.linesById.set(line.lineId, line);
      this.phoneNumbers.add(line.phoneNumber);
      this.iccids.add(line.iccid);
    }
    for (const { key, lineId, endUserId } of state.idempotency) this.idempotency.set(key, { lineId, endUserId });
  }

  /** End users matching every filter given (none given: all of them). */
  findEndUsers(filter: { email?: string; externalId?: string } = {}): EndUserRecord[] {
    const email = filter.email?.trim().toLowerCase();
    return [...this.endUsers.values()].filter(
      (u) => (email === undefined || u.email.toLowerCase() === email) && (filter.externalId === undefined || u.externalId === filter.externalId),
    );
  }

  endUser(endUserId: string): EndUserRecord | undefined {
    return this.endUsers.get(endUserId);
  }

  createEndUser(input: { email: string; firstName: string; lastName: string; sex: string; externalId?: string }): EndUserRecord {
    const user: EndUserRecord = { endUserId: randomUUID(), createdAt: new Date().toISOString(), ...input, email: input.email.trim() };
    this.endUsers.set(user.endUserId, user);
    this.endUserCreates++;
    this.onChange();
    return user;
  }

  /** The line an idempotency key already produced, if any. */
  replay(key: string): { lineId: string; endUserId: string } | undefined {
    return this.idempotency.get(key);
  }

  createLine(input: {
    endUserId: string;
    activateOnAttach: boolean;
    planId?: string;
    externalReference?: string;
    initiatingMs: number;
    idempotencyKey?: string;
    /** Instead of a new valid code. */
    activationCode?: string;
  }): LineRecord {
    const now = Date.now();
    const matchingId = randomBytes(16).toString('hex').toUpperCase();
    const line: LineRecord = {
      lineId: randomUUID(),
      endUserId: input.endUserId,
      phoneNumber: this.newPhoneNumber(),
      iccid: this.newIccid(),
      activationCode: input.activationCode ?? `LPA:1$${SMDP_ADDRESS}$${matchingId}`,
      activateOnAttach: input.activateOnAttach,
      planId: input.planId,
      ...(input.externalReference ? { externalReference: input.externalReference } : {}),
      createdAt: now,
      activeAt: now + Math.max(0, input.initiatingMs),
    };
    this.linesById.set(line.lineId, line);
    if (input.idempotencyKey) this.idempotency.set(input.idempotencyKey, { lineId: line.lineId, endUserId: line.endUserId });
    this.lineCreates++;
    this.onChange();
    return line;
  }

  line(lineId: string): LineRecord | undefined {
    return this.linesById.get(lineId);
  }

  lines(): LineRecord[] {
    return [...this.linesById.values()];
  }

  linesOf(endUserId: string): LineRecord[] {
    return this.lines().filter((l) => l.endUserId === endUserId);
  }

  lineByIccid(iccid: string): LineRecord | undefined {
    return this.lines().find((l) => l.iccid === iccid);
  }

  /** Numbers not assigned yet, in the fictional 555 range. */
  availablePhoneNumbers(limit: number): string[] {
    const numbers = new Set<string>();
    while (numbers.size < limit) {
      const candidate = randomPhoneNumber();
      if (!this.phoneNumbers.has(candidate)) numbers.add(candidate);
    }
    return [...numbers];
  }

  private newPhoneNumber(): string {
    for (;;) {
      const candidate = randomPhoneNumber();
      if (this.phoneNumbers.has(candidate)) continue;
      this.phoneNumbers.add(candidate);
      return candidate;
    }
  }

  private newIccid(): string {
    for (;;) {
      // 89 (telecom) + 01 (country code 1) + 14 digits + Luhn check digit = 19 digits.
      let body = '8901';
      for (let i = 0; i < 14; i++) body += String(randomInt(10));
      const candidate = body + luhnCheckDigit(body);
      if (this.iccids.has(candidate)) continue;
      this.iccids.add(candidate);
      return candidate;
    }
  }
}

export function lineStatus(line: LineRecord, now = Date.now()): 'ACTIVE' | 'INITIATING' {
  return now >= line.activeAt ? 'ACTIVE' : 'INITIATING';
}

/** A line as OXIO answers it. The profile (activation code) exists only once the line is ACTIVE. */
export function lineView(line: LineRecord, now = Date.now()): OxioLineWire & Record<string, unknown> {
  const status = lineStatus(line, now);
  const active = status === 'ACTIVE';
  const phoneNumber = { phoneNumber: line.phoneNumber, countryCode: 'US' };
  return {
    lineId: line.lineId,
    endUserId: line.endUserId,
    status,
    lineType: 'LINE_TYPE_MOBILITY',
    countryCode: 'US',
    activateOnAttach: line.activateOnAttach,
    ...(line.planId ? { planId: line.planId } : {}),
    ...(line.externalReference ? { externalReference: line.externalReference } : {}),
    createdAt: new Date(line.createdAt).toISOString(),
    phoneNumbers: [phoneNumber],
    sim: {
      iccid: line.iccid,
      simType: 'EMBEDDED',
      status,
      ...(active
        ? {
            activationCode: line.activationCode,
            activationUrl: `https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=${encodeURIComponent(line.activationCode)}`,
          }
        : {}),
    },
  };
}

export function endUserView(user: EndUserRecord): OxioEndUserWire & Record<string, unknown> {
  return { ...user };
}

export function simView(line: LineRecord, now = Date.now()): OxioSimWire & Record<string, unknown> {
  return { iccid: line.iccid, simType: 'EMBEDDED', status: lineStatus(line, now), lineId: line.lineId };
}

function randomPhoneNumber(): string {
  return `+1555${String(randomInt(10_000_000)).padStart(7, '0')}`;
}

function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
