// The device list behind check_device_compatibility: the shipped data answers the questions
// travellers ask, every name and alias finds its own model however it is typed, nothing finds a
// model whose name is not in the question (so "iPhone 1" never finds the iPhone 11), and a bad
// file stops the start with a message naming the entry.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICES_FILE, DeviceListError, deviceTokens, loadDevices, parseDevices, shippedDevices } from '../../src/devices/devices.js';

interface DataFile {
  brands: Record<string, string[]>;
  groups: Array<{ brand: string; compatible: boolean | null; notes: string[]; models: Array<string | { name: string; aliases: string[] }> }>;
  how_to_check: string[];
  notes_for_all: string[];
}
const data = JSON.parse(readFileSync(DEFAULT_DEVICES_FILE, 'utf8')) as DataFile;
const devices = shippedDevices();

const brandOfWord = new Map(Object.entries(data.brands).flatMap(([brand, words]) => words.map((w) => [w, brand] as const)));
const entries = data.groups.flatMap((g) =>
  g.models.map((m) => ({
    brand: g.brand,
    name: typeof m === 'string' ? m : m.name,
    aliases: typeof m === 'string' ? [m] : [m.name, ...m.aliases],
  })),
);

const withoutBrands = (text: string) => deviceTokens(text).filter((t) => !brandOfWord.has(t));
const aliasKeys = entries.flatMap((e) => e.aliases.map((alias) => ({ ...e, alias, key: withoutBrands(alias) })));

/** The question's tokens without brand words, and the brands it names. */
function read(question: string) {
  const tokens = deviceTokens(question);
  return { named: new Set(tokens.flatMap((t) => (brandOfWord.has(t) ? [brandOfWord.get(t)!] : []))), rest: tokens.filter((t) => !brandOfWord.has(t)) };
}
const containsKey = (rest: string[], key: string[]) => rest.some((_, i) => key.length > 0 && key.every((t, j) => rest[i + j] === t));

/**
 * The rule, stated plainly: among the models of the brands named (any brand, if none is), the one
 * with the longest name or alias whose tokens appear together in the question; the first in the
 * file on a tie.
 */
function expectedModel(question: string): string | undefined {
  const { named, rest } = read(question);
  let best: { name: string; tokens: number; chars: number } | undefined;
  for (const { brand, name, key } of aliasKeys) {
    if ((named.size && !named.has(brand)) || !containsKey(rest, key)) continue;
    const chars = key.join(' ').length;
    if (!best || key.length > best.tokens || (key.length === best.tokens && chars > best.chars)) best = { name, tokens: key.length, chars };
  }
  return best?.name;
}

describe('the shipped device list', () => {
  it.each([
    ['iPhone XS', true, 'Apple iPhone XS'],
    ['iPhone XR', true, 'Apple iPhone XR'],
    ['Apple iPhone XS Max', true, 'Apple iPhone XS Max'],
    ['iPhone SE 2nd generation', true, 'Apple iPhone SE (2nd generation)'],
    ['iPhone SE (2022)', true, 'Apple iPhone SE (3rd generation)'],
    ['iphone 11', true, 'Apple iPhone 11'],
    ['iPhone 12 mini', true, 'Apple iPhone 12 mini'],
    ['iPhone14ProMax', true, 'Apple iPhone 14 Pro Max'],
    ['iPhone 16e', true, 'Apple iPhone 16e'],
    ['IPHONE 17 PRO MAX 256GB', true, 'Apple iPhone 17 Pro Max'],
    ['iPhone Air', true, 'Apple iPhone Air'],
    ['iPhone X', false, 'Apple iPhone X'],
    ['iPhone 10', false, 'Apple iPhone X'],
    ['iPhone 8 Plus', false, 'Apple iPhone 8 Plus'],
    ['iPhone 8', false, 'Apple iPhone 8'],
    ['iPhone SE 1st gen', false, 'Apple iPhone SE (1st generation)'],
    ['iPad Air 5th generation', true, 'Apple iPad Air (3rd generation and later)'],
    ['Pixel 3', true, 'Google Pixel 3'],
    ['Google Pixel 3a XL', true, 'Google Pixel 3a XL'],
    ['pixel 9 pro fold', true, 'Google Pixel 9 Pro Fold'],
    ['Pixel 2 XL', false, 'Google Pixel 2 XL'],
    ['Pixel XL', false, 'Google Pixel (2016)'],
    ['Samsung Galaxy S20', true, 'Samsung Galaxy S20'],
    ['galaxy s21+ 5g', true, 'Samsung Galaxy S21+'],
    ['S24 Ultra', true, 'Samsung Galaxy S24 Ultra'],
    ['Galaxy Z Fold 4', true, 'Samsung Galaxy Z Fold4'],
    ['Samsung Flip5', true, 'Samsung Galaxy Z Flip5'],
    ['Note 20 Ultra', true, 'Samsung Galaxy Note20 Ultra'],
    ['Galaxy S10e', false, 'Samsung Galaxy S10e'],
    ['Galaxy Note 10+', false, 'Samsung Galaxy Note10+'],
    ['moto razr 2019', true, 'Motorola Razr (2019 and later)'],
    ['Huawei P40', true, 'Huawei P40'],
    ['Huawei P40 Pro+', false, 'Huawei P40 Pro+'],
    ['OPPO Find X3 Pro', true, 'Oppo Find X3 Pro'],
    ['Sony Xperia 10 III', true, 'Sony Xperia 10 III'],
  ])('%s → %s (%s)', (question, compatible, matched) => {
    const answer = devices.check(question);
    expect(answer).toMatchObject({ device: question, compatible, matched });
    expect(answer.how_to_check.join(' ')).toContain('*#06#');
  });

  it('notes carry the known exceptions', () => {
    expect(devices.check('iPhone 13').notes.join(' ')).toMatch(/mainland China/);
    expect(devices.check('iPhone 15').notes.join(' ')).toMatch(/US.*eSIM only/);
    expect(devices.check('Pixel 3').notes.join(' ')).toMatch(/Australia, Taiwan or Japan/);
    expect(devices.check('Pixel 2').notes.join(' ')).toMatch(/Google Fi/);
    expect(devices.check('Galaxy S21').notes.join(' ')).toMatch(/Some models/);
    expect(devices.check('iPad mini 6').notes.join(' ')).toMatch(/data only/);
    for (const q of ['iPhone 12', 'Pixel 8', 'Nokia 3310']) expect(devices.check(q).notes.join(' ')).toMatch(/unlocked/);
  });

  it.each([
    ['iPhone 1'],
    ['iPhone 110'],
    ['Pixel 30'],
    ['Pixel'],
    ['iPhone'],
    ['Nokia 3310'],
    ['vivo S20'],
    ['Xiaomi Redmi Note 10'],
    ['Flip phone'],
    ['a banana'],
  ])('%s → null with how to check', (question) => {
    const answer = devices.check(question);
    expect(answer.compatible).toBeNull();
    expect(answer.matched).toBeUndefined();
    expect(answer.how_to_check.join(' ')).toMatch(/\*#06#.*EID/);
  });

  it('a name that does not tell (the iPhone SE, the S20 FE) answers null with the reason', () => {
    expect(devices.check('iPhone SE')).toMatchObject({ compatible: null, matched: 'Apple iPhone SE' });
    expect(devices.check('iPhone SE').notes[0]).toMatch(/2nd .*3rd .*1st/);
    expect(devices.check('Galaxy S20 FE')).toMatchObject({ compatible: null, matched: 'Samsung Galaxy S20 FE' });
  });

  it('every name and alias finds its own model, however it is typed', () => {
    const joins = fc.constantFrom(' ', '  ', '-', '_', '\t', ' / ');
    const question = fc
      .record({
        entry: fc.constantFrom(...entries),
        pick: fc.nat(),
        cases: fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
        seps: fc.array(fc.tuple(joins, fc.boolean()), { minLength: 12, maxLength: 12 }),
        brand: fc.option(fc.nat(), { nil: undefined }),
        suffix: fc.constantFrom('', ' 128GB', ' (unlocked)', ' dual sim', '?'),
      })
      .map(({ entry, pick, cases, seps, brand, suffix }) => {
        const alias = entry.aliases[pick % entry.aliases.length]!;
        const words = alias.split(/\s+/);
        let text = words[0]!;
        for (let i = 1; i < words.length; i++) {
          const [sep, glue] = seps[i % seps.length]!;
          // A number may be written glued to the word before or after it ("iPhone12", "Fold 4a").
          const [a, b] = [text.slice(-1), words[i]![0]!];
          const splits = (/[a-z]/i.test(a) && /\d/.test(b)) || (/\d/.test(a) && /[a-z]/i.test(b));
          text += (glue && splits ? '' : sep) + words[i];
        }
        text = [...text].map((c, i) => (cases[i % cases.length] ? c.toUpperCase() : c.toLowerCase())).join('');
        const brandWords = data.brands[entry.brand]!;
        const prefix = brand === undefined ? '' : `${brandWords[brand % brandWords.length]} `;
        return { entry, text: `${prefix}${text}${suffix}` };
      });
    fc.assert(
      fc.property(question, ({ entry, text }) => {
        expect(devices.find(text)?.name, text).toBe(entry.name);
      }),
      { numRuns: 2000 },
    );
  });

  it('any question: never throws, and answers the model the rule names, or null', () => {
    const words = [...new Set(entries.flatMap((e) => e.aliases.flatMap((a) => a.split(/\s+/))))];
    const soup = fc.array(fc.oneof(fc.constantFrom(...words, ...brandOfWord.keys()), fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 3000 }).map(String)), { maxLength: 8 }).map((w) => w.join(' '));
    fc.assert(
      fc.property(fc.oneof(soup, fc.string({ maxLength: 120 }), fc.string({ unit: 'grapheme', maxLength: 60 })), (question) => {
        const answer = devices.check(question);
        const expected = expectedModel(question);
        expect(answer.matched, question).toBe(expected);
        if (expected === undefined) expect(answer.compatible).toBeNull();
        else expect(answer.compatible).toBe(devices.models.find((m) => m.name === expected)!.compatible);
        expect(answer.device).toBe(question);
      }),
      { numRuns: 3000 },
    );
  });

  it('a model number written with more digits is another model: never the shorter one', () => {
    const numbered = entries.flatMap((e) => e.aliases.filter((a) => /\d$/.test(a)).map((alias) => ({ name: e.name, alias })));
    fc.assert(
      fc.property(fc.constantFrom(...numbered), fc.integer({ min: 0, max: 99 }), ({ name, alias }, more) => {
        const question = `${alias}${more}`;
        if (devices.find(question)?.name !== name) return;
        // Only when another of the model's names is in the question as it stands ("Razr" in "Razr 20190").
        const { rest } = read(question);
        expect(aliasKeys.some((k) => k.name === name && k.alias !== alias && containsKey(rest, k.key)), question).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('deviceTokens', () => {
  it.each([
    ['Apple iPhone 12 Pro Max', 'apple iphone 12 pro max'],
    ['iPhone12ProMax', 'iphone 12 pro max'],
    ['iphonexsmax', 'iphone xs max'],
    ['Galaxy S21+', 'galaxy s 21 plus'],
    ['GalaxyS20FE', 'galaxy s 20 fe'],
    ['iPhone SE (2nd generation)', 'iphone se 2 gen'],
    ['iPhone SE second gen', 'iphone se 2 gen'],
    ['iPad Pro 12.9-inch', 'ipad pro 12 9'],
    ['  Pixel\t4a 5G ', 'pixel 4 a 5 g'],
    ['Xperia 10 Ⅲ', 'xperia 10 iii'],
    ['Ñoño 1', 'nono 1'],
    ['', ''],
  ])('%s → %s', (text, tokens) => {
    expect(deviceTokens(text).join(' ')).toBe(tokens);
  });
});

describe('the device list file', () => {
  const base = (): DataFile => JSON.parse(JSON.stringify(data)) as DataFile;
  const refusal = (raw: unknown) => {
    try {
      parseDevices(raw, 'test list');
    } catch (err) {
      expect(err).toBeInstanceOf(DeviceListError);
      return (err as Error).message;
    }
    throw new Error('the list was accepted');
  };

  it('refuses a model under an unknown brand', () => {
    const d = base();
    d.groups[0]!.brand = 'nokia';
    expect(refusal(d)).toMatch(/groups\.0\.brand: unknown brand "nokia"/);
  });

  it('refuses two models that read the same', () => {
    const d = base();
    d.groups[1]!.models.push({ name: 'Apple iPhone XS (2018)', aliases: ['apple  IPHONE-12'] });
    expect(refusal(d)).toMatch(/"apple {2}IPHONE-12"\): reads the same as a name of "Apple iPhone 12"/);
  });

  it('refuses an alias that is only brand words, a brand word of two brands, a missing field, an unknown field', () => {
    const d = base();
    d.groups[0]!.models.push({ name: 'Apple phone 99', aliases: ['Samsung Galaxy'] });
    expect(refusal(d)).toMatch(/"Samsung Galaxy"\): nothing is left/);
    const twice = base();
    twice.brands.apple!.push('galaxy');
    expect(refusal(twice)).toMatch(/the word "galaxy" is also a word of/);
    const missing = base() as unknown as { groups: Array<Record<string, unknown>> };
    delete missing.groups[2]!.compatible;
    expect(refusal(missing)).toMatch(/groups\.2\.compatible/);
    const extra = base() as unknown as Record<string, unknown>;
    extra.colour = 'blue';
    expect(refusal(extra)).toMatch(/colour/);
  });

  it('loads an operator\'s file, and names a file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dotm-devices-'));
    const file = join(dir, 'devices.json');
    writeFileSync(file, JSON.stringify({ ...base(), groups: [{ brand: 'google', compatible: true, notes: [], models: ['Google Pixel 42'] }] }));
    expect(loadDevices(file).check('pixel 42')).toMatchObject({ compatible: true, matched: 'Google Pixel 42' });
    expect(loadDevices(file).check('iPhone 12').compatible).toBeNull();
    writeFileSync(file, '{ not json');
    expect(() => loadDevices(file)).toThrow(/Cannot read the device list .*devices\.json/);
  });
});
