// Debian's Chromium for the browser tests (`apt-get install -y chromium`; .ci/run installs it).
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether Chromium is there; when it is not, says which test is skipped and why. */
export function chromiumPresent(testName: string): boolean {
  const present = existsSync(CHROMIUM);
  if (!present) console.warn(`[${testName}] skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  return present;
}
