import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('defaults run everything locally', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.ACTIVATIONS_PER_HOUR).toBe(100);
    expect(c.DATA_DIR).toBe('./data');
    expect(c.local).toEqual({ stripe: true, oxio: true, smtp: true, firebase: true });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('one message names every offending variable', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'abc', ACTIVATIONS_PER_HOUR: '0', DATABASE_URL: 'not a url', STRIPE_SECRET_KEY: 'pk_live_x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'ACTIVATIONS_PER_HOUR', 'DATABASE_URL', 'STRIPE_SECRET_KEY']) expect(message).toContain(name);
  });

  it('production refuses local stand-ins and the Auth emulator', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL[\s\S]*STRIPE_SECRET_KEY[\s\S]*OXIO_BASE_URL[\s\S]*SMTP_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' })).toThrow(/FIREBASE_AUTH_EMULATOR_HOST/);
  });

  it('each integration is its local stand-in or the real service with all its settings', () => {
    expect(loadConfig({ LOCAL_SMTP_PORT: '2525' }).integrations).toEqual({
      stripe: { kind: 'local', port: 0, webhookSecret: undefined },
      oxio: { kind: 'local', port: 0, latencyMs: 20, failureRate: 0, initiatingMs: 0 },
      smtp: { kind: 'local', port: 2525 },
      firebase: { kind: 'local', emulatorHost: undefined },
    });
    const real = loadConfig({
      STRIPE_SECRET_KEY: 'sk_test_abc',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc',
      OXIO_BASE_URL: 'https://api.oxio.example',
      OXIO_API_KEY: 'key',
      OXIO_AUTH_TOKEN: 'token',
      SMTP_URL: 'smtp://relay.example:587',
      FIREBASE_PROJECT_ID: 'dotm-prod',
    });
    expect(real.integrations).toEqual({
      stripe: { kind: 'real', secretKey: 'sk_test_abc', webhookSecret: 'whsec_abc' },
      oxio: { kind: 'real', baseUrl: 'https://api.oxio.example', apiKey: 'key', authToken: 'token' },
      smtp: { kind: 'real', url: 'smtp://relay.example:587' },
      firebase: { kind: 'real' },
    });
    expect(real.local).toEqual({ stripe: false, oxio: false, smtp: false, firebase: false });
    expect(loadConfig({ FIREBASE_PROJECT_ID: 'p', FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' }).integrations.firebase).toEqual({
      kind: 'local',
      emulatorHost: '127.0.0.1:9099',
    });
    // A real service's companion settings are required, not left for the start to trip over.
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abc' })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(() => loadConfig({ OXIO_BASE_URL: 'https://api.oxio.example', OXIO_API_KEY: 'key' })).toThrow(/OXIO_AUTH_TOKEN/);
  });

  it('TRUST_PROXY is a hop count: true is the one load balancer in front, never every hop', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(0);
    expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(0);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    for (const bad of ['-1', '1.5', 'all', '11']) expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
  });

  it('.env.example lists every setting', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const source = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8');
    const declared = [...source.matchAll(/^ {4}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThan(30);
    expect(declared.filter((k) => !listed.has(k))).toEqual([]);
  });
});
