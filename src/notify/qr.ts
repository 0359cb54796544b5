import QRCode from 'qrcode';

/**
 * The activation code as a PNG QR code. Error correction M and a 400 px image with a two-module
 * quiet zone: large enough for a phone camera to read it off another screen or a print-out.
 */
export function renderQrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', width: 400, margin: 2 });
}
