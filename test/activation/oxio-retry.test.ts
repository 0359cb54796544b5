// OXIO errors and timeouts end in exactly one line: retried inside the client, or retried by the
// worker once the client gives up; the next attempt finds what an unanswered call created. Line
// creation stays idempotent when a re-created database hands out the same activation ids again.
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalOxio } from '../../src/local/oxio/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase } from '../support/db.js';
import { activationOf, qrTexts, seedPaid, startsInWindow } from './support.js';

describe('OXIO errors and timeouts', () => {
  let app: TestApp;
  let oxio: LocalOxio;
  afterEach(async () => {
    oxio.clearFailures();
    await app.close();
  });

  async function start(env: Record<string, string>) {
    app = await startTestApp({ ACTIVATIONS_PER_HOUR: '10', WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1', OXIO_POLL_INTERVAL_MS: '20', ...env });
    oxio = app.service.local.oxio!;
  }

  async function expectOneLineAndOneMail(email: string, attempts: number) {
    const mail = await app.service.local.smtp!.waitFor((m) => m.to.includes(email), 20_000);
    const lines = oxio.lines().filter((l) => l.email === email);
    expect(lines).toHaveLength(1);
    expect(qrTexts(mail)).toEqual([lines[0]!.activationCode, lines[0]!.activationCode]);
    expect(await activationOf(app.service.db, email)).toMatchObject({ status: 'active', attempts, oxio_line_id: lines[0]!.lineId });
  }

  it('retried inside one attempt: errors, a lost answer to "create end user" and to "create line"', async () => {
    await start({ OXIO_TIMEOUT_MS: '400', OXIO_MAX_RETRIES: '4' });
    oxio.injectFailure({ method: 'GET', path: '/v2/end-users', mode: 'error', times: 2 });
    // Carried out by OXIO, answered too late: the retry must find what the lost call created.
    oxio.injectFailure({ method: 'POST', path: '/v2/end-users', mode: 'timeout', delayMs: 1500 });
    oxio.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'timeout', delayMs: 1500 });
    oxio.injectFailure({ method: 'GET', path: /^\/v3\/end-users\/[^/]+\/lines$/, mode: 'error' });
    const [buyer] = await seedPaid(app.service.db, 1, 'flaky');
    app.service.worker.wake();
    await expectOneLineAndOneMail(buyer!.email, 1);
    expect(oxio.stats()).toMatchObject({ endUserCreates: 1, lineCreates: 1, lineCreateRequests: 1 });
  });

  it('retried by the worker after the client gave up: the next attempt adopts the line, the window counts one start', async () => {
    await start({ OXIO_TIMEOUT_MS: '400', OXIO_MAX_RETRIES: '0' });
    // One buyer's line is created and answered 503, the other's is created and answered too late.
    oxio.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'error-after-commit' });
    oxio.injectFailure({ method: 'POST', path: '/v3/lines/line', mode: 'timeout', delayMs: 2000 });
    const buyers = await seedPaid(app.service.db, 2, 'retry');
    app.service.worker.wake();
    for (const b of buyers) await expectOneLineAndOneMail(b.email, 2);
    expect(oxio.stats()).toMatchObject({ lineCreates: 2, lineCreateRequests: 2 });
    expect(await startsInWindow(app.service.db)).toBe(2);
    expect(await app.service.activation.stats()).toMatchObject({ current_hour_activations: 2 });
    const { rows } = await app.service.db.query<{ last_error: string | null }>('SELECT last_error FROM activations');
    expect(rows.map((r) => r.last_error)).toEqual([null, null]);
  });

  it('a re-created database reuses activation ids without colliding with OXIO’s earlier lines', async () => {
    await start({});
    const [earlier] = await seedPaid(app.service.db, 1, 'before-reset');
    app.service.worker.wake();
    await expectOneLineAndOneMail(earlier!.email, 1);
    const shared = { oxio, smtp: app.service.local.smtp! };
    // The same OXIO account, a fresh database: activation ids start again at the same number.
    const fresh = await createTestDatabase();
    const second = await startTestApp({ WORKER_POLL_MS: '100' }, { database: fresh, overrides: { local: shared } });
    try {
      const [later] = await seedPaid(fresh.db, 1, 'after-reset');
      expect(later!.id).toBe(earlier!.id);
      second.service.worker.wake();
      const mail = await shared.smtp.waitFor((m) => m.to.includes(later!.email), 15_000);
      const lines = oxio.lines().filter((l) => l.email === later!.email);
      expect(lines).toHaveLength(1);
      expect(qrTexts(mail)[0]).toBe(lines[0]!.activationCode);
      expect(await activationOf(fresh.db, later!.email)).toMatchObject({ status: 'active', oxio_line_id: lines[0]!.lineId });
      // And the earlier person still has exactly their own line.
      expect(oxio.lines().filter((l) => l.email === earlier!.email)).toHaveLength(1);
    } finally {
      await second.close();
      await fresh.drop();
    }
  });
});
