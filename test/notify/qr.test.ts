import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderQrPng } from '../../src/notify/qr.js';
import { decodeQrPng } from './qr-decode.js';

describe('renderQrPng', () => {
  it('renders a PNG that decodes back to the exact activation code', async () => {
    const lpa = 'LPA:1$smdp.oxio.example$K2-1SEFCP-V0TVD6';
    const png = await renderQrPng(lpa);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const { width, height } = PNG.sync.read(png);
    expect(width).toBe(400);
    expect(height).toBe(400);
    expect(decodeQrPng(png)).toBe(lpa);
  });

  it('round-trips a code with OID and confirmation flag', async () => {
    const lpa = 'LPA:1$rsp.truphone.com$QRF-BETTERROAMING-PMRDGIR2EARDEWT$1.3.6.1.4.1.31746$1';
    expect(decodeQrPng(await renderQrPng(lpa))).toBe(lpa);
  });
});
