// Reads a QR code PNG back to its text, as a phone camera would.
import m from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with `exports.default`; under NodeNext the function sits on `.default`.
const jsQR = m.default;

export function decodeQrPng(png: Buffer): string | undefined {
  const image = PNG.sync.read(png);
  const code = jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), image.width, image.height);
  return code?.data;
}
