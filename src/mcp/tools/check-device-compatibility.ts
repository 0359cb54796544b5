import { z } from 'zod';
import { shippedDevices, type DeviceAnswer } from '../../devices/devices.js';
import { defineTool } from '../tool.js';

/** What the assistant reads: the verdict first, then the notes, then how to check when unsure. */
function verdict(a: DeviceAnswer): string {
  const lines =
    a.compatible === true
      ? [`Yes: the ${a.matched} has an eSIM, so the DOTM Global Data eSIM works on it.`, ...a.notes]
      : a.compatible === false
        ? [`No: the ${a.matched} cannot take the DOTM Global Data eSIM.`, ...a.notes]
        : [a.matched ? `It depends on the exact ${a.matched} model.` : `"${a.device}" is not in our list of phones.`, ...a.notes, 'How to check:', ...a.how_to_check];
  return lines.map((l, i) => (i === 0 || l.endsWith(':') ? l : `- ${l}`)).join('\n');
}

export const checkDeviceCompatibilityTool = defineTool({
  name: 'check_device_compatibility',
  title: 'Check a phone for eSIM',
  description:
    'Will the DOTM Global Data eSIM (DOT eSIM) work on this phone? ("will it work on my phone?", "does my iPhone 12 support eSIM?") ' +
    'compatible: true, false, or null with how_to_check. No sign-in.',
  inputSchema: {
    device: z
      .string()
      .trim()
      .min(1, 'Name the phone model, e.g. "iPhone 13" or "Pixel 8"')
      .max(100, 'At most 100 characters, e.g. "Galaxy S23"')
      .refine((s) => !/\p{Cc}/u.test(s), 'One line of plain text, e.g. "iPhone 13"')
      .describe('Phone model, e.g. "iPhone 13 mini", "Galaxy S23"'),
  },
  outputSchema: {
    device: z.string(),
    compatible: z.boolean().nullable(),
    matched: z.string().optional(),
    notes: z.array(z.string()),
    how_to_check: z.array(z.string()),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { devices }) {
    const answer = (devices ?? shippedDevices()).check(args.device);
    return { structured: answer, text: verdict(answer) };
  },
});
