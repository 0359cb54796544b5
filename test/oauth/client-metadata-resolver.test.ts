// The client metadata document resolver on its own, against a real https server: which addresses it
// refuses (production and not), that it connects to the address it checked with the hostname as TLS
// server name and Host, its cache (HTTP caching headers within bounds, failures briefly, one fetch
// shared by concurrent requests) on a clock of the test's own.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { addressRefusal } from '../../src/oauth/client-metadata-fetch.js';
import { createClientMetadataResolver, freshnessSeconds, type ClientMetadataSettings } from '../../src/oauth/client-metadata.js';
import { memoryLogger } from '../support/logger.js';
import { startDocumentServer, type DocumentServer } from './metadata-documents.js';

const octet = () => fc.integer({ min: 0, max: 255 });
const ipv4In = (first: number[], second?: { min: number; max: number }) =>
  fc
    .tuple(fc.constantFrom(...first), second ? fc.integer(second) : octet(), octet(), octet())
    .map((parts) => parts.join('.'));
const hextet = () => fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv6In = (firstMin: number, firstMax: number) =>
  fc.tuple(fc.integer({ min: firstMin, max: firstMax }), fc.array(hextet(), { minLength: 7, maxLength: 7 })).map(([first, rest]) => [first.toString(16), ...rest].join(':'));

describe('addresses a client metadata document is fetched from', () => {
  const production = { allowLoopback: false };

  it('refuses every special-use IPv4 range, also written as IPv4-mapped IPv6', () => {
    const special = fc.oneof(
      ipv4In([10]),
      ipv4In([172], { min: 16, max: 31 }),
      ipv4In([192], { min: 168, max: 168 }),
      ipv4In([127]),
      ipv4In([169], { min: 254, max: 254 }),
      ipv4In([100], { min: 64, max: 127 }),
      ipv4In([0]),
      ipv4In([198], { min: 18, max: 19 }),
      ipv4In([224, 230, 239, 240, 250, 255]),
    );
    fc.assert(
      fc.property(special, (ip) => {
        expect(addressRefusal(ip, production), ip).toBeDefined();
        expect(addressRefusal(`::ffff:${ip}`, production), `::ffff:${ip}`).toBeDefined();
      }),
    );
  });

  it('refuses unique-local, link-local, multicast and every IPv6 address outside global unicast', () => {
    const special = fc.oneof(ipv6In(0xfc00, 0xfdff), ipv6In(0xfe80, 0xfebf), ipv6In(0xff00, 0xffff), ipv6In(0, 0x1fff), ipv6In(0x4000, 0xfbff));
    fc.assert(
      fc.property(special, (ip) => {
        expect(addressRefusal(ip, production), ip).toBeDefined();
      }),
    );
  });

  it('names the range it refuses, and lets public addresses through', () => {
    expect(addressRefusal('127.0.0.1', production)).toBe('loopback');
    expect(addressRefusal('::1', production)).toBe('loopback');
    expect(addressRefusal('10.1.2.3', production)).toBe('private');
    expect(addressRefusal('169.254.169.254', production)).toBe('linkLocal');
    expect(addressRefusal('::ffff:169.254.169.254', production)).toBe('linkLocal');
    expect(addressRefusal('100.100.1.1', production)).toBe('carrierGradeNat');
    expect(addressRefusal('fd00::1', production)).toBe('uniqueLocal');
    expect(addressRefusal('64:ff9b::a00:1', production)).toBe('rfc6052');
    expect(addressRefusal('2002:a00:1::1', production)).toBe('6to4');
    expect(addressRefusal('2001:db8::1', production)).toBe('reserved');
    for (const ip of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) {
      expect(addressRefusal(ip, production), ip).toBeUndefined();
    }
    // Outside production loopback only is let through.
    expect(addressRefusal('127.0.0.1', { allowLoopback: true })).toBeUndefined();
    expect(addressRefusal('::1', { allowLoopback: true })).toBeUndefined();
    expect(addressRefusal('192.168.1.1', { allowLoopback: true })).toBe('private');
  });
});

describe('cache bounds in the configuration', () => {
  it('refuses a maximum below the minimum', () => {
    expect(() => loadConfig({ OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS: '600', OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS: '300' })).toThrow(
      /OAUTH_CLIENT_METADATA_CACHE_MAX_SECONDS: must not be below OAUTH_CLIENT_METADATA_CACHE_MIN_SECONDS/,
    );
    expect(loadConfig({}).OAUTH_CLIENT_METADATA_MAX_BYTES).toBe(5120);
  });
});

describe('freshness from HTTP caching headers', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('reads max-age (minus Age), Expires against Date, and no-store / no-cache as nothing', () => {
    expect(freshnessSeconds({ 'cache-control': 'public, max-age=600' }, now)).toBe(600);
    expect(freshnessSeconds({ 'cache-control': 'max-age=600', age: '100' }, now)).toBe(500);
    expect(freshnessSeconds({ 'cache-control': 'max-age=600', expires: 'Sun, 01 Mar 2026 12:00:10 GMT' }, now)).toBe(600);
    expect(freshnessSeconds({ expires: 'Sun, 01 Mar 2026 13:00:00 GMT', date: 'Sun, 01 Mar 2026 12:30:00 GMT' }, now)).toBe(1800);
    expect(freshnessSeconds({ expires: 'Sun, 01 Mar 2026 13:00:00 GMT' }, now)).toBe(3600);
    // RFC 9111 §5.3: an invalid Expires, "0" above all, is a time in the past.
    expect(freshnessSeconds({ expires: '0' }, now)).toBe(0);
    expect(freshnessSeconds({ expires: 'soon' }, now)).toBe(0);
    expect(freshnessSeconds({ 'cache-control': 'no-store' }, now)).toBe(0);
    expect(freshnessSeconds({ 'cache-control': 'no-cache, max-age=600' }, now)).toBe(0);
    expect(freshnessSeconds({ 'cache-control': 'max-age=soon' }, now)).toBeUndefined();
    expect(freshnessSeconds({}, now)).toBeUndefined();
  });
});

describe('client metadata document resolver', () => {
  let docs: DocumentServer;
  let clock = 0;
  const settings = (o: Partial<ClientMetadataSettings> = {}): ClientMetadataSettings => ({
    allowLoopback: true,
    extraCa: docs.ca,
    timeoutMs: 5000,
    maxBytes: 5120,
    cacheMinSeconds: 60,
    cacheMaxSeconds: 3600,
    failureCacheSeconds: 30,
    ...o,
  });
  const resolver = (o: Partial<ClientMetadataSettings> = {}) => createClientMetadataResolver({ logger: memoryLogger().logger, settings: settings(o), now: () => clock });

  beforeAll(async () => {
    docs = await startDocumentServer();
  });
  afterAll(() => docs.close());

  it('uses a document as long as its caching headers say, within the bounds', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/cache/max-age.json', { 'cache-control': 'max-age=120' }, 120],
      ['/cache/no-store.json', { 'cache-control': 'no-store' }, 60],
      ['/cache/none.json', {}, 60],
      ['/cache/forever.json', { 'cache-control': 'max-age=31536000' }, 3600],
    ];
    for (const [path, headers, seconds] of cases) {
      const id = docs.serveDocument(path, {}, headers);
      const r = resolver();
      clock = 1_000_000;
      await r.resolve(id);
      clock += (seconds - 1) * 1000;
      await r.resolve(id);
      expect(docs.hits(path), path).toBe(1);
      clock += 2000;
      await r.resolve(id);
      expect(docs.hits(path), path).toBe(2);
    }
  });

  it('answers a failed look-up from memory only briefly, then fetches again', async () => {
    const path = '/cache/failing.json';
    docs.serve(path, { status: 503, body: 'down' });
    const id = docs.url(path);
    const r = resolver();
    clock = 2_000_000;
    await expect(r.resolve(id)).rejects.toThrow(/HTTP 503/);
    docs.serveDocument(path);
    clock += 29_000;
    await expect(r.resolve(id)).rejects.toThrow(/HTTP 503/);
    expect(docs.hits(path)).toBe(1);
    clock += 2000;
    await expect(r.resolve(id)).resolves.toMatchObject({ client_id: id, client_name: 'Metadata Assistant' });
    expect(docs.hits(path)).toBe(2);

    // With the failure cache off, every look-up after a failure fetches.
    const strict = resolver({ failureCacheSeconds: 0 });
    const other = '/cache/failing-strict.json';
    docs.serve(other, { status: 500, body: 'down' });
    await expect(strict.resolve(docs.url(other))).rejects.toThrow(/HTTP 500/);
    await expect(strict.resolve(docs.url(other))).rejects.toThrow(/HTTP 500/);
    expect(docs.hits(other)).toBe(2);
  });

  it('gives up on a document that does not arrive within the deadline', async () => {
    const path = '/slow/client.json';
    docs.serve(path, { hang: true });
    await expect(resolver({ timeoutMs: 200 }).resolve(docs.url(path))).rejects.toMatchObject({
      errorCode: 'invalid_client',
      message: expect.stringMatching(/did not answer within 200 ms/),
    });
  });

  it('shares one fetch among concurrent look-ups of the same document', async () => {
    const path = '/shared/client.json';
    const id = docs.serveDocument(path);
    const r = resolver();
    const clients = await Promise.all(Array.from({ length: 8 }, () => r.resolve(id)));
    expect(new Set(clients.map((c) => c.client_id))).toEqual(new Set([id]));
    expect(docs.hits(path)).toBe(1);
  });

  it('connects to the address it checked, with the hostname as TLS server name and Host', async () => {
    const path = '/named/client.json';
    const id = `https://docs.test:${docs.port}${path}`;
    docs.serve(path, { body: { client_id: id, redirect_uris: ['https://assistant.example/callback'] } });
    const resolved: string[] = [];
    const r = resolver({
      resolve: async (hostname) => {
        resolved.push(hostname);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    await expect(r.resolve(id)).resolves.toMatchObject({ client_id: id, token_endpoint_auth_method: 'none' });
    expect(resolved).toEqual(['docs.test']);
    expect(docs.visits.filter((v) => v.path === path)).toEqual([{ path, host: `docs.test:${docs.port}`, servername: 'docs.test' }]);
  });

  describe('in production', () => {
    const production = (resolve?: ClientMetadataSettings['resolve']) => resolver({ allowLoopback: false, resolve });

    it('refuses a host that resolves to loopback, before connecting', async () => {
      const path = '/production/local.json';
      const id = docs.serveDocument(path);
      await expect(production().resolve(id)).rejects.toThrow(/resolves to a loopback address/);
      expect(docs.hits(path)).toBe(0);
    });

    it('refuses a host when any of its addresses is private (every address is checked)', async () => {
      const r = production(async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '10.20.30.40', family: 4 },
      ]);
      await expect(r.resolve('https://mixed.example/client.json')).rejects.toMatchObject({ errorCode: 'invalid_client', message: expect.stringMatching(/private address/) });
    });

    it.each([
      ['https://127.0.0.1/client.json', /loopback/],
      ['https://[::1]/client.json', /loopback/],
      ['https://10.0.0.8/client.json', /private/],
      ['https://169.254.169.254/latest/meta-data', /linkLocal/],
      ['https://[::ffff:a9fe:a9fe]/client.json', /linkLocal/],
      ['https://100.64.0.1/client.json', /carrierGradeNat/],
      ['https://[fd12:3456::1]/client.json', /uniqueLocal/],
      ['https://224.0.0.251/client.json', /multicast/],
    ])('refuses %s written as an address', async (id, reason) => {
      await expect(production().resolve(id)).rejects.toMatchObject({ errorCode: 'invalid_client', message: expect.stringMatching(reason) });
    });

    it('trusts the default certificate store only: a self-signed certificate is refused', async () => {
      const path = '/production/untrusted.json';
      const id = docs.serveDocument(path);
      const r = resolver({ extraCa: undefined, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
      await expect(r.resolve(id)).rejects.toThrow(/TLS certificate is not trusted/);
    });
  });
});
