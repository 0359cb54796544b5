// An SMTP outage delays the e-mails without undoing any activation; every e-mail arrives, once,
// when SMTP is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { sleep, waitUntil } from '../support/time.js';
import { activationOf, activations, outboxRows, qrTexts, seedPaid } from './support.js';

describe('SMTP down, then up', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ACTIVATIONS_PER_HOUR: '10', WORKER_POLL_MS: '100', LOCAL_OXIO_LATENCY_MS: '1' });
  });
  afterAll(() => app.close());

  it('activations stay active through the outage and every e-mail is delivered once it ends', async () => {
    const { db } = app.service;
    const smtp = app.service.local.smtp!;
    smtp.setDown(true);
    const buyers = await seedPaid(db, 3, 'outage');
    app.service.worker.wake();
    await waitUntil(async () => (await activations(db)).every((r) => r.status === 'active'), { what: 'three activations' });
    await waitUntil(async () => (await outboxRows(db)).filter((r) => r.attempts >= 1 && r.last_error).length === 3, { what: 'three failed sends' });
    await sleep(300);
    expect(smtp.messages()).toHaveLength(0);
    // The outage changed nothing but the outbox.
    expect((await activations(db)).map((r) => r.status)).toEqual(['active', 'active', 'active']);
    expect((await outboxRows(db)).map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);

    smtp.setDown(false);
    await waitUntil(() => buyers.every((b) => smtp.messages().some((m) => m.to.includes(b.email))), { timeoutMs: 15_000, what: 'three e-mails' });
    await sleep(500);
    for (const b of buyers) {
      const mails = smtp.messages().filter((m) => m.to.includes(b.email));
      expect(mails, b.email).toHaveLength(1);
      const row = await activationOf(db, b.email);
      expect(qrTexts(mails[0]!)).toEqual([row.lpa_code, row.lpa_code]);
    }
    expect((await outboxRows(db)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
  });
});
