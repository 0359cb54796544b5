// `npm run screenshots`: renders every card state through the browser test's host (headless
// Chromium) and writes the pictures the README shows to docs/screenshots/.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, HostPage, LAUNCH_ARGS, cardNamed, startCardHost, type MountOptions } from './card-host.js';
import { ACTIVATION_RESULTS, OFFERS_RESULTS, type ActivationCardState } from './card-states.js';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

const SHOTS: Array<{ file: string; card: 'activation' | 'offers'; options: MountOptions }> = [
  ...(['awaiting_payment', 'queued', 'activating', 'active', 'failed', 'none'] as ActivationCardState[]).map((state) => ({
    file: `activation-${state.replace('_', '-')}.png`,
    card: 'activation' as const,
    options: { toolName: 'get_activation_status', result: ACTIVATION_RESULTS[state] },
  })),
  { file: 'activation-active-dark.png', card: 'activation', options: { toolName: 'get_activation_status', result: ACTIVATION_RESULTS.active, theme: 'dark' } },
  { file: 'offers-memberships.png', card: 'offers', options: { toolName: 'compare_memberships', result: OFFERS_RESULTS.compare_memberships, width: 640 } },
  { file: 'offers-pricing.png', card: 'offers', options: { toolName: 'calculate_pricing', result: OFFERS_RESULTS.calculate_pricing, width: 640 } },
];

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(OUT, { recursive: true });
  const host = await startCardHost();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  try {
    // A fixed clock: the same pictures on every run ("Updated 10:30", a wait of 12:00).
    const context = await browser.newContext({ deviceScaleFactor: 1.5, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
    await context.clock.setFixedTime(new Date('2026-05-04T10:30:00Z'));
    const page = await HostPage.open(context, host, async () => ({ isError: true, content: [{ type: 'text', text: 'Not in screenshots' }] }));
    for (const shot of SHOTS) {
      const before = await page.sizeReports();
      await page.mount(cardNamed(shot.card), shot.options);
      await page.card().locator('h2').first().waitFor();
      // The card reports its height; the host sizes the frame to it.
      await page.page.waitForFunction((n) => (window as unknown as { cardHost: { sizes: number } }).cardHost.sizes > n, before);
      await page.page.waitForTimeout(150);
      await page.page.locator('#slot').screenshot({ path: `${OUT}${shot.file}`, animations: 'disabled' });
      console.log(`docs/screenshots/${shot.file}`);
    }
    await context.close();
  } finally {
    await browser.close();
    await host.close();
  }
}

await main();
