// virt-install's suboption grammar: `--disk path=a.qcow2,size=4,bus=virtio`. One tokenizer
// serves every option (STYLE.md §9): comma-separated tokens, `key=value` or a bare value,
// quoting as POSIX shell words with ',' as the only separator ('...' literal, "..." with
// backslash escapes), so commas and spaces survive inside quotes. This follows virtinst's
// cli.py (shlex with whitespace=',', whitespace_split). A bare first value is the option's
// main key (`--disk /a.img` = `--disk path=/a.img`); some options also take bare flags
// (`--boot cdrom,hd`). Left out: virt-install's list-index keys (`disk[0].x`) and `--disk=?`.
import { TsvirtError } from '../../lib/errors.js';

export interface SubOptionToken {
  readonly key?: string;
  readonly value: string;
}

/** Splits an option's text into its comma-separated tokens, honouring quotes. */
export function tokenizeSubOptions(option: string, text: string): SubOptionToken[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === ',') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new TsvirtError(`${option} ${text}: no closing quotation`, 'close the quote in the option value');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        word += text[j];
      }
      if (j >= text.length) throw new TsvirtError(`${option} ${text}: no closing quotation`, 'close the quote in the option value');
      inWord = true;
      i = j;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words.map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? { value: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Turns one suboption's text into a typed value, or throws the user's error. */
export type ValueParser<T> = (raw: string, where: string) => T;

export interface SubOptionTable<S> {
  readonly option: string;
  /** The key a bare first value stands for. */
  readonly first?: keyof S & string;
  /** Keys and the parser for each value. */
  readonly keys: { readonly [K in keyof S & string]-?: ValueParser<NonNullable<S[K]>> };
  /** Bare tokens the option accepts anywhere (e.g. --boot's device names). */
  readonly flags?: readonly string[];
  /**
   * Keys virt-install accepts without a value, and the value they then stand for
   * (`--disk ...,sparse` is sparse=yes). Any other key written bare is an error, as in
   * virt-install ("Option 'readonly' had no value set").
   */
  readonly bare?: { readonly [K in keyof S & string]?: string };
  /** Shown by --help. */
  readonly summary: string;
  readonly examples?: readonly string[];
}

export interface ParsedSubOptions<S> {
  readonly values: Partial<S>;
  readonly flags: readonly string[];
}

/** Parses an option's text against its table: unknown keys name the key and the option. */
export function parseSubOptions<S>(table: SubOptionTable<S>, text: string): ParsedSubOptions<S> {
  const values: Record<string, unknown> = {};
  const flags: string[] = [];
  const unknown: string[] = [];
  const keys = table.keys as Record<string, ValueParser<unknown>>;
  tokenizeSubOptions(table.option, text).forEach((token, index) => {
    let key = token.key;
    let value = token.value;
    // A bare first value is the main key; so is a first token that only looks like
    // key=value because a URL or path contains '=' (its "key" holds a '/' or ':').
    if (index === 0 && table.first && (key === undefined || (!(key in keys) && /[/:]/.test(key)))) {
      if (key === undefined && table.flags?.includes(value)) {
        flags.push(value);
        return;
      }
      value = key === undefined ? value : `${key}=${value}`;
      key = table.first;
    } else if (key === undefined) {
      if (table.flags?.includes(value)) {
        flags.push(value);
        return;
      }
      if (!(value in keys)) {
        unknown.push(value);
        return;
      }
      const implied = (table.bare as Record<string, string> | undefined)?.[value];
      if (implied === undefined) throw new TsvirtError(`${table.option} ${text}: Option '${value}' had no value set`, `write ${value}=VALUE`);
      key = value;
      value = implied;
    }
    if (!(key in keys)) {
      unknown.push(key);
      return;
    }
    values[key] = keys[key](value, `${table.option} ${key}=${value}`);
  });
  if (unknown.length > 0) {
    throw new TsvirtError(
      `Unknown ${table.option} options: ${unknown.map((k) => `'${k}'`).join(', ')}`,
      `valid ${table.option} options: ${[...Object.keys(keys), ...(table.flags ?? [])].join(', ')}`,
    );
  }
  return { values: values as Partial<S>, flags };
}

// --- value parsers -------------------------------------------------------------------

export const text: ValueParser<string> = (raw, where) => {
  if (raw === '') throw new TsvirtError(`${where}: empty value`, 'give a value after the =');
  return raw;
};

/** A non-negative decimal number (virt-install allows floats for sizes: size=1.5). */
export function decimal(unit: string, opts: { min?: number; minExclusive?: boolean } = {}): ValueParser<number> {
  return (raw, where) => {
    if (!/^[+]?(\d+(\.\d*)?|\.\d+)$/.test(raw.trim())) {
      throw new TsvirtError(`${where}: '${raw}' is not a number`, `give the size as a plain number in ${unit}`);
    }
    const n = Number(raw);
    const min = opts.min ?? 0;
    if (!Number.isFinite(n) || n < min || (opts.minExclusive && n === min)) {
      throw new TsvirtError(`${where}: ${raw} is out of range`, `give a number ${opts.minExclusive ? 'above' : 'of at least'} ${min} ${unit}`);
    }
    return n;
  };
}

export function integer(opts: { min?: number; max?: number } = {}): ValueParser<number> {
  return (raw, where) => {
    if (!/^[+-]?\d+$/.test(raw.trim())) throw new TsvirtError(`${where}: '${raw}' is not an integer`, 'give a whole number');
    const n = Number(raw);
    if (opts.min !== undefined && n < opts.min) throw new TsvirtError(`${where}: must be at least ${opts.min}`, 'give a larger number');
    if (opts.max !== undefined && n > opts.max) throw new TsvirtError(`${where}: must be at most ${opts.max}`, 'give a smaller number');
    return n;
  };
}

const YES = ['yes', 'on', 'true', '1'];
const NO = ['no', 'off', 'false', '0'];

export const yesNo: ValueParser<boolean> = (raw, where) => {
  const v = raw.toLowerCase();
  if (YES.includes(v)) return true;
  if (NO.includes(v)) return false;
  throw new TsvirtError(`${where}: '${raw}' is not a yes/no value`, 'use yes|no or on|off');
};

export function oneOf<T extends string>(...choices: readonly T[]): ValueParser<T> {
  return (raw, where) => {
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    throw new TsvirtError(`${where}: unknown value '${raw}'`, `use one of: ${choices.join(', ')}`);
  };
}
