import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOxio, type LocalOxio } from '../../src/local/oxio/index.js';
import { OxioClient, OxioError, type OxioClientOptions } from '../../src/telecom/oxio-client.js';

const silent = pino({ level: 'silent' });
const LPA = /^LPA:1\$smdp\.sim\.local\$[0-9A-F]{32}$/;

let sim: LocalOxio;
let nextActivation = 1;
let emailCounter = 0;
const newEmail = () => `buyer${++emailCounter}.${Date.now()}@example.com`;
/** One purchase: its own account key unless given, its own activation key. */
const order = (email: string, customerKey = `uid-${randomUUID()}`) => ({
  activationId: nextActivation++,
  customerKey,
  activationKey: randomUUID(),
  email,
});

function client(overrides: Partial<OxioClientOptions> = {}): OxioClient {
  return new OxioClient({
    baseUrl: sim.url,
    apiKey: sim.apiKey,
    authToken: sim.authToken,
    timeoutMs: 1_000,
    maxRetries: 3,
    retryBaseMs: 10,
    pollIntervalMs: 20,
    pollTimeoutMs: 2_000,
    logger: silent,
    ...overrides,
  });
}

async function provisionError(promise: Promise<unknown>): Promise<OxioError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OxioError);
  return err as OxioError;
}

beforeAll(async () => {
  sim = await startLocalOxio({ latencyMs: 1, apiKey: 'test-key', authToken: 'test-auth-token-s3cr3t' });
});

afterEach(() => {
  sim.setSearch({ ignoreFilters: false });
  sim.clearFailures();
  sim.setInitiatingMs(0);
  sim.setFailureRate(0);
  sim.setActivationCode(undefined);
});

afterAll(async () => {
  await sim.close();
});

const linesOf = (email: string) => sim.lines().filter((l) => l.email === email);

describe('OxioClient.provisionEsim against the local OXIO', () => {
  it('provisions an active line with a phone number, an ICCID and the LPA code from OXIO', async () => {
    const email = newEmail();
    const line = await client().provisionEsim({ ...order(email), firstName: 'Ada', lastName: 'Lovelace' });

    expect(line.status).toBe('ACTIVE');
    expect(line.phoneNumber).toMatch(/^\+1555\d{7}$/);
    expect(line.iccid).toMatch(/^8901\d{15,16}$/);
    expect(line.activationCode).toMatch(LPA);
    expect(line.activationCode).not.toContain(line.iccid);

    const stored = linesOf(email);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      lineId: line.lineId,
      endUserId: line.endUserId,
      phoneNumber: line.phoneNumber,
      iccid: line.iccid,
      activationCode: line.activationCode,
    });
  });

  it('gives the same line when called again for the same activation', async () => {
    const email = newEmail();
    const req = order(email);
    const oxio = client();
    const before = sim.stats();

    const first = await oxio.provisionEsim(req);
    const again = await oxio.provisionEsim(req);
    const resumed = await oxio.provisionEsim({ ...req, knownEndUserId: first.endUserId, knownLineId: first.lineId });

    expect(again).toEqual(first);
    expect(resumed).toEqual(first);
    expect(linesOf(email)).toHaveLength(1);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('keeps one end user per account, found by the account key, whatever the e-mail', async () => {
    const email = newEmail();
    const oxio = client();
    const before = sim.stats();

    const id1 = await oxio.findOrCreateEndUser('uid-grace', email, { firstName: 'Grace' });
    const id2 = await oxio.findOrCreateEndUser('uid-grace', email.toUpperCase());
    const line = await oxio.provisionEsim(order(email, 'uid-grace'));
    // Another account with the same address is another end user.
    const other = await oxio.findOrCreateEndUser('uid-other-grace', email);

    expect(id2).toBe(id1);
    expect(line.endUserId).toBe(id1);
    expect(other).not.toBe(id1);
    expect(sim.stats().endUserCreates - before.endUserCreates).toBe(2);
  });

  it('retries a POST answered 503 and creates exactly one line', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error', times: 2 });

    const line = await client().provisionEsim({ ...order(email) });

    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(3);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
  });

  it('adopts the line when OXIO created it but answered 503, without a second POST', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });

    const line = await client().provisionEsim({ ...order(email) });

    const stored = linesOf(email);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.lineId).toBe(line.lineId);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('adopts the line when the POST timed out after OXIO created it, without a second POST', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'timeout', delayMs: 1_500 });

    const line = await client({ timeoutMs: 200 }).provisionEsim({ ...order(email) });

    const stored = linesOf(email);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.lineId).toBe(line.lineId);
    expect(line.activationCode).toBe(stored[0]?.activationCode);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('polls an INITIATING line until it is ACTIVE', async () => {
    const email = newEmail();
    sim.setInitiatingMs(300);
    const started = Date.now();

    const line = await client({ pollIntervalMs: 25 }).provisionEsim({ ...order(email) });

    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(line.status).toBe('ACTIVE');
    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
  });

  it('gives up polling with a retryable error, and a later call resumes with the same line', async () => {
    const email = newEmail();
    const req = order(email);
    sim.setInitiatingMs(600);

    const err = await provisionError(client({ pollTimeoutMs: 100 }).provisionEsim(req));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/INITIATING/);

    const line = await client({ pollTimeoutMs: 2_000 }).provisionEsim(req);
    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
  });

  it('rejects wrong credentials with a non-retryable error that does not reveal them', async () => {
    const secret = 'wrong-token-V3ry-S3cret';
    const before = sim.stats();
    const err = await provisionError(client({ authToken: secret }).provisionEsim({ ...order(newEmail()) }));

    expect(err.retryable).toBe(false);
    expect(err.status).toBe(401);
    const basic = Buffer.from(`${sim.apiKey}:${secret}`).toString('base64');
    for (const text of [err.message, String(err.stack), JSON.stringify(err)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(basic);
    }
    expect(sim.stats().requests - before.requests).toBe(1);
  });

  it('refuses a line whose activation code is not SGP.22, without retrying and without quoting it', async () => {
    const broken = 'LPA:1$smdp.example.com$AB+CD';
    sim.setActivationCode(broken);
    const email = newEmail();
    const req = order(email);
    const before = sim.stats();
    const err = await provisionError(client().provisionEsim(req));

    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/malformed activation code \(not an LPA activation code: bad matching id\)/);
    expect(err.message).not.toContain(broken);
    expect(linesOf(email)).toHaveLength(1);
    // Polling the same record again gives the same code: one look, no retries.
    expect(sim.stats().requests - before.requests).toBe(4);
    // Looked up before an activation is given up: the same refusal, not a line to deliver.
    const found = await provisionError(client().findExistingLine(req));
    expect(found.retryable).toBe(false);
  });

  it('surfaces the upstream message of a validation error, without retrying', async () => {
    const before = sim.stats();
    const err = await provisionError(
      client().provisionEsim({ ...order(newEmail()), preferredAreaCode: '12' }),
    );

    expect(err.retryable).toBe(false);
    expect(err.status).toBe(400);
    expect(err.message).toContain('preferredAreaCode must be a 3-digit US area code');
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('throws a retryable error once retries are exhausted', async () => {
    const before = sim.stats();
    sim.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error', times: 10 });

    const err = await provisionError(client({ maxRetries: 2 }).provisionEsim({ ...order(newEmail()) }));

    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/gave up after 3 attempts/);
    expect(sim.stats().requests - before.requests).toBe(3);
  });

  it('treats an unreachable OXIO as retryable', async () => {
    const gone = await startLocalOxio({ latencyMs: 0 });
    const url = gone.url;
    await gone.close();

    const err = await provisionError(client({ baseUrl: url, maxRetries: 1 }).provisionEsim({ ...order(newEmail()) }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/network error/);
  });

  it('logs fields but never credentials, the LPA code, the ICCID or the e-mail in full', async () => {
    const email = newEmail();
    const logged: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) });
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });
    sim.setInitiatingMs(100);

    const line = await client({ logger }).provisionEsim({ ...order(email) });

    const output = logged.join('');
    expect(logged.length).toBeGreaterThan(3);
    expect(output).toContain(line.lineId);
    for (const secret of [sim.authToken, Buffer.from(`${sim.apiKey}:${sim.authToken}`).toString('base64'), line.activationCode, line.iccid, line.phoneNumber, email]) {
      expect(output).not.toContain(secret);
    }
  });

  it('creates a line via the POST retry when the listing after a failure finds none', async () => {
    const email = newEmail();
    const before = sim.stats();
    // The first POST fails before doing anything, and the listing that follows fails once too.
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error' });
    sim.injectFailure({ method: 'GET', path: /^\/v3\/end-users\/[^/]+\/lines$/, mode: 'error', times: 1 });

    const line = await client().provisionEsim({ ...order(email) });

    expect(linesOf(email).map((l) => l.lineId)).toEqual([line.lineId]);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
  });
});

describe('whose end user and whose line: only what carries our key', () => {
  it('two accounts with one e-mail get two end users and two lines, each with its own code', async () => {
    const email = newEmail();
    const oxio = client();
    const first = await oxio.provisionEsim(order(email, 'uid-twin-a'));
    const second = await oxio.provisionEsim(order(email, 'uid-twin-b'));

    expect(second.endUserId).not.toBe(first.endUserId);
    expect(second.lineId).not.toBe(first.lineId);
    expect(second.activationCode).not.toBe(first.activationCode);
    expect(linesOf(email).map((l) => l.lineId).sort()).toEqual([first.lineId, second.lineId].sort());
  });

  it('a second activation of one account gets its own line, not the first one’s', async () => {
    const email = newEmail();
    const oxio = client();
    const first = await oxio.provisionEsim(order(email, 'uid-again'));
    const second = await oxio.provisionEsim(order(email, 'uid-again'));

    expect(second.endUserId).toBe(first.endUserId);
    expect(second.lineId).not.toBe(first.lineId);
  });

  it('searches that ignore their filter hand over nobody else’s end user or line', async () => {
    const oxio = client();
    // Someone else's end user and line exist; then every search answers everything it holds.
    const someoneElse = await oxio.provisionEsim(order(newEmail()));
    sim.setSearch({ ignoreFilters: true });
    const before = sim.stats();
    const email = newEmail();

    const own = await oxio.provisionEsim(order(email));
    expect(own.endUserId).not.toBe(someoneElse.endUserId);
    expect(own.lineId).not.toBe(someoneElse.lineId);
    expect(own.activationCode).not.toBe(someoneElse.activationCode);
    expect(sim.stats().endUserCreates - before.endUserCreates).toBe(1);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);

    // A lost answer to "create line" is followed by a search: it adopts only this activation's line.
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });
    const req = order(newEmail());
    const adopted = await oxio.provisionEsim(req);
    const created = sim.lines().filter((l) => l.externalReference?.includes(req.activationKey));
    expect(created.map((l) => l.lineId)).toEqual([adopted.lineId]);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(2);

    // The look-up before giving up finds nothing for an activation that never made a line.
    expect(await oxio.findExistingLine(order(newEmail()))).toEqual({ state: 'none' });
    expect(await oxio.findExistingLine(req)).toMatchObject({ state: 'active', line: { lineId: adopted.lineId } });
  });
});

describe('what OXIO echoes in its errors', () => {
  it('e-mail addresses in an error answer are masked in the error and in the log lines', async () => {
    const logged: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) });
    // The local OXIO refuses an address without a dot in the domain, and quotes it back.
    const email = `buyer${++emailCounter}@localhost`;

    const err = await provisionError(client({ logger }).provisionEsim(order(email)));

    expect(err.status).toBe(400);
    expect(err.message).toContain('must be a valid e-mail address');
    expect(err.message).toContain(`b***@localhost`);
    for (const text of [err.message, String(err.stack), logged.join('')]) expect(text).not.toContain(email);
  });
});
