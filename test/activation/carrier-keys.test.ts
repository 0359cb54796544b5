// Whose line it is: the carrier's end user belongs to one of our accounts (not to an e-mail
// address), a line to one activation; what the carrier's searches return is adopted only when it
// carries that key. And what the carrier echoes in its errors reaches neither logs nor last_error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationStore } from '../../src/activation/activation-store.js';
import type { LocalOxio } from '../../src/local/oxio/index.js';
import type { LocalSmtp } from '../../src/local/smtp/server.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/time.js';
import { activateEsim } from '../support/tools.js';
import { qrTexts, seedPaid } from './support.js';

describe('one line per activation, whatever the e-mail', () => {
  let app: TestApp;
  let oxio: LocalOxio;
  let smtp: LocalSmtp;
  beforeAll(async () => {
    app = await startTestApp({ ACTIVATIONS_PER_HOUR: '20', WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1', OXIO_POLL_INTERVAL_MS: '20' });
    oxio = app.service.local.oxio!;
    smtp = app.service.local.smtp!;
  });
  afterAll(() => app.close());

  /** A user and a paid activation: the rows and the enqueuePaid a Stripe payment leads to. */
  async function seedPaidUser(uid: string, email: string): Promise<number> {
    const { db } = app.service;
    const { rows: u } = await db.query<{ id: number }>(
      `INSERT INTO users (firebase_uid, email, email_verified) VALUES ($1, $2, true) RETURNING id`,
      [uid, email],
    );
    const { rows: a } = await db.query<{ id: number }>(
      `INSERT INTO activations (user_id, plan_id, status) VALUES ($1, 'beta_esim_activation', 'awaiting_payment') RETURNING id`,
      [u[0]!.id],
    );
    expect(await db.withTransaction((tx) => activationStore.enqueuePaid(tx, a[0]!.id))).toBe(true);
    return a[0]!.id;
  }

  async function rows(emails: string[]) {
    const { rows } = await app.service.db.query<{ id: number; firebase_uid: string; status: string; oxio_line_id: string | null; lpa_code: string | null; carrier_ref: string }>(
      `SELECT a.id, u.firebase_uid, a.status, a.oxio_line_id, a.lpa_code, a.carrier_ref::text AS carrier_ref
         FROM activations a JOIN users u ON u.id = a.user_id WHERE u.email = ANY($1) ORDER BY a.id`,
      [emails],
    );
    return rows;
  }

  it('two accounts with one e-mail both pay: two lines, and each e-mail scans to its own code', async () => {
    const email = 'shared.inbox@example.com';
    // Two sign-ins (two identity-provider accounts) that verified the same address, both paid.
    const uids = ['uid-shared-one', 'uid-shared-two'];
    for (const uid of uids) await seedPaidUser(uid, email);
    app.service.worker.wake();
    await waitUntil(() => smtp.messages().filter((m) => m.to.includes(email)).length >= 2, { timeoutMs: 20_000, what: 'two e-mails' });

    const lines = oxio.lines().filter((l) => l.email === email);
    expect(lines).toHaveLength(2);
    expect(new Set(lines.map((l) => l.endUserId)).size).toBe(2);
    expect(lines[0]!.activationCode).not.toBe(lines[1]!.activationCode);
    const activations = await rows([email]);
    expect(activations.map((a) => a.status)).toEqual(['active', 'active']);
    // Each activation holds the line made for it (the line carries the activation's key).
    for (const a of activations) {
      const line = lines.find((l) => l.lineId === a.oxio_line_id)!;
      expect(line.externalReference).toContain(a.carrier_ref);
      expect(a.lpa_code).toBe(line.activationCode);
    }
    const scanned = smtp
      .messages()
      .filter((m) => m.to.includes(email))
      .map((m) => qrTexts(m));
    expect(scanned).toHaveLength(2);
    for (const codes of scanned) expect(new Set(codes).size).toBe(1);
    expect(scanned.map((codes) => codes[0]).sort()).toEqual(lines.map((l) => l.activationCode).sort());
    // Each account is told its own number.
    const told = [];
    for (const uid of uids) {
      const answer = await activateEsim(await app.client({ token: app.token(email, { uid }) }));
      expect(answer.structured.status).toBe('active');
      told.push(answer.structured.phone_number);
    }
    expect(told.sort()).toEqual(lines.map((l) => l.phoneNumber).sort());
  });

  it('carrier searches that answer with other accounts’ end users and lines are not adopted', async () => {
    oxio.setSearch({ ignoreFilters: true });
    try {
      const before = oxio.lines().map((l) => l.lineId);
      const buyers = await seedPaid(app.service.db, 2, 'loose-search');
      // The first line's POST is answered 503 after it was made: the search that follows answers
      // every line the carrier has, and only this activation's own may be adopted.
      oxio.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });
      app.service.worker.wake();
      await waitUntil(() => buyers.every((b) => smtp.messages().some((m) => m.to.includes(b.email))), { timeoutMs: 20_000, what: 'two e-mails' });

      const fresh = oxio.lines().filter((l) => !before.includes(l.lineId));
      expect(fresh).toHaveLength(2);
      for (const b of buyers) {
        const [a] = await rows([b.email]);
        const own = fresh.filter((l) => l.email === b.email);
        expect(own, b.email).toHaveLength(1);
        expect(a).toMatchObject({ status: 'active', oxio_line_id: own[0]!.lineId, lpa_code: own[0]!.activationCode });
        const mail = smtp.messages().filter((m) => m.to.includes(b.email));
        expect(mail).toHaveLength(1);
        expect(qrTexts(mail[0]!)).toEqual([own[0]!.activationCode, own[0]!.activationCode]);
      }
    } finally {
      oxio.setSearch({ ignoreFilters: false });
      oxio.clearFailures();
    }
  });

  it('an OXIO error quoting the e-mail address is masked in last_error and in the logs', async () => {
    // The local OXIO refuses an address without a dot in its domain, and quotes it back.
    const email = 'quoted.buyer@localhost';
    const activationId = await seedPaidUser('uid-quoted', email);
    app.service.worker.wake();

    const failed = await waitUntil(
      async () => {
        const { rows } = await app.service.db.query<{ status: string; last_error: string | null }>(
          'SELECT status, last_error FROM activations WHERE id = $1',
          [activationId],
        );
        return rows[0]!.status === 'failed' ? rows[0]! : undefined;
      },
      { timeoutMs: 15_000, what: 'the activation to fail' },
    );
    expect(failed.last_error).toContain('must be a valid e-mail address');
    expect(failed.last_error).toContain('q***@localhost');
    expect(failed.last_error).not.toContain(email);
    expect(app.logs.some((l) => JSON.stringify(l).includes('q***@localhost'))).toBe(true);
    expect(app.rawLogs()).not.toContain(email);
  });
});
