// Property-based fuzzing of the MCP endpoint, in process over keep-alive HTTP: generated bodies
// (single messages, batches up to and over 100, requests, notifications, responses, junk) and
// headers (Accept, Content-Type, Mcp-Protocol-Version, Origin, Authorization). Whatever arrives:
// no 5xx, and when the POST as a whole is accepted, every message with an id is answered exactly
// once with its id. What to expect is worked out from the SDK's own schema, not from our code.
import { Agent, request } from 'node:http';
import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

const ALLOWED_ORIGIN = 'https://chatgpt.com';
const RUNS = 10_000;

interface Reply {
  status: number;
  contentType: string;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: URL, body: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// --- generated input ---------------------------------------------------------------------------

const junkScalar = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 53 + 2, '', '2.0', 'r1'),
  fc.integer(),
  fc.string({ maxLength: 6 }),
);
const id = fc.oneof({ weight: 8, arbitrary: fc.oneof(fc.nat(1_000_000), fc.string({ minLength: 1, maxLength: 8 })) }, { weight: 1, arbitrary: junkScalar });
const toolCall = fc.oneof(
  fc.record({ name: fc.constant('search_services'), arguments: fc.record({ query: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }) }),
  fc.record({ name: fc.constant('calculate_pricing'), arguments: fc.record({ service_ids: fc.array(fc.constantFrom('beta_esim_activation', 'basic_membership', 'nope'), { maxLength: 3 }) }) }),
  fc.record({ name: fc.constant('get_service_details'), arguments: fc.record({ service_id: fc.constantFrom('full_membership', 'nope') }) }),
  fc.record({ name: fc.constant('compare_memberships'), arguments: fc.constant({}) }),
  fc.record({ name: fc.string({ maxLength: 10 }), arguments: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
);
const method = fc.constantFrom('ping', 'tools/list', 'resources/list', 'prompts/list', 'resources/templates/list', 'initialize', 'resources/read', 'prompts/get', 'tools/explode', 'completion/complete', 'logging/setLevel');
const request_ = fc.oneof(
  { weight: 10, arbitrary: fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.constant('tools/call'), params: toolCall }) },
  { weight: 10, arbitrary: fc.record({ jsonrpc: fc.constant('2.0'), id, method, params: fc.dictionary(fc.constantFrom('uri', 'name', 'cursor', '_meta', 'level'), junkScalar, { maxKeys: 2 }) }, { requiredKeys: ['jsonrpc', 'id', 'method'] }) },
  // Rare: the one tool that acts for a user (it needs a token and creates an invoice).
  { weight: 1, arbitrary: fc.constant({ name: 'activate_esim', arguments: {} }).chain((params) => fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.constant('tools/call'), params: fc.constant(params) })) },
);
const notification = fc.record(
  {
    jsonrpc: fc.constant('2.0'),
    method: fc.constantFrom('notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed', 'x/y'),
    params: fc.record({ requestId: fc.oneof(fc.constantFrom('r1', 'r2', 'r3'), id), progressToken: id, progress: fc.integer() }, { requiredKeys: [] }),
  },
  { requiredKeys: ['jsonrpc', 'method'] },
);
const response = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id, result: fc.dictionary(fc.string({ maxLength: 4 }), junkScalar, { maxKeys: 2 }) }),
  fc.record({ jsonrpc: fc.constant('2.0'), id, error: fc.record({ code: fc.integer(), message: fc.string({ maxLength: 8 }) }) }, { requiredKeys: ['jsonrpc', 'error'] }),
);
/** A message, sometimes bent: a field added, replaced or removed. */
const bent = <T extends object>(m: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 4, arbitrary: m as fc.Arbitrary<unknown> },
    {
      weight: 1,
      arbitrary: fc.tuple(m, fc.constantFrom('jsonrpc', 'id', 'method', 'params', 'result', 'error', 'extra'), fc.option(junkScalar)).map(([msg, key, value]) => {
        const copy = { ...msg } as Record<string, unknown>;
        if (value === null) delete copy[key];
        else copy[key] = value;
        return copy as unknown;
      }),
    },
  );
const message: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: bent(request_) },
  { weight: 3, arbitrary: bent(notification) },
  { weight: 1, arbitrary: bent(response) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const body = fc.oneof(
  { weight: 60, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 30, arbitrary: fc.array(message, { minLength: 1, maxLength: 8 }).map((b) => JSON.stringify(b)) },
  // Rare, being a hundred messages each: batches at the limit and just over it.
  { weight: 1, arbitrary: fc.array(fc.oneof(bent(notification), fc.constant({ jsonrpc: '2.0', id: 1, method: 'ping' })), { minLength: 98, maxLength: 102 }).map((b) => JSON.stringify(b)) },
  { weight: 4, arbitrary: fc.constantFrom('', '[]', 'null', '{', '[{"jsonrpc":"2.0","id":1,', '"ping"', '42', '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', '\u0000') },
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
);

const headerText = fc.string({ unit: fc.constantFrom(...'abcXYZ019 /;=,*-_.:+'.split('')), maxLength: 24 });
/** Absent, well formed or garbage, in the given proportions. */
const header = (absent: number, good: fc.Arbitrary<string>, goodWeight: number, badWeight: number) =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: goodWeight, arbitrary: good }, { weight: badWeight, arbitrary: headerText });
const headers = fc
  .record({
    accept: header(2, fc.constantFrom('application/json', 'text/event-stream', 'application/json, text/event-stream', '*/*'), 6, 1),
    'content-type': fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 12, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-8', 'application/json; charset=latin1') },
      { weight: 1, arbitrary: headerText },
    ),
    'mcp-protocol-version': header(5, fc.constantFrom(...SUPPORTED_PROTOCOL_VERSIONS), 4, 1),
    origin: fc.oneof(
      { weight: 7, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constant(ALLOWED_ORIGIN) },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('https://evil.example', 'null'), headerText) },
    ),
    authorization: header(8, fc.constantFrom('VALID', 'VALID', 'Bearer abc.def.ghi', 'Basic Zm9vOmJhcg=='), 1, 1),
  })
  .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>);

// --- what to expect, from the SDK's schema -----------------------------------------------------

type Expected =
  | { kind: 'status'; status: number; code?: number }
  | { kind: 'answers'; status: 200 | 400 | 202; batch: boolean; ids: Array<string | number | null>; invalid: number };

const idOf = (m: unknown) => {
  const v = m && typeof m === 'object' && !Array.isArray(m) ? (m as { id?: unknown }).id : null;
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;
};

function expectation(text: string, h: Record<string, string>, ownOrigin: string, tokenValid: (header: string) => boolean): Expected {
  if (h.origin && h.origin !== ownOrigin && h.origin !== ALLOWED_ORIGIN) return { kind: 'status', status: 403 };
  const charset = /;\s*charset=([^;\s]*)/i.exec(h['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== '' && !charset.startsWith('utf-') && /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*;/.test(h['content-type']!)) {
    return { kind: 'status', status: 415 };
  }
  let value: unknown;
  try {
    value = text === '' ? undefined : JSON.parse(text);
  } catch {
    return { kind: 'status', status: 400, code: -32700 };
  }
  const batch = Array.isArray(value);
  const messages = batch ? (value as unknown[]) : [value];
  if (value === undefined || value === null || messages.length === 0 || messages.length > 100) return { kind: 'status', status: 400 };
  const ids: Array<string | number | null> = [];
  let valid = 0;
  let invalid = 0;
  let needsToken = false;
  for (const m of messages) {
    if (!JSONRPCMessageSchema.safeParse(m).success) {
      ids.push(idOf(m));
      invalid += 1;
      continue;
    }
    valid += 1;
    const msg = m as { id?: string | number; method?: string; params?: { name?: unknown } };
    if (msg.method !== undefined && msg.id !== undefined) {
      ids.push(msg.id);
      if (msg.method === 'tools/call' && msg.params?.name === 'activate_esim') needsToken = true;
    }
  }
  if (valid === 0) return { kind: 'answers', status: 400, batch, ids, invalid };
  const version = h['mcp-protocol-version'];
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return { kind: 'status', status: 400, code: -32000 };
  if (h.authorization ? !tokenValid(h.authorization) : needsToken) return { kind: 'status', status: 401 };
  return { kind: 'answers', status: ids.length ? 200 : 202, batch, ids, invalid };
}

interface Answer {
  jsonrpc?: unknown;
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

function answersOf(reply: Reply): Answer[] {
  if (reply.contentType.includes('text/event-stream')) {
    return reply.text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Answer);
  }
  const parsed = JSON.parse(reply.text) as Answer | Answer[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

const sortKey = (v: unknown) => JSON.stringify(v);

describe('MCP endpoint fuzzing', () => {
  let t: TestApp;
  let url: URL;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp({ ALLOWED_ORIGINS: ALLOWED_ORIGIN, LOG_LEVEL: 'error' }, { overrides: { startWorkers: false } });
    url = new URL(t.mcpUrl);
    token = t.token('fuzz@example.com');
  });
  afterAll(async () => {
    agent.destroy();
    await t?.close();
  });

  it(`${RUNS} generated requests: no 5xx, every message with an id answered exactly once`, async () => {
    const ownOrigin = new URL(t.url).origin;
    const tokenValid = (header: string) => header === `Bearer ${token}`;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, headers, async (text, h) => {
        if (h.authorization === 'VALID') h.authorization = `Bearer ${token}`;
        const reply = await post(url, text, h);
        expect(reply.status).toBeLessThan(500);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        // What the server reads: values without surrounding blanks.
        const seen = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.trim()]));
        const want = expectation(text, seen, ownOrigin, tokenValid);
        expect(reply.status).toBe(want.status);
        if (want.kind === 'status') {
          if (want.code !== undefined) expect((JSON.parse(reply.text) as Answer).error?.code).toBe(want.code);
          return;
        }
        if (want.status === 202) {
          expect(reply.text).toBe('');
          return;
        }
        const answers = answersOf(reply);
        if (!reply.contentType.includes('text/event-stream')) expect(Array.isArray(JSON.parse(reply.text))).toBe(want.batch);
        expect(answers.map((a) => sortKey(a.id)).sort()).toEqual(want.ids.map(sortKey).sort());
        let invalid = 0;
        for (const a of answers) {
          expect(a.jsonrpc).toBe('2.0');
          expect('result' in a !== 'error' in a).toBe(true);
          // Internal errors and deadlines would mean a handler failed or hung.
          expect(a.error?.code).not.toBe(-32603);
          expect(a.error?.code).not.toBe(-32001);
          if (a.error?.code === -32600) invalid += 1;
        }
        expect(invalid).toBe(want.invalid);
      }),
      { numRuns: RUNS },
    );
    // Most requests get past the HTTP checks (origin, charset, version, token) and reach the server.
    expect((statuses.get(200) ?? 0) + (statuses.get(202) ?? 0), JSON.stringify(Object.fromEntries(statuses))).toBeGreaterThan(RUNS * 0.4);
    expect(t.service.mcp.inFlight()).toBe(0);
    expect(t.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  }, 240_000);
});
