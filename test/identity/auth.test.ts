// Sign-in at the MCP endpoint, through real HTTP: who may call activate_esim, which tokens are
// refused, and automatic registration from the verified token. The 401 without a token and the
// protected-resource metadata it points at (RFC 6750 / RFC 9728) are in test/mcp/contract.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidForEmail } from '../../src/local/firebase/tokens.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sleep } from '../support/time.js';
import { expectBearerChallenge } from '../support/challenge.js';

interface RpcAnswer {
  status: number;
  headers: Headers;
  body: {
    result?: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ type: string; text: string }> };
    error?: { code: number; message: string };
    [k: string]: unknown;
  };
}

/** One tools/call as curl would send it: plain JSON, optional Authorization header. */
async function callTool(t: TestApp, name: string, args: Record<string, unknown>, authorization?: string): Promise<RpcAnswer> {
  const res = await fetch(t.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as RpcAnswer['body'] };
}

const bearer = (token: string) => `Bearer ${token}`;
const textOf = (a: RpcAnswer) => a.body.result?.content?.map((c) => c.text).join('\n') ?? '';

interface UserRow {
  id: number;
  firebase_uid: string;
  email: string;
  email_verified: boolean;
  created_at: Date;
  updated_at: Date;
  last_seen_at: Date;
}

async function usersWithUid(t: TestApp, uid: string): Promise<UserRow[]> {
  const { rows } = await t.service.db.query<UserRow>(
    'SELECT id, firebase_uid, email, email_verified, created_at, updated_at, last_seen_at FROM users WHERE firebase_uid = $1',
    [uid],
  );
  return rows;
}

async function invoiceRowsOf(t: TestApp, uid: string): Promise<number> {
  const { rows } = await t.service.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM invoices i JOIN users u ON u.id = i.user_id WHERE u.firebase_uid = $1',
    [uid],
  );
  return rows[0]!.n;
}

/** The database clock's minute: the per-user limit counts calls in these fixed buckets. */
async function clockMinute(t: TestApp): Promise<number> {
  const { rows } = await t.service.db.query<{ m: number }>("SELECT extract(epoch FROM date_trunc('minute', clock_timestamp()))::float8 AS m");
  return Number(rows[0]!.m);
}

// Every address used below; none may appear in full in the logs.
const EMAILS = {
  main: 'amelia.traveller@example.com',
  sdk: 'alex.sdk@example.com',
  first: 'anna.first@example.com',
  crowd: 'aaron.crowd@example.com',
  renamed: 'arthur.old@example.com',
  renamedNew: 'arthur.new@example.net',
  mismatch: 'adele.mismatch@example.com',
  matching: 'andre.matching@example.com',
  disabled: 'abel.disabled@example.com',
} as const;

describe('sign-in at the MCP endpoint', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('catalogue tools work without a token (raw HTTP and the SDK client)', async () => {
    const raw = await callTool(t, 'search_services', { query: 'Global Data eSIM' });
    expect(raw.status).toBe(200);
    expect(raw.body.result?.isError).toBeFalsy();
    const client = await t.client();
    const r = await client.callTool({ name: 'calculate_pricing', arguments: { service_ids: ['beta_esim_activation'] } });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { totals: { one_time: { amount: string } } }).totals.one_time.amount).toBe('1.00');
  });

  describe('activate_esim refuses a caller with a bad token: 401 pointing at the resource metadata', () => {
    const cases: Array<[string, (t: TestApp) => string | undefined | Promise<string | undefined>]> = [
      ['a malformed header (Basic)', () => 'Basic YWxpY2U6c2VjcmV0'],
      ['a malformed header (Bearer without a token)', () => 'Bearer'],
      ['a malformed header (two tokens)', (t) => `Bearer ${t.token(EMAILS.main)} extra`],
      ['an expired token', (t) => bearer(t.token(EMAILS.main, { ttlSeconds: -60 }))],
      ['a token for another project', (t) => bearer(t.token(EMAILS.main, { projectId: 'other-project' }))],
      ['a garbage token', () => bearer('not-a-jwt-at-all')],
      ['a JWT-shaped garbage token', () => bearer('eyJhbGciOiJub25lIn0.eyJmb28iOiJiYXIifQ.')],
      [
        'a token of a disabled user',
        (t) => {
          t.service.local.firebase!.disableUser(uidForEmail(EMAILS.disabled));
          return bearer(t.token(EMAILS.disabled));
        },
      ],
    ];

    it.each(cases)('%s', async (_label, authorization) => {
      const before = t.service.local.stripe!.counts();
      const res = await callTool(t, 'activate_esim', {}, await authorization(t));
      expect(res.status).toBe(401);
      expectBearerChallenge(res.headers.get('www-authenticate'), t.url);
      // Nothing leaks and nothing happens.
      expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|firebase-admin|stack/i);
      expect(t.service.local.stripe!.counts()).toEqual(before);
    });

    it('a disabled user is not registered', async () => {
      expect(await usersWithUid(t, uidForEmail(EMAILS.disabled))).toEqual([]);
    });
  });

  it('the SDK client with a valid token reaches activate_esim', async () => {
    const client = await t.client({ token: t.token(EMAILS.sdk) });
    const r = await client.callTool({ name: 'activate_esim', arguments: {} });
    expect(r.isError).toBeFalsy();
    const s = r.structuredContent as { status: string; invoice_url?: string; activation_id: string };
    expect(s.status).toBe('awaiting_payment');
    expect(s.invoice_url).toMatch(/^http/);
    expect(s.activation_id).toMatch(/^act_\d+$/);
  });

  it('the first call registers the user from the token: uid, e-mail, verified flag, timestamps', async () => {
    const uid = uidForEmail(EMAILS.first);
    expect(await usersWithUid(t, uid)).toEqual([]);
    const res = await callTool(t, 'activate_esim', {}, bearer(t.token(EMAILS.first)));
    expect(res.status).toBe(200);
    expect(res.body.result?.isError).toBeFalsy();
    const rows = await usersWithUid(t, uid);
    expect(rows).toHaveLength(1);
    const user = rows[0]!;
    expect(user).toMatchObject({ firebase_uid: uid, email: EMAILS.first, email_verified: true });
    expect(user.created_at).toBeInstanceOf(Date);
    expect(user.updated_at).toBeInstanceOf(Date);
    expect(Math.abs(user.created_at.getTime() - Date.now())).toBeLessThan(60_000);
    expect(user.updated_at.getTime()).toBeGreaterThanOrEqual(user.created_at.getTime());
  });

  it('20 concurrent first calls with one token create exactly one user', async () => {
    const uid = uidForEmail(EMAILS.crowd);
    const token = t.token(EMAILS.crowd);
    const answers = await Promise.all(Array.from({ length: 20 }, () => callTool(t, 'activate_esim', {}, bearer(token))));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.result?.isError, textOf(a)).toBeFalsy();
      expect(a.body.result?.structuredContent?.status).toBe('awaiting_payment');
    }
    expect(new Set(answers.map((a) => a.body.result?.structuredContent?.invoice_url)).size).toBe(1);
    expect(await usersWithUid(t, uid)).toHaveLength(1);
    expect(await invoiceRowsOf(t, uid)).toBe(1);
  });

  it('a later token with a changed e-mail updates the user row (same uid, same row)', async () => {
    const uid = uidForEmail(EMAILS.renamed);
    await callTool(t, 'activate_esim', {}, bearer(t.token(EMAILS.renamed, { uid })));
    const [before] = await usersWithUid(t, uid);
    expect(before!.email).toBe(EMAILS.renamed);
    await sleep(20);
    const res = await callTool(t, 'activate_esim', {}, bearer(t.token(EMAILS.renamedNew, { uid })));
    expect(res.status).toBe(200);
    const rows = await usersWithUid(t, uid);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(before!.id);
    expect(rows[0]!.email).toBe(EMAILS.renamedNew);
    expect(rows[0]!.created_at.getTime()).toBe(before!.created_at.getTime());
    expect(rows[0]!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
    const { rows: others } = await t.service.db.query('SELECT id FROM users WHERE email = $1', [EMAILS.renamedNew]);
    expect(others).toHaveLength(1);
  });

  describe('email / firebase_uid arguments', () => {
    it.each([
      ['another e-mail', { email: 'someone.else@example.com' }, /email argument does not match/i],
      ['another uid', { firebase_uid: 'local_0123456789abcdef01234567' }, /firebase_uid argument does not match/i],
      ['a matching e-mail but another uid', { email: EMAILS.mismatch, firebase_uid: 'victim-uid' }, /firebase_uid argument does not match/i],
    ])('%s: refused with a clear message, nothing changes', async (_label, args, message) => {
      const uid = uidForEmail(EMAILS.mismatch);
      const before = t.service.local.stripe!.counts();
      const res = await callTool(t, 'activate_esim', args, bearer(t.token(EMAILS.mismatch)));
      expect(res.status).toBe(200);
      expect(res.body.result?.isError).toBe(true);
      expect(textOf(res)).toMatch(message);
      expect(textOf(res)).toMatch(/leave it out/i);
      expect(await usersWithUid(t, uid)).toEqual([]);
      expect(await usersWithUid(t, 'victim-uid')).toEqual([]);
      expect(t.service.local.stripe!.counts()).toEqual(before);
    });

    it('matching ones are accepted (e-mail compared without case)', async () => {
      const uid = uidForEmail(EMAILS.matching);
      const res = await callTool(
        t,
        'activate_esim',
        { email: EMAILS.matching.toUpperCase(), firebase_uid: uid, plan_id: 'beta_esim_activation' },
        bearer(t.token(EMAILS.matching)),
      );
      expect(res.body.result?.isError, textOf(res)).toBeFalsy();
      expect(res.body.result?.structuredContent?.status).toBe('awaiting_payment');
      expect(await usersWithUid(t, uid)).toHaveLength(1);
    });
  });

  it('logs mask every e-mail address: a***@example.com, never the full address', async () => {
    const logs = t.rawLogs();
    for (const email of Object.values(EMAILS)) expect(logs, email).not.toContain(email);
    expect(logs.toLowerCase()).not.toContain(EMAILS.matching.toLowerCase());
    expect(logs).toContain('a***@example.com');
    // Tokens are secrets too.
    expect(logs).not.toContain(t.token(EMAILS.main).split('.')[1]!.slice(0, 40));
  });
});

describe('a user without a verified e-mail', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('gets a tool error telling what to do, and no invoice', async () => {
    const email = 'ava.unverified@example.com';
    const client = await t.client({ token: t.token(email, { emailVerified: false }) });
    const r = await client.callTool({ name: 'activate_esim', arguments: {} });
    expect(r.isError).toBe(true);
    const text = (r.content as Array<{ text: string }>).map((c) => c.text).join('\n');
    expect(text).toMatch(/not verified/i);
    expect(text).toMatch(/verify it/i);
    expect(text).toMatch(/sign in again/i);
    expect(text).not.toContain(email);
    expect(t.service.local.stripe!.counts().invoices).toBe(0);
    expect(t.service.local.stripe!.counts().customers).toBe(0);
    const { rows } = await t.service.db.query<{ n: number }>('SELECT count(*)::int AS n FROM invoices');
    expect(rows[0]!.n).toBe(0);
    const { rows: activations } = await t.service.db.query<{ n: number }>('SELECT count(*)::int AS n FROM activations');
    expect(activations[0]!.n).toBe(0);
  });

  it('once verified, the same account gets its invoice', async () => {
    const email = 'ava.unverified@example.com';
    const client = await t.client({ token: t.token(email, { emailVerified: true }) });
    const r = await client.callTool({ name: 'activate_esim', arguments: {} });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { status: string }).status).toBe('awaiting_payment');
    const { rows } = await t.service.db.query<{ email_verified: boolean }>('SELECT email_verified FROM users WHERE firebase_uid = $1', [
      uidForEmail(email),
    ]);
    expect(rows).toEqual([{ email_verified: true }]);
    expect(t.service.local.stripe!.counts().invoices).toBe(1);
  });
});

describe('the per-user call limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ USER_CALLS_PER_MINUTE: '3' });
  });
  afterAll(() => t.close());

  it('refuses the 4th call in a minute with a clear message; other users are unaffected', async () => {
    let token = '';
    // The four calls must fall in one clock minute; if a boundary falls between them, try again
    // with a fresh account.
    for (let attempt = 1; ; attempt++) {
      token = t.token(`adam.busy${attempt}@example.com`);
      const minute = await clockMinute(t);
      const first3 = [];
      for (let i = 0; i < 3; i++) first3.push(await callTool(t, 'activate_esim', {}, bearer(token)));
      const before = t.service.local.stripe!.counts();
      const fourth = await callTool(t, 'activate_esim', {}, bearer(token));
      const after = t.service.local.stripe!.counts();
      if ((await clockMinute(t)) !== minute && attempt < 3) continue;

      first3.forEach((ok, i) => expect(ok.body.result?.isError, `call ${i + 1}: ${textOf(ok)}`).toBeFalsy());
      expect(fourth.status).toBe(200);
      expect(fourth.body.result?.isError).toBe(true);
      expect(textOf(fourth)).toMatch(/too many requests/i);
      expect(textOf(fourth)).toMatch(/3 a minute/);
      expect(textOf(fourth)).toMatch(/wait a minute/i);
      expect(after).toEqual(before);
      break;
    }

    const other = await callTool(t, 'activate_esim', {}, bearer(t.token('alma.calm@example.com')));
    expect(other.body.result?.isError, textOf(other)).toBeFalsy();
    // Catalogue tools are not counted against the user.
    const catalogue = await callTool(t, 'get_service_details', { service_id: 'beta_esim_activation' }, bearer(token));
    expect(catalogue.body.result?.isError).toBeFalsy();
  });
});
