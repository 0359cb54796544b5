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
  sim.clearFailures();
  sim.setInitiatingMs(0);
  sim.setFailureRate(0);
});

afterAll(async () => {
  await sim.close();
});

const linesOf = (email: string) => sim.lines().filter((l) => l.email === email);

describe('OxioClient.provisionEsim against the local OXIO', () => {
  it('provisions an active line with a phone number, an ICCID and the LPA code from OXIO', async () => {
    const email = newEmail();
    const line = await client().provisionEsim({ activationId: nextActivation++, email, firstName: 'Ada', lastName: 'Lovelace' });

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
    const activationId = nextActivation++;
    const oxio = client();
    const before = sim.stats();

    const first = await oxio.provisionEsim({ activationId, email });
    const again = await oxio.provisionEsim({ activationId, email });
    const resumed = await oxio.provisionEsim({ activationId, email, knownEndUserId: first.endUserId, knownLineId: first.lineId });

    expect(again).toEqual(first);
    expect(resumed).toEqual(first);
    expect(linesOf(email)).toHaveLength(1);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('reuses the end user found by e-mail', async () => {
    const email = newEmail();
    const oxio = client();
    const before = sim.stats();

    const id1 = await oxio.findOrCreateEndUser(email, { firstName: 'Grace' });
    const id2 = await oxio.findOrCreateEndUser(email.toUpperCase());
    const line = await oxio.provisionEsim({ activationId: nextActivation++, email });

    expect(id2).toBe(id1);
    expect(line.endUserId).toBe(id1);
    expect(sim.stats().endUserCreates - before.endUserCreates).toBe(1);
  });

  it('retries a POST answered 503 and creates exactly one line', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error', times: 2 });

    const line = await client().provisionEsim({ activationId: nextActivation++, email });

    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(3);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
  });

  it('adopts the line when OXIO created it but answered 503, without a second POST', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });

    const line = await client().provisionEsim({ activationId: nextActivation++, email });

    const stored = linesOf(email);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.lineId).toBe(line.lineId);
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('adopts the line when the POST timed out after OXIO created it, without a second POST', async () => {
    const email = newEmail();
    const before = sim.stats();
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'timeout', delayMs: 1_500 });

    const line = await client({ timeoutMs: 200 }).provisionEsim({ activationId: nextActivation++, email });

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

    const line = await client({ pollIntervalMs: 25 }).provisionEsim({ activationId: nextActivation++, email });

    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(line.status).toBe('ACTIVE');
    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
  });

  it('gives up polling with a retryable error, and a later call resumes with the same line', async () => {
    const email = newEmail();
    const activationId = nextActivation++;
    sim.setInitiatingMs(600);

    const err = await provisionError(client({ pollTimeoutMs: 100 }).provisionEsim({ activationId, email }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/INITIATING/);

    const line = await client({ pollTimeoutMs: 2_000 }).provisionEsim({ activationId, email });
    expect(line.activationCode).toMatch(LPA);
    expect(linesOf(email)).toHaveLength(1);
  });

  it('rejects wrong credentials with a non-retryable error that does not reveal them', async () => {
    const secret = 'wrong-token-V3ry-S3cret';
    const before = sim.stats();
    const err = await provisionError(client({ authToken: secret }).provisionEsim({ activationId: nextActivation++, email: newEmail() }));

    expect(err.retryable).toBe(false);
    expect(err.status).toBe(401);
    const basic = Buffer.from(`${sim.apiKey}:${secret}`).toString('base64');
    for (const text of [err.message, String(err.stack), JSON.stringify(err)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(basic);
    }
    expect(sim.stats().requests - before.requests).toBe(1);
  });

  it('surfaces the upstream message of a validation error, without retrying', async () => {
    const before = sim.stats();
    const err = await provisionError(
      client().provisionEsim({ activationId: nextActivation++, email: newEmail(), preferredAreaCode: '12' }),
    );

    expect(err.retryable).toBe(false);
    expect(err.status).toBe(400);
    expect(err.message).toContain('preferredAreaCode must be a 3-digit US area code');
    expect(sim.stats().lineCreateRequests - before.lineCreateRequests).toBe(1);
  });

  it('throws a retryable error once retries are exhausted', async () => {
    const before = sim.stats();
    sim.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error', times: 10 });

    const err = await provisionError(client({ maxRetries: 2 }).provisionEsim({ activationId: nextActivation++, email: newEmail() }));

    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/gave up after 3 attempts/);
    expect(sim.stats().requests - before.requests).toBe(3);
  });

  it('treats an unreachable OXIO as retryable', async () => {
    const gone = await startLocalOxio({ latencyMs: 0 });
    const url = gone.url;
    await gone.close();

    const err = await provisionError(client({ baseUrl: url, maxRetries: 1 }).provisionEsim({ activationId: nextActivation++, email: newEmail() }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/network error/);
  });

  it('logs fields but never credentials, the LPA code, the ICCID or the e-mail in full', async () => {
    const email = newEmail();
    const logged: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) });
    sim.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });
    sim.setInitiatingMs(100);

    const line = await client({ logger }).provisionEsim({ activationId: nextActivation++, email });

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

    const line = await client().provisionEsim({ activationId: nextActivation++, email });

    expect(linesOf(email).map((l) => l.lineId)).toEqual([line.lineId]);
    expect(sim.stats().lineCreates - before.lineCreates).toBe(1);
  });
});
