// The local OXIO's endpoints: end users, lines (idempotent creation), SIMs and the phone-number
// inventory, with the validation errors OXIO gives (its error body, `validation_errors` listed).
import { STATUS_CODES } from 'node:http';
import type { Express, Response } from 'express';
import type { Logger } from 'pino';
import type { OxioErrorBody } from '../../telecom/oxio-api.js';
import { endUserView, LocalOxioStore, lineStatus, lineView, simView } from './store.js';

export const LINE_CREATE_PATH = '/v3/lines/line';

/** What the tests may change while the stand-in runs. */
export interface LocalOxioSettings {
  latencyMs: number;
  failureRate: number;
  initiatingMs: number;
  ignoreSearchFilters: boolean;
  activationCode: string | undefined;
}

export interface RouteDeps {
  store: LocalOxioStore;
  settings: LocalOxioSettings;
  log: Logger | undefined;
  /** Resolves once every change so far is in the state file (at once when there is none): creations are answered after it. */
  saved(): Promise<void>;
}

export function endUserRoutes(app: Express, { store, settings, saved }: RouteDeps): void {
  app.get('/v2/end-users', (req, res) => {
    const filter = {
      email: typeof req.query.email === 'string' ? req.query.email : undefined,
      externalId: typeof req.query.externalId === 'string' ? req.query.externalId : undefined,
    };
    res.json({ endUsers: store.findEndUsers(settings.ignoreSearchFilters ? {} : filter).map(endUserView) });
  });

  app.post('/v2/end-users', async (req, res) => {
    const body = record(req.body);
    const problems = endUserProblems(body);
    if (problems.length) return sendValidationError(res, problems);
    const email = String(body.email);
    // The customer's key is unique; an e-mail address is not (two accounts may share one).
    const externalId = typeof body.externalId === 'string' ? body.externalId.trim() : undefined;
    if (externalId && store.findEndUsers({ externalId }).length) {
      return sendError(res, 409, `An end user with externalId ${externalId} already exists`);
    }
    const user = store.createEndUser({
      email,
      firstName: String(body.firstName),
      lastName: String(body.lastName),
      sex: String(body.sex ?? 'UNSPECIFIED'),
      ...(externalId ? { externalId } : {}),
    });
    await saved();
    res.status(201).json(endUserView(user));
  });
}

export function lineRoutes(app: Express, { store, settings, log, saved }: RouteDeps): void {
  app.post(LINE_CREATE_PATH, async (req, res) => {
    const body = record(req.body);
    const problems = lineProblems(body);
    if (problems.length) return sendValidationError(res, problems);

    const endUserId = String(body.endUserId);
    if (!store.endUser(endUserId)) return sendError(res, 404, `End user ${endUserId} not found`);
    const idempotencyKey = req.get('idempotency-key')?.trim() || undefined;
    const prior = idempotencyKey ? store.replay(idempotencyKey) : undefined;
    if (prior) {
      const line = store.line(prior.lineId);
      if (prior.endUserId !== endUserId || !line) {
        return sendError(res, 422, 'Idempotency-Key was already used for a different request');
      }
      res.set('Idempotent-Replayed', 'true');
      return res.status(200).json(lineView(line));
    }
    const line = store.createLine({
      endUserId,
      activateOnAttach: body.activateOnAttach === true,
      planId: typeof body.planId === 'string' ? body.planId : undefined,
      externalReference: typeof body.externalReference === 'string' ? body.externalReference : undefined,
      initiatingMs: settings.initiatingMs,
      idempotencyKey,
      activationCode: settings.activationCode,
    });
    log?.info({ lineId: line.lineId, endUserId, status: lineStatus(line) }, 'local OXIO: line created');
    await saved();
    res.status(201).json(lineView(line));
  });

  app.get('/v3/end-users/:endUserId/lines', (req, res) => {
    const { endUserId } = req.params;
    if (!store.endUser(endUserId)) return sendError(res, 404, `End user ${endUserId} not found`);
    const now = Date.now();
    const lines = settings.ignoreSearchFilters ? store.lines() : store.linesOf(endUserId);
    res.json({ lines: lines.map((line) => lineView(line, now)) });
  });

  app.get('/v3/lines/:lineId', (req, res) => {
    const line = store.line(req.params.lineId);
    if (!line) return sendError(res, 404, `Line ${req.params.lineId} not found`);
    res.json(lineView(line));
  });
}

export function inventoryRoutes(app: Express, { store }: RouteDeps): void {
  app.get('/v3/sims/:iccid', (req, res) => {
    const line = store.lineByIccid(req.params.iccid);
    if (!line) return sendError(res, 404, 'SIM not found');
    res.json(simView(line));
  });

  app.get('/v3/phone-numbers/available', (req, res) => {
    const countryCode = typeof req.query.countryCode === 'string' ? req.query.countryCode : 'US';
    const areaCode = typeof req.query.areaCode === 'string' ? req.query.areaCode : undefined;
    const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : 10;
    const problems: string[] = [];
    if (countryCode !== 'US') problems.push('countryCode must be US');
    if (areaCode !== undefined && !/^[2-9]\d{2}$/.test(areaCode)) problems.push('areaCode must be a 3-digit US area code');
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) problems.push('limit must be an integer from 1 to 100');
    if (problems.length) return sendValidationError(res, problems);
    // The local inventory is the fictional 555 range only.
    const numbers = areaCode && areaCode !== '555' ? [] : store.availablePhoneNumbers(limit);
    res.json({ phoneNumbers: numbers.map((phoneNumber) => ({ phoneNumber, countryCode: 'US', areaCode: '555' })) });
  });
}

function endUserProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof body.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email.trim())) {
    // Echoes the value, as many APIs do: a client must not copy such messages into its logs as-is.
    problems.push(`email must be a valid e-mail address, got ${JSON.stringify(body.email ?? null)}`);
  }
  if (body.externalId !== undefined && (typeof body.externalId !== 'string' || !body.externalId.trim())) {
    problems.push('externalId must be a non-empty string');
  }
  for (const name of ['firstName', 'lastName'] as const) {
    const value = body[name];
    if (typeof value !== 'string' || !value.trim()) problems.push(`${name} is required`);
  }
  const sex = body.sex ?? 'UNSPECIFIED';
  if (typeof sex !== 'string' || !['UNSPECIFIED', 'MALE', 'FEMALE'].includes(sex)) problems.push('sex must be UNSPECIFIED, MALE or FEMALE');
  return problems;
}

function lineProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (body.lineType !== 'LINE_TYPE_MOBILITY') problems.push('lineType must be LINE_TYPE_MOBILITY');
  if (body.countryCode !== 'US') problems.push('countryCode must be US');
  if (record(body.sim).simType !== 'EMBEDDED') problems.push('sim.simType must be EMBEDDED');
  if (typeof body.endUserId !== 'string' || !body.endUserId) problems.push('endUserId is required');
  const areaCode = record(body.phoneNumberRequirements).preferredAreaCode;
  if (areaCode !== undefined && (typeof areaCode !== 'string' || !/^[2-9]\d{2}$/.test(areaCode))) {
    problems.push('phoneNumberRequirements.preferredAreaCode must be a 3-digit US area code');
  }
  if (body.activateOnAttach !== undefined && typeof body.activateOnAttach !== 'boolean') problems.push('activateOnAttach must be a boolean');
  if (body.planId !== undefined && (typeof body.planId !== 'string' || !body.planId)) problems.push('planId must be a non-empty string');
  if (body.externalReference !== undefined && (typeof body.externalReference !== 'string' || !body.externalReference)) {
    problems.push('externalReference must be a non-empty string');
  }
  return problems;
}

export function errorBody(status: number, message: string): OxioErrorBody {
  return { message, error: STATUS_CODES[status] ?? 'Error' };
}

export function sendError(res: Response, status: number, message: string): void {
  res.status(status).json(errorBody(status, message));
}

function sendValidationError(res: Response, problems: string[]): void {
  res.status(400).json({ ...errorBody(400, problems.join('; ')), validation_errors: problems } satisfies OxioErrorBody);
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
