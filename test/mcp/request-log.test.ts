// Request logging at both kinds of level: at `info` pino-http writes a line for every request; above
// it, requests that did not fail write nothing and no per-request logger is built unless a handler
// logs, and the lines that are written are the ones pino-http writes.
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { requestLog, type OnRequestEnd } from '../../src/http/request-log.js';
import { createLogger } from '../../src/logger.js';

type Line = Record<string, unknown> & { req?: { id?: string; method?: string; url?: string }; res?: { statusCode?: number } };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(level: 'info' | 'warn', onEnd?: OnRequestEnd) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const app = express();
  app.use(requestLog(app, createLogger(level, sink), onEnd));
  app.get('/ok', (_req, res) => void res.json({ ok: true }));
  app.get('/healthz', (_req, res) => void res.status(503).json({ ok: false }));
  app.get('/missing', (req, res) => {
    req.log.warn({ what: 'thing' }, 'not found here');
    res.status(404).json({ error: 'not_found' });
  });
  app.get('/boom', (_req, res) => void res.status(500).json({ error: 'internal' }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let fences = 0;
  const get = async (path: string, id?: string) => {
    const res = await fetch(`${url}${path}`, { headers: id ? { 'x-request-id': id } : {} });
    await res.arrayBuffer();
    // A line is written when its response closes, just after the client has it: a failing request
    // after this one is logged after it, so once that line is there, this one's is too.
    if (!id?.startsWith('fence-')) {
      const fence = `fence-${++fences}`;
      await fetch(`${url}/missing`, { headers: { 'x-request-id': fence } }).then((r) => r.arrayBuffer());
      for (let i = 0; i < 500 && !lines.some((l) => l.req?.id === fence && l.msg === 'request completed'); i++) await new Promise((r) => setTimeout(r, 10));
    }
    return res;
  };
  return { lines, get };
}

/** A line without what changes from one run to the next. */
const shape = (l: Line) => {
  const { time: _time, responseTime, err, ...rest } = l as Line & { err?: { message?: string; type?: string } };
  return { ...rest, responseTime: typeof responseTime, err: err && { type: err.type, message: err.message } };
};

describe.each(['info', 'warn'] as const)('request log at %s', (level) => {
  it('echoes a given request id, makes one otherwise, and binds it to every line of the request', async () => {
    const t = await serve(level);
    const given = await t.get('/missing?code=secret', 'req-abc-123');
    expect(given.headers.get('x-request-id')).toBe('req-abc-123');
    const made = await t.get('/ok', 'not a valid id!');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const own = t.lines.filter((l) => l.req?.id === 'req-abc-123');
    expect(own.map((l) => l.msg)).toEqual(['not found here', 'request completed']);
    expect(own[0]).toMatchObject({ level: 'warn', what: 'thing', req: { id: 'req-abc-123', method: 'GET', url: '/missing' } });
    expect(own[1]).toMatchObject({ level: 'warn', res: { statusCode: 404 }, responseTime: expect.any(Number) });
    expect(JSON.stringify(t.lines)).not.toContain('secret');

    const success = t.lines.filter((l) => l.req?.id === made.headers.get('x-request-id'));
    expect(success).toEqual(level === 'info' ? [expect.objectContaining({ level: 'info', msg: 'request completed', res: { statusCode: 200 } })] : []);
  });

  it('logs a server error at error level and leaves health checks out', async () => {
    const t = await serve(level);
    await t.get('/boom', 'boom-1');
    await t.get('/healthz', 'health-1');
    expect(t.lines.filter((l) => l.req?.id === 'boom-1')).toEqual([
      expect.objectContaining({ level: 'error', msg: 'request errored', res: { statusCode: 500 }, err: expect.objectContaining({ message: 'failed with status code 500' }) }),
    ]);
    expect(t.lines.filter((l) => l.req?.id === 'health-1')).toEqual([]);
  });

  it('calls onEnd once for every request, health checks included, after its answer', async () => {
    const ends: Array<{ id: unknown; status: number; finished: boolean; elapsed: number }> = [];
    const t = await serve(level, (req, res, startedAt) => {
      ends.push({ id: req.id, status: res.statusCode, finished: res.writableFinished, elapsed: performance.now() - startedAt });
    });
    await t.get('/ok', 'end-ok');
    await t.get('/healthz', 'end-health');
    await t.get('/boom', 'end-boom');
    for (let i = 0; i < 200 && ends.length < 6; i++) await new Promise((r) => setTimeout(r, 5));
    const mine = ends.filter((e) => String(e.id).startsWith('end-'));
    expect(mine.map(({ id, status, finished }) => ({ id, status, finished }))).toEqual([
      { id: 'end-ok', status: 200, finished: true },
      { id: 'end-health', status: 503, finished: true },
      { id: 'end-boom', status: 500, finished: true },
    ]);
    expect(mine.every((e) => e.elapsed >= 0)).toBe(true);
    // The fence requests between them are counted too: one call per request.
    expect(ends.filter((e) => String(e.id).startsWith('fence-'))).toHaveLength(3);
  });
});

it('above info, the failed requests’ lines are the lines pino-http writes at info', async () => {
  const [info, warn] = [await serve('info'), await serve('warn')];
  for (const t of [info, warn]) {
    await t.get('/missing', 'same-404');
    await t.get('/boom', 'same-500');
  }
  const pick = (t: { lines: Line[] }, id: string) => t.lines.filter((l) => l.req?.id === id && String(l.msg).startsWith('request')).map(shape);
  for (const id of ['same-404', 'same-500']) {
    expect(pick(warn, id)).toHaveLength(1);
    expect(pick(warn, id)).toEqual(pick(info, id));
  }
});
