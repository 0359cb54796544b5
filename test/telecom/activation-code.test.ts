import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLpaActivationCode, toLpaActivationCode } from '../../src/telecom/activation-code.js';

const hostLabel = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const smdp = fc.tuple(hostLabel, hostLabel).map(([a, b]) => `${a}.${b}`);
const matchingId = fc.stringMatching(/^[0-9A-Z-]{1,40}$/);

describe('toLpaActivationCode', () => {
  it('keeps a complete code as it is', () => {
    expect(toLpaActivationCode('LPA:1$smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(toLpaActivationCode('LPA:1$smdp.example.com$ABC123$1.3.6.1$1')).toBe('LPA:1$smdp.example.com$ABC123$1.3.6.1$1');
  });

  it('adds the prefix only when it is missing', () => {
    expect(toLpaActivationCode('smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(toLpaActivationCode('1$smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(toLpaActivationCode('  lpa:1$smdp.example.com$ABC123 ')).toBe('LPA:1$smdp.example.com$ABC123');
  });

  it('refuses what is not an activation code (an ICCID, a bare matching id)', () => {
    expect(toLpaActivationCode('8901260000000000001')).toBeUndefined();
    expect(toLpaActivationCode('ABC123')).toBeUndefined();
    expect(toLpaActivationCode('LPA:1$$ABC123')).toBeUndefined();
    expect(toLpaActivationCode('')).toBeUndefined();
  });

  it('property: with or without prefix, the result is the same valid code', () => {
    fc.assert(
      fc.property(smdp, matchingId, (address, id) => {
        const full = `LPA:1$${address}$${id}`;
        expect(toLpaActivationCode(`${address}$${id}`)).toBe(full);
        expect(toLpaActivationCode(full)).toBe(full);
        expect(isLpaActivationCode(full)).toBe(true);
      }),
    );
  });

  it('property: never starts a code with a doubled prefix', () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const code = toLpaActivationCode(raw);
        if (code !== undefined) {
          expect(code.startsWith('LPA:1$')).toBe(true);
          expect(code.slice(6)).not.toMatch(/^LPA:/i);
        }
      }),
    );
  });
});
