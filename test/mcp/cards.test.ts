// The in-chat cards (MCP Apps) as an assistant's client sees them over HTTP with the MCP SDK client:
// the four tools point at a card in their descriptors, the cards are listed and read as
// `text/html;profile=mcp-app` documents whose URI carries their hash and that load nothing from
// anywhere, and what a card is given (the tool result) never holds the activation code, the ICCID
// or the full e-mail address. Clients without cards lose nothing: every answer keeps its text.
import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cards, CARD_UI_META, RESOURCE_MIME_TYPE } from '../../src/mcp/ui/index.js';
import { exposeModuleExports, RUNTIME_GLOBAL } from '../../src/mcp/ui/runtime.js';
import { buyAndPay } from '../activation/support.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/time.js';
import { callTool, type ToolAnswer } from '../support/tools.js';

const CARD_TOOLS = {
  activate_esim: 'activation',
  get_activation_status: 'activation',
  compare_memberships: 'offers',
  calculate_pricing: 'offers',
} as const;

/** Anything in a document that would load or send something from or to another place. */
function externalReferences(html: string): string[] {
  const patterns = [
    /\b(?:src|href|action|formaction|poster|srcset|background|ping|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\/[^\s"'>]*/gi,
    /@import\b[^;]*/gi,
    /url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\/[^)]*\)/gi,
    /<(?:link|base|iframe|frame|object|embed|img|audio|video|source)\b[^>]*>/gi,
    /<script\b[^>]*\bsrc\s*=[^>]*>/gi,
    /<meta\b[^>]*http-equiv\s*=\s*["']?refresh[^>]*>/gi,
  ];
  return patterns.flatMap((p) => html.match(p) ?? []);
}

describe('in-chat cards over MCP', () => {
  let t: TestApp;
  let client: Client;

  beforeAll(async () => {
    t = await startTestApp({ ACTIVATIONS_PER_HOUR: '5', LOCAL_OXIO_LATENCY_MS: '2', OXIO_POLL_INTERVAL_MS: '50' });
    client = await t.client();
  });
  afterAll(() => t?.close());

  it('tools/list: the four tools name their card as ext-apps and ChatGPT read it; the others name none', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const [name, cardName] of Object.entries(CARD_TOOLS)) {
      const tool = byName.get(name);
      expect(tool, `${name} is listed`).toBeDefined();
      const uri = cards().find((c) => c.name === cardName)!.uri;
      expect(tool!._meta, name).toMatchObject({ ui: { resourceUri: uri }, 'ui/resourceUri': uri, 'openai/outputTemplate': uri });
    }
    expect(byName.get('get_activation_status')!._meta).toMatchObject({ 'openai/widgetAccessible': true });
    for (const tool of tools.filter((x) => !(x.name in CARD_TOOLS))) {
      expect(tool._meta?.ui, tool.name).toBeUndefined();
      expect(tool._meta?.['openai/outputTemplate'], tool.name).toBeUndefined();
    }
  });

  it('resources/list and resources/read: one self-contained HTML document per card, its hash in its URI', async () => {
    const { resources } = await client.listResources();
    expect(cards().map((c) => c.name)).toEqual(['activation', 'offers']);
    for (const card of cards()) {
      expect(card.uri).toMatch(new RegExp(`^ui://dotm/${card.name}-[0-9a-f]{12}\\.html$`));
      const listed = resources.find((r) => r.uri === card.uri);
      expect(listed, card.uri).toMatchObject({ mimeType: RESOURCE_MIME_TYPE, _meta: { ui: CARD_UI_META } });

      const read = await client.readResource({ uri: card.uri });
      expect(read.contents).toHaveLength(1);
      const [content] = read.contents as Array<{ uri: string; mimeType: string; text: string; _meta?: Record<string, unknown> }>;
      expect(content!.uri).toBe(card.uri);
      expect(content!.mimeType).toBe('text/html;profile=mcp-app');
      expect(content!._meta).toMatchObject({ ui: { csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] }, prefersBorder: true } });
      expect(content!._meta).toMatchObject({ 'openai/widgetCSP': { connect_domains: [], resource_domains: [] } });

      const html = content!.text;
      expect(html).toBe(card.html);
      expect(card.uri).toBe(`ui://dotm/${card.name}-${createHash('sha256').update(html).digest('hex').slice(0, 12)}.html`);
      expect(html).toMatch(/^<!doctype html>\s*<html lang="en">/);
      expect(externalReferences(html), card.name).toEqual([]);
      // Two inline module scripts (the MCP Apps runtime, then the card) and nothing else runs.
      expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module">', '<script type="module">']);
      expect(html.match(/<\/script>/g)).toHaveLength(2);
      console.log(`[cards] ${card.uri}: ${(Buffer.byteLength(html) / 1024).toFixed(0)} KB`);
    }
  });

  it('an unknown card, an earlier version\'s URI or a bad URI is refused plainly and changes nothing', async () => {
    const activation = cards().find((c) => c.name === 'activation')!;
    for (const uri of [
      activation.uri.replace(/-[0-9a-f]{12}\.html$/, '-000000000000.html'),
      'ui://dotm/../../etc/passwd',
      'ui://dotm/activation.html',
      `ui://dotm/${'a'.repeat(5000)}.html`,
    ]) {
      await expect(client.readResource({ uri }), uri.slice(0, 60)).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/not found/) });
    }
    await expect(client.readResource({ uri: 'not a uri' })).rejects.toMatchObject({ code: -32602 });
    const again = await client.readResource({ uri: activation.uri });
    expect((again.contents[0] as { text: string }).text).toBe(activation.html);
  });

  it('the catalogue tools that show a card keep their text and structured content', async () => {
    const comparison = await callTool<{ plans: unknown[] }>(client, 'compare_memberships');
    expect(comparison.text).toMatch(/Basic Membership/);
    expect(comparison.structured.plans.length).toBeGreaterThan(1);
    const pricing = await callTool<{ line_items: unknown[] }>(client, 'calculate_pricing', { service_ids: ['beta_esim_activation', 'basic_membership'] });
    expect(pricing.text).toMatch(/First year|first year/);
    expect(pricing.structured.line_items).toHaveLength(2);
  });

  it('what the activation card receives, in every state up to active, has no activation code, ICCID or full e-mail', async () => {
    const email = 'maria.cards@example.com';
    const user = await t.client({ token: t.token(email) });
    const answers: Array<ToolAnswer<Record<string, unknown>>> = [];
    const status = async () => {
      const answer = await callTool<Record<string, unknown>>(user, 'get_activation_status');
      answers.push(answer);
      return answer;
    };

    expect((await status()).structured.status).toBe('none');
    const { first } = await buyAndPay(t, email);
    answers.push(first as unknown as ToolAnswer<Record<string, unknown>>);
    expect(first.structured).toMatchObject({ status: 'awaiting_payment', email_hint: 'm***@example.com' });
    const active = await waitUntil(
      async () => {
        const answer = await status();
        return answer.structured.status === 'active' && answer;
      },
      { what: 'the activation to become active', intervalMs: 100 },
    );
    expect(active.structured).toMatchObject({ email_hint: 'm***@example.com', phone_number: expect.any(String) });

    const line = t.service.local.oxio!.lines().find((l) => l.email === email)!;
    const matchingId = line.activationCode.split('$')[2]!;
    expect(matchingId.length).toBeGreaterThan(8);
    for (const answer of answers) {
      expect(answer.text.length).toBeGreaterThan(0);
      expect(answer.structured).toBeTypeOf('object');
      expect(answer.raw).not.toContain(email);
      expect(answer.raw).not.toContain(line.iccid);
      expect(answer.raw).not.toContain(matchingId);
      expect(answer.raw).not.toMatch(/LPA:1\$/);
    }
  });
});

describe('the MCP Apps runtime inlined into a card', () => {
  it('turns the bundle\'s export clause into one global, and refuses a bundle without what a card needs', () => {
    const names = 'App:a,PostMessageTransport:b,applyDocumentTheme:c,applyHostStyleVariables:d,applyHostFonts:e';
    const bundle = 'var a=1,b=2,c=3,d=4,e=5,f=6;export{a as App,b as PostMessageTransport,c as applyDocumentTheme,d as applyHostStyleVariables,e as applyHostFonts,f as Other};';
    expect(exposeModuleExports(bundle)).toBe(`var a=1,b=2,c=3,d=4,e=5,f=6;globalThis.${RUNTIME_GLOBAL}=Object.freeze({${names}});\n`);
    expect(() => exposeModuleExports('var a=1;export{a as App};')).toThrow(/does not export PostMessageTransport/);
    expect(() => exposeModuleExports('var a=1;')).toThrow(/export clause/);
  });
});
