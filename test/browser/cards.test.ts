// The cards in a real browser (headless Chromium, one launch for everything), inside a host that
// speaks the MCP Apps postMessage protocol through ext-apps' AppBridge and serves each card with
// the CSP its resource declares. For every state: what the card shows, what it asks of the host
// (open the invoice link, call get_activation_status every 30 seconds while the activation can
// change), and that tool results are shown as text, never as markup.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPresent } from '../support/chromium.js';
import { CHROMIUM, HostPage, LAUNCH_ARGS, cardNamed, startCardHost, type CardHost, type HostEvent, type MountOptions } from './card-host.js';
import { ACTIVATION_RESULTS, OFFERS_RESULTS, SAMPLE_EMAIL, SAMPLE_EMAIL_HINT, SAMPLE_INVOICE_URL, SAMPLE_PHONE, queued } from './card-states.js';

const hasChromium = chromiumPresent('card browser test');

const activation = cardNamed('activation');
const offers = cardNamed('offers');
const REFRESH_MS = 30_000;

const withStructured = (result: CallToolResult, patch: Record<string, unknown>): CallToolResult => ({
  ...result,
  structuredContent: { ...result.structuredContent, ...patch },
});

describe.skipIf(!hasChromium)('cards in headless Chromium, inside an MCP Apps host', () => {
  let host: CardHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: HostPage;
  /** What the card's tools/call requests are answered with, in order; an error when empty. */
  let answers: CallToolResult[] = [];
  /** The card's tools/call requests: name and arguments. */
  const toolCalls: Array<{ name: string; arguments?: Record<string, unknown> }> = [];
  const errors: string[] = [];

  const card = () => page.card();
  const cardText = () => card().locator('main').innerText();
  const events = () => page.events();
  const calls = (list: HostEvent[]) => list.filter((e) => e.type === 'call-tool');

  beforeAll(async () => {
    host = await startCardHost();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
    // The card's timers (the 30-second refresh, the countdown) run on a clock the test moves.
    await context.clock.install({ time: new Date('2026-05-04T10:30:00Z') });
    page = await HostPage.open(context, host, async (params) => {
      toolCalls.push({ name: params.name, arguments: params.arguments });
      return answers.shift() ?? { isError: true, content: [{ type: 'text', text: 'The service is not reachable.' }] };
    });
    page.page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.page.on('pageerror', (e) => errors.push(String(e)));
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  async function mount(result: CallToolResult, opts: { card?: typeof activation; toolName?: string } & Pick<MountOptions, 'theme' | 'capabilities'> = {}) {
    answers = [];
    toolCalls.length = 0;
    await page.clearEvents();
    await page.mount(opts.card ?? activation, { toolName: opts.toolName ?? 'get_activation_status', result, theme: opts.theme, capabilities: opts.capabilities });
    await card().locator('h2').first().waitFor();
  }

  it('awaiting payment: "Pay $1.00" asks the host to open the invoice link', async () => {
    await mount(ACTIVATION_RESULTS.awaiting_payment, { toolName: 'activate_esim' });
    await expect.poll(() => card().locator('h2').innerText()).toBe('Pay $1.00 to start your eSIM');
    expect(await card().locator('#status').innerText()).toBe('Awaiting payment');
    const text = await cardText();
    expect(text).toContain(`e-mailed to ${SAMPLE_EMAIL_HINT}`);
    expect(text).not.toContain(SAMPLE_EMAIL);

    await card().getByRole('button', { name: 'Pay $1.00' }).click();
    await expect.poll(events).toContainEqual({ type: 'open-link', url: SAMPLE_INVOICE_URL });
    await expect.poll(() => card().locator('#link-note').innerText()).toContain('The invoice page opened');
  });

  it('awaiting payment with a link that is not a web address: the button opens nothing', async () => {
    await mount(withStructured(ACTIVATION_RESULTS.awaiting_payment, { invoice_url: 'javascript:parent.postMessage("x","*")' }));
    const pay = card().getByRole('button', { name: 'Pay $1.00' });
    await expect.poll(() => pay.isDisabled()).toBe(true);
    await pay.click({ force: true });
    expect((await events()).filter((e) => e.type === 'open-link')).toEqual([]);
  });

  it('queued: position and a counting-down wait; asks get_activation_status every 30 s until active, then stops', async () => {
    await mount(queued(3, 12));
    expect(await card().locator('h2').innerText()).toBe('You’re #3 in the queue');
    expect(await card().locator('#position').innerText()).toBe('#3');
    expect(await card().locator('#wait').innerText()).toMatch(/^(12m 00s|11m 5\ds)$/);

    await context.clock.fastForward(5_000);
    await expect.poll(() => card().locator('#wait').innerText()).toMatch(/^11m [45]\ds$/);
    expect(toolCalls).toHaveLength(0);

    answers = [queued(1, 2), ACTIVATION_RESULTS.activating, ACTIVATION_RESULTS.active];
    await context.clock.fastForward(REFRESH_MS);
    await expect.poll(() => card().locator('h2').innerText()).toBe('You’re #1 in the queue');
    expect(await card().locator('#wait').innerText()).toMatch(/^(2m 00s|1m 5\ds)$/);
    expect(toolCalls).toEqual([{ name: 'get_activation_status', arguments: {} }]);

    await context.clock.fastForward(REFRESH_MS);
    await expect.poll(() => card().locator('h2').innerText()).toBe('Activating your eSIM with the carrier');
    await context.clock.fastForward(REFRESH_MS);
    await expect.poll(() => card().locator('h2').innerText()).toBe('Your eSIM is active');
    expect(await card().locator('#phone').innerText()).toBe(SAMPLE_PHONE);
    expect(calls(await events())).toHaveLength(3);

    // Active is final: no more calls.
    await context.clock.fastForward(4 * REFRESH_MS);
    expect(toolCalls).toHaveLength(3);
  });

  it('a refresh that fails keeps the last state, says so, and tries again', async () => {
    await mount(queued(4, 20));
    await context.clock.fastForward(REFRESH_MS);
    await expect.poll(() => card().locator('#updated').innerText()).toBe('Could not refresh just now; trying again in 30 seconds.');
    expect(await card().locator('h2').innerText()).toBe('You’re #4 in the queue');

    answers = [ACTIVATION_RESULTS.active];
    await context.clock.fastForward(REFRESH_MS);
    await expect.poll(() => card().locator('h2').innerText()).toBe('Your eSIM is active');
    expect(toolCalls).toHaveLength(2);
  });

  it('a host that does not pass tool calls on gets no Refresh button and no polling', async () => {
    await mount(queued(2, 6), { capabilities: { openLinks: {} } });
    expect(await card().getByRole('button', { name: 'Refresh' }).count()).toBe(0);
    expect(await card().locator('#updated').innerText()).not.toContain('refreshes');
    await context.clock.fastForward(2 * REFRESH_MS);
    expect(toolCalls).toHaveLength(0);
    expect(errors).toEqual([]);
  });

  it('the Refresh button asks for the status at once', async () => {
    await mount(ACTIVATION_RESULTS.failed);
    answers = [ACTIVATION_RESULTS.active];
    await card().getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => card().locator('h2').innerText()).toBe('Your eSIM is active');
    expect(toolCalls).toEqual([{ name: 'get_activation_status', arguments: {} }]);
  });

  it('activating, active, failed and none each say what is happening and what comes next', async () => {
    const expected = {
      activating: { status: 'Activating', lines: ['Activating your eSIM with the carrier', `The QR code will be e-mailed to ${SAMPLE_EMAIL_HINT}.`] },
      active: { status: 'Active', lines: ['Your eSIM is active', SAMPLE_PHONE, `The QR code is in your e-mail at ${SAMPLE_EMAIL_HINT}.`, 'Add eSIM'] },
      failed: { status: 'Needs attention', lines: ['We couldn’t activate your eSIM', 'Your payment is safe', 'What happens next', 'retry the activation or refund'] },
      none: { status: 'Not started', lines: ['No eSIM activation yet', 'Ask to activate the DOTM Global Data eSIM'] },
    } as const;
    for (const [state, { status, lines }] of Object.entries(expected)) {
      await mount(ACTIVATION_RESULTS[state as keyof typeof expected]);
      await expect.poll(() => card().locator('#status').innerText()).toBe(status);
      const text = await cardText();
      for (const line of lines) expect(text, state).toContain(line);
      expect(text, state).not.toContain(SAMPLE_EMAIL);
      // Screen readers hear the change once, from the live region.
      expect(await card().locator('#announce').innerText(), state).toContain(status);
    }
    // Final and unstarted states do not poll; active has nothing left to refresh.
    await mount(ACTIVATION_RESULTS.active);
    expect(await card().getByRole('button', { name: 'Refresh' }).count()).toBe(0);
    await context.clock.fastForward(2 * REFRESH_MS);
    expect(toolCalls).toHaveLength(0);
  });

  it('a tool error shows its message; markup inside a result stays text', async () => {
    await mount({ isError: true, content: [{ type: 'text', text: 'Sign in first: get_activation_status needs the user\'s bearer token.' }] });
    expect(await cardText()).toContain('Sign in first');

    const markup = '<img src=x onerror="parent.postMessage({jsonrpc:\'2.0\',method:\'ui/open-link\',params:{url:\'https://evil.example\'},id:99},\'*\')">';
    await mount(withStructured(ACTIVATION_RESULTS.active, { phone_number: markup, email_hint: '<b>x</b>' }));
    expect(await card().locator('#phone').innerText()).toBe(markup);
    expect(await card().locator('img, b').count()).toBe(0);
    expect((await events()).filter((e) => e.type === 'open-link')).toEqual([]);

    await mount({ content: [{ type: 'text', text: 'no structured content' }] });
    expect(await cardText()).toContain('Nothing to show here');
    await mount(withStructured(ACTIVATION_RESULTS.active, { status: 'hacked' }));
    expect(await cardText()).toContain('Nothing to show here');
  });

  it('offers: memberships side by side, and a price calculation with its totals', async () => {
    const comparison = OFFERS_RESULTS.compare_memberships.structuredContent as { plans: Array<{ name: string; price: { amount: string } }>; cheapest_plan_id: string };
    await mount(OFFERS_RESULTS.compare_memberships, { card: offers, toolName: 'compare_memberships' });
    const plans = card().locator('.offers > li');
    expect(await plans.count()).toBe(comparison.plans.length);
    for (const [i, plan] of comparison.plans.entries()) {
      const text = await plans.nth(i).innerText();
      expect(text).toContain(plan.name);
      expect(text).toContain(`$${plan.price.amount}`);
    }
    expect(await card().locator('.offer.best h3').innerText()).toBe('Basic Membership');
    expect(await cardText()).toContain('Price difference: $42.00 a year.');

    const pricing = OFFERS_RESULTS.calculate_pricing.structuredContent as { line_items: unknown[]; totals: { first_year: { amount: string } } };
    await mount(OFFERS_RESULTS.calculate_pricing, { card: offers, toolName: 'calculate_pricing' });
    expect(await card().locator('.offers > li').count()).toBe(pricing.line_items.length);
    expect(await card().locator('tr.total').innerText()).toMatch(new RegExp(`First year in total\\s+\\$${pricing.totals.first_year.amount.replace('.', '\\.')}`));
  });

  it('follows the host theme', async () => {
    await mount(ACTIVATION_RESULTS.active, { theme: 'dark' });
    const frame = page.cardFrame();
    await expect.poll(() => frame.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await frame.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(13, 17, 23)');
    await mount(ACTIVATION_RESULTS.active, { theme: 'light' });
    expect(await page.cardFrame().evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(255, 255, 255)');
  });

  it('ran without a script error or a CSP violation, under a CSP that lets nothing be fetched', async () => {
    expect(errors).toEqual([]);
    // The policy is in force: the card's frame cannot reach even the host's own server.
    await mount(ACTIVATION_RESULTS.none);
    const fetched = await page.cardFrame().evaluate(async (url) => {
      try {
        await fetch(url);
        return 'fetched';
      } catch {
        return 'refused';
      }
    }, `${host.url}/host.html`);
    expect(fetched).toBe('refused');
  });
});
