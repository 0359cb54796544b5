// MCP Apps cards (the `@modelcontextprotocol/ext-apps` extension): which tool shows which card, and
// the cards as `ui://` resources. Each URI carries a hash of its document, because hosts (ChatGPT
// among them) cache a card's template by URI: a changed card gets a new URI.
import { createHash } from 'node:crypto';
import { registerAppResource, RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { activationCardSource } from './activation-card.js';
import { cardDocument, type CardSource } from './document.js';
import { offersCardSource } from './offers-card.js';

export { RESOURCE_MIME_TYPE };

export interface Card {
  name: 'activation' | 'offers';
  title: string;
  description: string;
  /** `ui://dotm/<name>-<first 12 hex digits of the document's SHA-256>.html` */
  uri: string;
  html: string;
  /** The tools whose results this card shows. */
  tools: readonly string[];
}

/** The resource's `_meta.ui`: nothing may be loaded or fetched from anywhere; a border please. */
export const CARD_UI_META = {
  csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] },
  prefersBorder: true,
} as const;

const SOURCES: ReadonlyArray<{ name: Card['name']; source: CardSource; description: string; tools: readonly string[] }> = [
  {
    name: 'activation',
    source: activationCardSource,
    description: 'The eSIM activation: pay button, queue position and wait, phone number once active.',
    tools: ['activate_esim', 'get_activation_status'],
  },
  {
    name: 'offers',
    source: offersCardSource,
    description: 'DOTM offers side by side: memberships compared, or a price calculation with its totals.',
    tools: ['compare_memberships', 'calculate_pricing'],
  },
];

export const contentHash = (html: string): string => createHash('sha256').update(html).digest('hex').slice(0, 12);

let built: readonly Card[] | undefined;

/** The cards, built once per process (the documents are the same for every server and request). */
export function cards(): readonly Card[] {
  built ??= SOURCES.map(({ name, source, description, tools }) => {
    const html = cardDocument(source);
    return { name, title: source.title, description, uri: `ui://dotm/${name}-${contentHash(html)}.html`, html, tools };
  });
  return built;
}

/** The `_meta` a tool's descriptor carries to show a card, or undefined for a tool without one. */
export function cardMetaFor(toolName: string): Record<string, unknown> | undefined {
  const card = cards().find((c) => c.tools.includes(toolName));
  if (!card) return undefined;
  // What ext-apps' registerAppTool sets (`ui.resourceUri` and the older flat key), and ChatGPT's
  // Apps SDK name for the same template.
  const meta: Record<string, unknown> = {
    ui: { resourceUri: card.uri },
    [RESOURCE_URI_META_KEY]: card.uri,
    'openai/outputTemplate': card.uri,
  };
  // The activation card refreshes itself with this tool; ChatGPT lets a card call only tools marked so.
  if (toolName === 'get_activation_status') meta['openai/widgetAccessible'] = true;
  return meta;
}

/** Registers every card as a resource; tools/list points at them through cardMetaFor. */
export function registerCards(server: McpServer): void {
  for (const card of cards()) {
    const meta = {
      ui: CARD_UI_META,
      // The same declarations under the names ChatGPT's Apps SDK reads.
      'openai/widgetDescription': card.description,
      'openai/widgetPrefersBorder': CARD_UI_META.prefersBorder,
      'openai/widgetCSP': { connect_domains: [], resource_domains: [] },
    };
    registerAppResource(
      server,
      `${card.name}-card`,
      card.uri,
      { title: card.title, description: card.description, mimeType: RESOURCE_MIME_TYPE, _meta: meta },
      async () => ({ contents: [{ uri: card.uri, mimeType: RESOURCE_MIME_TYPE, text: card.html, _meta: meta }] }),
    );
  }
}
