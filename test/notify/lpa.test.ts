import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { installLinks, parseActivationCode } from '../../src/notify/lpa.js';

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
const smdpAddress = fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, port]) => (port ? `${h}:${port}` : h));
const matchingId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const oid = fc.array(fc.nat({ max: 99999 }), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('.'));

describe('parseActivationCode', () => {
  it('reads the SM-DP+ address and matching id', () => {
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
    'LPA:1$smdp example$ABC',
    'LPA:1$-smdp.example$ABC',
    'LPA:1$smdp.example$AB C',
    'LPA:1$smdp.example$ABC$',
    'LPA:1$smdp.example$ABC$x.y$1',
    'LPA:1$smdp.example$ABC$1.2$2',
    'LPA:1$smdp.example$ABC$1.2$1$extra',
    '89014103211118510720', // an ICCID installs nothing
  ])('refuses %j without quoting it', (code) => {
    let message = '';
    expect(() => {
      try {
        parseActivationCode(code);
      } catch (err) {
        message = (err as Error).message;
        throw err;
      }
    }).toThrow(/not an LPA activation code/);
    if (code.length > 4) expect(message).not.toContain(code);
  });

  it('round-trips any SM-DP+ address and matching id (property)', () => {
    fc.assert(
      fc.property(smdpAddress, matchingId, fc.option(oid, { nil: undefined }), fc.boolean(), (smdp, id, o, confirm) => {
        const tail = confirm ? `$${o ?? ''}$1` : o ? `$${o}` : '';
        const parsed = parseActivationCode(`LPA:1$${smdp}$${id}${tail}`);
        expect(parsed.smdpAddress).toBe(smdp);
        expect(parsed.matchingId).toBe(id);
        expect(parsed.oid).toBe(o);
        expect(parsed.confirmationCodeRequired).toBe(confirm);
      }),
    );
  });
});

describe('installLinks', () => {
  it('builds the Apple and Android one-tap links', () => {
    const code = 'LPA:1$smdp.oxio.example$K2-1SEFCP-V0TVD6';
    expect(installLinks(code)).toEqual({
      ios: 'https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA%3A1%24smdp.oxio.example%24K2-1SEFCP-V0TVD6',
      android: 'https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA%3A1%24smdp.oxio.example%24K2-1SEFCP-V0TVD6',
    });
  });

  it('carries the exact code in carddata (property)', () => {
    fc.assert(
      fc.property(smdpAddress, matchingId, (smdp, id) => {
        const code = `LPA:1$${smdp}$${id}`;
        const links = installLinks(code);
        const ios = new URL(links.ios);
        const android = new URL(links.android);
        expect(ios.origin + ios.pathname).toBe('https://esimsetup.apple.com/esim_qrcode_provisioning');
        expect(android.origin + android.pathname).toBe('https://esimsetup.android.com/esim_qrcode_provisioning');
        expect(ios.searchParams.get('carddata')).toBe(code);
        expect(android.searchParams.get('carddata')).toBe(code);
        expect(decodeURIComponent(links.ios.split('carddata=')[1]!)).toBe(code);
        expect(parseActivationCode(decodeURIComponent(links.android.split('carddata=')[1]!))).toMatchObject({ smdpAddress: smdp, matchingId: id });
      }),
    );
  });
});
