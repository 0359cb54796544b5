// Which phones take an eSIM: data an operator edits (src/devices/devices.json), validated at start
// like the catalogue. A model is found by its name or an alias: both sides are reduced to the same
// tokens (case, spacing, punctuation, "+" and glued model numbers do not matter; brand words such as
// "Apple" or "Galaxy" are optional), and an alias matches only as whole tokens, so "iPhone 1" never
// finds the iPhone 11. Where several aliases match, the longest wins ("iPhone 12 Pro Max" over
// "iPhone 12"). A brand named in the question limits the search to that brand's models.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const DEFAULT_DEVICES_FILE = fileURLToPath(new URL('./devices.json', import.meta.url));

/** Words that are written glued to a model number or name ("iPhoneXS", "GalaxyS21"). */
const GLUED_PREFIXES = ['iphone', 'ipad', 'pixel', 'galaxy', 'xperia'];
/** Written as one word or two. */
const SPLIT_WORDS: Record<string, string[]> = { promax: ['pro', 'max'], xsmax: ['xs', 'max'] };
const SAME_WORDS: Record<string, string> = { generation: 'gen', first: '1', second: '2', third: '3', fourth: '4', fifth: '5', sixth: '6' };
/** Ordinal endings after a number ("2nd" → "2"), and size words that never tell models apart. */
const ORDINAL_ENDINGS = new Set(['st', 'nd', 'rd', 'th']);
const FILLER = new Set(['inch']);

/**
 * The tokens a device name reduces to: lower-case letters and digits, with numbers split from
 * letters ("S21+" → s 21 plus, "iPhone14ProMax" → iphone 14 pro max, "SE 2nd generation" → se 2 gen).
 */
export function deviceTokens(text: string): string[] {
  const spaced = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\+/g, ' plus ')
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(/([a-z])(\d)/g, '$1 $2')
    .replace(/(\d)([a-z])/g, '$1 $2');
  const tokens: string[] = [];
  for (const raw of spaced.split(' ')) {
    if (!raw) continue;
    const prefix = GLUED_PREFIXES.find((p) => raw.length > p.length && raw.startsWith(p));
    for (const word of prefix ? [prefix, raw.slice(prefix.length)] : [raw]) {
      for (const part of SPLIT_WORDS[word] ?? [SAME_WORDS[word] ?? word]) {
        if (FILLER.has(part)) continue;
        if (ORDINAL_ENDINGS.has(part) && /^\d+$/.test(tokens.at(-1) ?? '')) continue;
        tokens.push(part);
      }
    }
  }
  return tokens;
}

const text = z.string().trim().min(1).max(300);
const word = z.string().regex(/^[a-z0-9]+$/, 'a brand word is lower-case letters and digits');
const modelSchema = z.union([
  z.string().trim().min(1).max(100),
  z.object({ name: z.string().trim().min(1).max(100), aliases: z.array(z.string().trim().min(1).max(100)).min(1) }).strict(),
]);
const fileSchema = z
  .object({
    how_to_check: z.array(text).min(1),
    notes_for_all: z.array(text).default([]),
    brands: z.record(word, z.array(word).min(1)),
    groups: z
      .array(
        z
          .object({
            brand: word,
            /** null: the name alone does not tell (the iPhone SE without its generation). */
            compatible: z.boolean().nullable(),
            notes: z.array(text).default([]),
            models: z.array(modelSchema).min(1),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export interface KnownModel {
  /** As shown to the user, e.g. "Apple iPhone 12 mini". */
  readonly name: string;
  readonly brand: string;
  readonly compatible: boolean | null;
  readonly notes: readonly string[];
  /** The name and the aliases as written in the file. */
  readonly aliases: readonly string[];
}

export interface DeviceAnswer {
  device: string;
  compatible: boolean | null;
  matched?: string;
  notes: string[];
  how_to_check: string[];
}

export interface DeviceList {
  readonly models: readonly KnownModel[];
  /** The model a name refers to, or undefined. */
  find(device: string): KnownModel | undefined;
  /** The answer for a name: the model's, or `compatible: null` with how to check. */
  check(device: string): DeviceAnswer;
}

export class DeviceListError extends Error {}

interface Key {
  key: string;
  length: number;
  model: KnownModel;
}

export function parseDevices(raw: unknown, source = 'device list'): DeviceList {
  const parsed = fileSchema.safeParse(raw);
  const fail = (problems: string[]) => new DeviceListError(`Invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (!parsed.success) throw fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const data = parsed.data;

  const problems: string[] = [];
  const brandOfWord = new Map<string, string>();
  for (const [brand, words] of Object.entries(data.brands)) {
    for (const w of words) {
      const other = brandOfWord.get(w);
      if (other && other !== brand) problems.push(`brands.${brand}: the word "${w}" is also a word of ${other}`);
      brandOfWord.set(w, brand);
    }
  }

  const models: KnownModel[] = [];
  const keys: Key[] = [];
  const owner = new Map<string, string>();
  data.groups.forEach((group, g) => {
    if (!(group.brand in data.brands)) problems.push(`groups.${g}.brand: unknown brand "${group.brand}"`);
    group.models.forEach((entry, m) => {
      const name = typeof entry === 'string' ? entry : entry.name;
      const aliases = [name, ...(typeof entry === 'string' ? [] : entry.aliases)];
      const model: KnownModel = Object.freeze({ name, brand: group.brand, compatible: group.compatible, notes: Object.freeze([...group.notes]), aliases: Object.freeze(aliases) });
      models.push(model);
      for (const alias of aliases) {
        const tokens = deviceTokens(alias).filter((t) => !brandOfWord.has(t));
        const key = tokens.join(' ');
        const where = `groups.${g}.models.${m} ("${alias}")`;
        if (!key) {
          problems.push(`${where}: nothing is left of it without the brand words`);
          continue;
        }
        const before = owner.get(key);
        if (before !== undefined && before !== name) problems.push(`${where}: reads the same as a name of "${before}"`);
        if (before !== undefined) continue;
        owner.set(key, name);
        keys.push({ key: ` ${key} `, length: tokens.length, model });
      }
    });
  });
  if (problems.length) throw fail(problems);

  // The longest alias first: the first that fits is the best.
  keys.sort((a, b) => b.length - a.length || b.key.length - a.key.length);
  const howToCheck = Object.freeze([...data.how_to_check]);
  const forAll = Object.freeze([...data.notes_for_all]);

  const find = (device: string): KnownModel | undefined => {
    const brands = new Set<string>();
    const rest: string[] = [];
    for (const t of deviceTokens(device)) {
      const brand = brandOfWord.get(t);
      if (brand) brands.add(brand);
      else rest.push(t);
    }
    const haystack = ` ${rest.join(' ')} `;
    return keys.find((k) => (brands.size === 0 || brands.has(k.model.brand)) && haystack.includes(k.key))?.model;
  };

  return Object.freeze({
    models: Object.freeze(models),
    find,
    check(device: string): DeviceAnswer {
      const model = find(device);
      if (!model) {
        return {
          device,
          compatible: null,
          notes: ['This model is not in our list, so we cannot say: the steps below tell within a minute.', ...forAll],
          how_to_check: [...howToCheck],
        };
      }
      return { device, compatible: model.compatible, matched: model.name, notes: [...model.notes, ...forAll], how_to_check: [...howToCheck] };
    },
  });
}

export function loadDevices(file = DEFAULT_DEVICES_FILE): DeviceList {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DeviceListError(`Cannot read the device list ${file}: ${(err as Error).message}`);
  }
  return parseDevices(raw, `device list ${file}`);
}

let shipped: DeviceList | undefined;
/** The list shipped with the service, read once. */
export const shippedDevices = (): DeviceList => (shipped ??= loadDevices());
