// Reading Stripe's form-encoded parameters (already parsed by qs into nested objects) with the
// validation errors Stripe itself gives, so a wrong call fails here the way it would in production.
import { invalidRequest } from './errors.js';

export type RawParams = Record<string, unknown>;

const METADATA_MAX_KEYS = 50;
const METADATA_KEY_MAX = 40;
const METADATA_VALUE_MAX = 500;

export class Params {
  constructor(
    private readonly raw: RawParams,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (key !== 'expand' && !allowed.includes(key)) {
        const supported = allowed.length ? allowed.join(', ') : 'none besides expand';
        throw invalidRequest(`Received unknown parameter: ${key} (the local Stripe stand-in supports: ${supported})`, {
          code: 'parameter_unknown',
          param: key,
        });
      }
    }
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  /** A string parameter; `''` comes back as `''` (Stripe's way of unsetting a field). */
  string(name: string, opts: { required?: boolean; maxLength?: number } = {}): string | undefined {
    const value = this.raw[name];
    if (value === undefined) {
      if (opts.required) throw missing(name);
      return undefined;
    }
    if (typeof value !== 'string') throw invalidRequest(`Invalid string: ${describe(value)}`, { param: name });
    if (opts.required && value === '') {
      throw invalidRequest(`You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`, {
        code: 'parameter_invalid_empty',
        param: name,
      });
    }
    if (opts.maxLength !== undefined && value.length > opts.maxLength) {
      throw invalidRequest(`Invalid ${name}: must be at most ${opts.maxLength} characters`, { param: name });
    }
    return value;
  }

  /** A string that may be unset with `''`: `null` then. */
  nullableString(name: string, opts: { maxLength?: number } = {}): string | null | undefined {
    const value = this.string(name, opts);
    return value === '' ? null : value;
  }

  integer(name: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const value = this.raw[name];
    if (value === undefined) {
      if (opts.required) throw missing(name);
      return undefined;
    }
    if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
      throw invalidRequest(`Invalid integer: ${describe(value)}`, { code: 'parameter_invalid_integer', param: name });
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${value}`, { code: 'parameter_invalid_integer', param: name });
    if (opts.min !== undefined && n < opts.min) {
      throw invalidRequest(`This value must be greater than or equal to ${opts.min}.`, { param: name });
    }
    if (opts.max !== undefined && n > opts.max) {
      throw invalidRequest(`This value must be less than or equal to ${opts.max}.`, { param: name });
    }
    return n;
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${describe(value)}`, { param: name });
  }

  oneOf<T extends string>(name: string, values: readonly T[], opts: { required?: boolean } = {}): T | undefined {
    const value = this.string(name, opts);
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, { param: name });
    }
    return value as T;
  }

  currency(name: string, fallback: string): string {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (!/^[a-z]{3}$/.test(lower)) throw invalidRequest(`Invalid currency: ${value}`, { param: name });
    return lower;
  }

  email(name: string): string | null | undefined {
    const value = this.nullableString(name, { maxLength: 512 });
    if (typeof value === 'string' && !/^[^\s@]+@[^\s@]+$/.test(value)) {
      throw invalidRequest(`Invalid email address: ${value}`, { code: 'email_invalid', param: name });
    }
    return value;
  }

  /** `metadata[key]=value` pairs; `metadata=''` clears them all. */
  metadata(name = 'metadata'): Record<string, string> | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (value === '') return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalidRequest(`Invalid object`, { param: name });
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > METADATA_MAX_KEYS) {
      throw invalidRequest(`Invalid metadata: metadata can have up to ${METADATA_MAX_KEYS} keys`, { param: name });
    }
    const result: Record<string, string> = {};
    for (const [key, v] of entries) {
      if (key.length > METADATA_KEY_MAX) {
        throw invalidRequest(`Invalid metadata: keys can be at most ${METADATA_KEY_MAX} characters`, { param: `${name}[${key}]` });
      }
      if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${describe(v)}`, { param: `${name}[${key}]` });
      if (v.length > METADATA_VALUE_MAX) {
        throw invalidRequest(`Invalid metadata: values can be at most ${METADATA_VALUE_MAX} characters`, { param: `${name}[${key}]` });
      }
      // An empty value unsets that key, as in Stripe.
      if (v !== '') result[key] = v;
    }
    return result;
  }

  /** `expand[]=a` or `expand[0]=a` (qs turns both into an array; beyond its array limit, an object). */
  expand(): string[] {
    const value = this.raw.expand;
    if (value === undefined || value === '') return [];
    const list = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : [value];
    return list.map((v) => {
      if (typeof v !== 'string') throw invalidRequest(`Invalid array`, { param: 'expand' });
      return v;
    });
  }
}

function missing(name: string) {
  return invalidRequest(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name });
}

function describe(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
