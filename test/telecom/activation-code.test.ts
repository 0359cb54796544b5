import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeActivationCode, parseActivationCode } from '../../src/telecom/activation-code.js';

// Valid parts as SGP.22 §4.1 describes them.
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const smdpAddress = fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.'));
const matchingId = fc.stringMatching(/^[0-9A-Z-]{1,64}$/);
const oid = fc.array(fc.nat({ max: 99999 }), { minLength: 2, maxLength: 8 }).map((parts) => parts.join('.'));
const validCode = fc
  .record({ smdp: smdpAddress, id: matchingId, oid: fc.option(oid, { nil: undefined }), confirm: fc.boolean() })
  .map((p) => ({ ...p, code: `LPA:1$${p.smdp}$${p.id}${p.confirm ? `$${p.oid ?? ''}$1` : p.oid ? `$${p.oid}` : ''}` }));

/** The message of what `fn` throws (it must throw). */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('parseActivationCode', () => {
  it('reads the SM-DP+ address, matching id, OID and confirmation flag', () => {
    expect(parseActivationCode('LPA:1$smdp.oxio.example$K2-1SEFCP-V0TVD6')).toEqual({
      smdpAddress: 'smdp.oxio.example',
      matchingId: 'K2-1SEFCP-V0TVD6',
      confirmationCodeRequired: false,
    });
    expect(parseActivationCode('LPA:1$rsp.example.com$ABC-123$1.3.6.1.4.1.31746$1')).toEqual({
      smdpAddress: 'rsp.example.com',
      matchingId: 'ABC-123',
      oid: '1.3.6.1.4.1.31746',
      confirmationCodeRequired: true,
    });
    expect(parseActivationCode('LPA:1$rsp.example.com$ABC$$1').confirmationCodeRequired).toBe(true);
    expect(parseActivationCode('LPA:1$rsp.example.com$ABC$1.2.3')).toMatchObject({ oid: '1.2.3', confirmationCodeRequired: false });
  });

  it.each([
    '',
    'LPA:',
    '1$smdp.example$ABC',
    'lpa:1$smdp.example$ABC',
    'LPA:2$smdp.example$ABC',
    'LPA:1$smdp.example',
    'LPA:1$smdp.example$',
    'LPA:1$$ABC',
    'LPA:1$smdp$ABC', // not a fully qualified name
    'LPA:1$smdp.example:8443$ABC', // an FQDN carries no port
    'LPA:1$smdp example$ABC',
    'LPA:1$-smdp.example$ABC',
    'LPA:1$smdp.example.com$AB+CD', // SGP.22 matching ids: 0-9, A-Z and '-'
    'LPA:1$smdp.example.com$abc-123',
    'LPA:1$smdp.example.com$AB_CD',
    'LPA:1$smdp.example$AB C',
    'LPA:1$smdp.example$ABC$',
    'LPA:1$smdp.example$ABC$1', // one arc is no OID
    'LPA:1$smdp.example$ABC$x.y$1',
    'LPA:1$smdp.example$ABC$1.2$2',
    'LPA:1$smdp.example$ABC$1.2$1$extra',
    '89014103211118510720', // an ICCID installs nothing
  ])('refuses %j without quoting it', (code) => {
    const message = refusal(() => parseActivationCode(code));
    expect(message).toMatch(/^not an LPA activation code: /);
    if (code.length > 4) expect(message).not.toContain(code);
  });

  it('property: every valid code round-trips through its parts', () => {
    fc.assert(
      fc.property(validCode, ({ smdp, id, oid: o, confirm, code }) => {
        expect(parseActivationCode(code)).toEqual({ smdpAddress: smdp, matchingId: id, ...(o ? { oid: o } : {}), confirmationCodeRequired: confirm });
        expect(normalizeActivationCode(code)).toBe(code);
      }),
    );
  });

  it('property: a matching id with any character outside 0-9, A-Z and "-" is refused', () => {
    const foreign = fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }).filter((c) => !/^[0-9A-Z-]$/.test(c) && c !== '$');
    fc.assert(
      fc.property(smdpAddress, matchingId, foreign, fc.nat(), (smdp, id, c, at) => {
        const i = at % (id.length + 1);
        const bad = `${id.slice(0, i)}${c}${id.slice(i)}`;
        expect(() => parseActivationCode(`LPA:1$${smdp}$${bad}`)).toThrow(/bad matching id/);
      }),
    );
  });

  it('property: whatever it accepts reads back as the same code', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), validCode.map((v) => v.code.slice(0, -1))), (junk) => {
        let parts;
        try {
          parts = parseActivationCode(junk);
        } catch (err) {
          expect((err as Error).message).toMatch(/^not an LPA activation code: /);
          return;
        }
        const tail = parts.confirmationCodeRequired ? `$${parts.oid ?? ''}$1` : parts.oid ? `$${parts.oid}` : '';
        expect(`LPA:1$${parts.smdpAddress}$${parts.matchingId}${tail}`).toBe(junk);
      }),
    );
  });
});

describe('normalizeActivationCode', () => {
  it('keeps a complete code as it is', () => {
    expect(normalizeActivationCode('LPA:1$smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(normalizeActivationCode('LPA:1$smdp.example.com$ABC123$1.3.6.1$1')).toBe('LPA:1$smdp.example.com$ABC123$1.3.6.1$1');
  });

  it('adds the prefix only when it is missing', () => {
    expect(normalizeActivationCode('smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(normalizeActivationCode('1$smdp.example.com$ABC123')).toBe('LPA:1$smdp.example.com$ABC123');
    expect(normalizeActivationCode('  lpa:1$smdp.example.com$ABC123 ')).toBe('LPA:1$smdp.example.com$ABC123');
  });

  it.each(['8901260000000000001', 'ABC123', 'LPA:1$$ABC123', '', 'LPA:1$smdp.example.com$AB+CD', 'smdp.example.com$AB+CD'])(
    'refuses %j (an ICCID, a bare matching id, a broken code)',
    (raw) => {
      expect(() => normalizeActivationCode(raw)).toThrow(/^not an LPA activation code: /);
    },
  );

  it('property: with or without prefix, the result is the same valid code', () => {
    fc.assert(
      fc.property(smdpAddress, matchingId, (address, id) => {
        const full = `LPA:1$${address}$${id}`;
        expect(normalizeActivationCode(`${address}$${id}`)).toBe(full);
        expect(normalizeActivationCode(`1$${address}$${id}`)).toBe(full);
        expect(normalizeActivationCode(full)).toBe(full);
      }),
    );
  });

  it('property: never starts a code with a doubled prefix', () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        let code: string;
        try {
          code = normalizeActivationCode(raw);
        } catch {
          return;
        }
        expect(code.startsWith('LPA:1$')).toBe(true);
        expect(code.slice(6)).not.toMatch(/^LPA:/i);
      }),
    );
  });
});
