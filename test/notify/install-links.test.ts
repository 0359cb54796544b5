import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { installLinks } from '../../src/notify/install-links.js';
import { parseActivationCode } from '../../src/telecom/activation-code.js';

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const smdpAddress = fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.'));
const matchingId = fc.stringMatching(/^[0-9A-Z-]{1,64}$/);

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
