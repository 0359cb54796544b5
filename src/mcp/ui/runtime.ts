// The app side of the MCP Apps extension (its `App` class, postMessage transport and theme helpers)
// as an inline script, so that a card is one self-contained HTML document: the declared CSP allows
// no origin to load anything from. The package ships a browser bundle with its dependencies
// (`app-with-deps`, an ES module); its closing `export { local as Name, … }` becomes an assignment
// to one global, which the card's own module script reads.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The global the runtime script defines and the card scripts read. */
export const RUNTIME_GLOBAL = '__dotmMcpApps';

/** What a card uses from the package; the start fails loudly if a later version drops one. */
const NEEDED = ['App', 'PostMessageTransport', 'applyDocumentTheme', 'applyHostStyleVariables', 'applyHostFonts'] as const;

const EXPORT_CLAUSE = /export\s*\{([\w$\s,]+)\}\s*;?\s*$/;

/** Turns the bundle's final export clause into `globalThis[RUNTIME_GLOBAL] = { … }`. */
export function exposeModuleExports(bundle: string): string {
  const match = EXPORT_CLAUSE.exec(bundle);
  if (!match) throw new Error('MCP Apps runtime: the bundle does not end with an export clause');
  const entries = match[1]!
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [local, exported = local] = part.split(/\s+as\s+/);
      return [exported!.trim(), local!.trim()] as const;
    });
  const names = new Set(entries.map(([exported]) => exported));
  const missing = NEEDED.filter((n) => !names.has(n));
  if (missing.length) throw new Error(`MCP Apps runtime: the bundle does not export ${missing.join(', ')}`);
  const object = entries
    .filter(([exported]) => (NEEDED as readonly string[]).includes(exported))
    .map(([exported, local]) => `${exported}:${local}`)
    .join(',');
  return `${bundle.slice(0, match.index)}globalThis.${RUNTIME_GLOBAL}=Object.freeze({${object}});\n`;
}

let cached: string | undefined;

/** The runtime as the text of an inline `<script type="module">`. */
export function appRuntimeScript(): string {
  if (cached === undefined) {
    const file = createRequire(import.meta.url).resolve('@modelcontextprotocol/ext-apps/app-with-deps');
    const script = exposeModuleExports(readFileSync(file, 'utf8'));
    // Inline script text ends at the first `</script`; the shipped bundle has none, and must not.
    if (/<\/script|<!--/i.test(script)) throw new Error('MCP Apps runtime: the bundle cannot be inlined in a script element');
    cached = script;
  }
  return cached;
}
