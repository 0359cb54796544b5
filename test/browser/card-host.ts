// A small MCP Apps host for the cards, as a chat client embeds them: a page that loads a card in a
// sandboxed iframe (scripts only, an opaque origin) served with the CSP the card's resource
// declares, and speaks the extension's postMessage protocol through ext-apps' own host side
// (`AppBridge`): ui/initialize with a host context (theme), the tool input and result
// notifications, ui/open-link and tools/call. What the card asks of the host is recorded; tools/call
// is answered by the test (a Playwright-exposed function). Used by the browser test and by
// `npm run screenshots`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { BrowserContext, Frame, FrameLocator, Page } from 'playwright-core';
import { CARD_UI_META, cards, type Card } from '../../src/mcp/ui/index.js';

export { CHROMIUM, LAUNCH_ARGS } from '../support/chromium.js';

/** The CSP a host derives from the resource's `_meta.ui.csp` (every list empty: nothing from anywhere). */
export function cspFor(csp: typeof CARD_UI_META.csp): string {
  const list = (domains: readonly string[], none = "'none'") => (domains.length ? domains.join(' ') : none);
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${list(csp.resourceDomains, '')}`.trim(),
    `style-src 'unsafe-inline' ${list(csp.resourceDomains, '')}`.trim(),
    `img-src data: ${list(csp.resourceDomains, '')}`.trim(),
    `font-src data: ${list(csp.resourceDomains, '')}`.trim(),
    `connect-src ${list(csp.connectDomains)}`,
    `frame-src ${list(csp.frameDomains)}`,
    `base-uri ${list(csp.baseUriDomains)}`,
    "form-action 'none'",
  ].join('; ');
}

const HOST_SCRIPT = String.raw`
import { AppBridge, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';

const state = { events: [], sizes: 0, bridge: null };
window.cardHost = state;

state.mount = async ({ cardUrl, title, toolName, toolInput, result, theme, width, csp, capabilities }) => {
  if (state.bridge) {
    await state.bridge.teardownResource({}).catch(() => {});
    await state.bridge.close().catch(() => {});
  }
  document.body.className = theme;
  const slot = document.getElementById('slot');
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.title = title;
  frame.style.width = width + 'px';
  frame.style.height = '120px';
  slot.replaceChildren(frame);
  const bridge = new AppBridge(
    null,
    { name: 'dotm-card-test-host', version: '1.0.0' },
    { ...capabilities, sandbox: { csp } },
    {
      hostContext: {
        theme,
        displayMode: 'inline',
        availableDisplayModes: ['inline'],
        platform: 'web',
        locale: 'en-US',
        containerDimensions: { width, maxHeight: 1200 },
        toolInfo: { tool: { name: toolName, inputSchema: { type: 'object' } } },
      },
    },
  );
  state.bridge = bridge;
  bridge.onopenlink = async ({ url }) => {
    state.events.push({ type: 'open-link', url });
    return {};
  };
  bridge.oncalltool = async (params) => {
    state.events.push({ type: 'call-tool', name: params.name, arguments: params.arguments ?? {} });
    return window.answerToolCall(params);
  };
  bridge.onsizechange = ({ height }) => {
    if (height) frame.style.height = Math.ceil(height) + 'px';
    state.sizes += 1;
  };
  const initialized = new Promise((resolve) => (bridge.oninitialized = resolve));
  frame.src = cardUrl;
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  await initialized;
  await bridge.sendToolInput({ arguments: toolInput });
  await bridge.sendToolResult(result);
};
`;

const HOST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Card test host</title>
<style>
  body { margin: 0; padding: 16px; background: #f4f4f5; }
  body.dark { background: #202124; }
  #slot { display: inline-block; padding: 12px; }
  iframe { display: block; border: 1px solid #d0d7de; border-radius: 14px; background: transparent; }
  body.dark iframe { border-color: #3d444d; }
</style></head>
<body><div id="slot"></div><script src="/host.js"></script></body></html>`;

export interface CardHost {
  url: string;
  close(): Promise<void>;
}

/** Serves the host page, its bundled script, and each card (with its declared CSP) on 127.0.0.1. */
export async function startCardHost(): Promise<CardHost> {
  const bundled = await build({
    stdin: { contents: HOST_SCRIPT, resolveDir: fileURLToPath(new URL('../..', import.meta.url)), loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  const hostJs = bundled.outputFiles[0]!.text;
  const csp = cspFor(CARD_UI_META.csp);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const card = cards().find((c) => path === `/card/${c.name}.html`);
    if (path === '/host.html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HOST_PAGE);
    else if (path === '/host.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(hostJs);
    else if (card) res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp }).end(card.html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export type HostEvent = { type: 'open-link'; url: string } | { type: 'call-tool'; name: string; arguments: Record<string, unknown> };

export interface MountOptions {
  toolName: string;
  result: CallToolResult;
  toolInput?: Record<string, unknown>;
  theme?: 'light' | 'dark';
  width?: number;
  /** What the host offers the card; by default opening links and calling the server's tools. */
  capabilities?: { openLinks?: object; serverTools?: object; logging?: object };
}

/** One host page; cards are mounted into it one after another (a fresh iframe and bridge each time). */
export class HostPage {
  private constructor(
    readonly page: Page,
    private readonly host: CardHost,
  ) {}

  /** Opens the host page; `answerToolCall` answers the card's tools/call requests. */
  static async open(context: BrowserContext, host: CardHost, answerToolCall: (params: { name: string; arguments?: Record<string, unknown> }) => Promise<CallToolResult>): Promise<HostPage> {
    const page = await context.newPage();
    await page.exposeFunction('answerToolCall', answerToolCall);
    await page.goto(`${host.url}/host.html`);
    await page.waitForFunction(() => typeof (window as unknown as { cardHost?: { mount?: unknown } }).cardHost?.mount === 'function');
    return new HostPage(page, host);
  }

  async mount(card: Card, opts: MountOptions): Promise<void> {
    const args = {
      cardUrl: `${this.host.url}/card/${card.name}.html`,
      title: card.title,
      toolName: opts.toolName,
      toolInput: opts.toolInput ?? {},
      result: opts.result,
      theme: opts.theme ?? 'light',
      width: opts.width ?? 520,
      csp: CARD_UI_META.csp,
      capabilities: opts.capabilities ?? { openLinks: {}, serverTools: {}, logging: {} },
    };
    await this.page.evaluate((a) => (window as unknown as { cardHost: { mount(x: unknown): Promise<void> } }).cardHost.mount(a), args);
  }

  /** The card's document, for locators. */
  card(): FrameLocator {
    return this.page.frameLocator('#slot iframe');
  }

  /** The card's frame, for evaluating inside it. */
  cardFrame(): Frame {
    const frame = this.page.frames().find((f) => f.url().includes('/card/'));
    if (!frame) throw new Error('no card frame');
    return frame;
  }

  async events(): Promise<HostEvent[]> {
    return this.page.evaluate(() => (window as unknown as { cardHost: { events: HostEvent[] } }).cardHost.events);
  }

  async clearEvents(): Promise<void> {
    await this.page.evaluate(() => {
      (window as unknown as { cardHost: { events: HostEvent[] } }).cardHost.events.length = 0;
    });
  }

  /** Waits until the card has told the host its size at least `count` times in all. */
  async sizeReports(): Promise<number> {
    return this.page.evaluate(() => (window as unknown as { cardHost: { sizes: number } }).cardHost.sizes);
  }
}

export const cardNamed = (name: Card['name']): Card => {
  const card = cards().find((c) => c.name === name);
  if (!card) throw new Error(`no card ${name}`);
  return card;
};
