// The kickstart parser: lines -> the typed model, keeping FILE:LINE for every command and
// section. Follows pykickstart's reading of a file: words split as Python's
// shlex.split(comments=True) splits them, `#` comments, sections opened by %pre,
// %pre-install, %post, %packages, %onerror, %traceback, %addon, %anaconda and closed by
// %end (required in current syntax), %include and %ksappend read in place (paths
// relative to the including file, URLs through the Fetcher; cycles and nesting deeper
// than MAX_INCLUDE_DEPTH are errors). A command line ending in a backslash continues on
// the next line. Text must be UTF-8, as pykickstart reads it: bytes that do not decode
// are an error at their line, never replaced. Option semantics come from
// command-table.ts; cross-command rules live in validate.ts.
import { isUtf8 } from 'node:buffer';
import { resolve } from 'node:path';
import { FetchNotFoundError, type Fetcher } from '../fetch/fetcher.js';
import { classifySource } from '../fetch/source-kind.js';
import { resolveNamedSource } from '../fetch/source-trust.js';
import { type CompiledCommand, lookupCommand, type OptionSpec } from './command-table.js';
import type { Kickstart, KsAddon, KsCommand, KsLocation, KsOptionValue, KsPackages, KsProblem, KsScript, KsScriptKind } from './model.js';
import { ShellSplitError, shellSplit } from './shell-split.js';

export const MAX_INCLUDE_DEPTH = 8;
const MAX_KICKSTART_BYTES = 4 * 1024 * 1024;
/**
 * Budgets for one kickstart with everything it includes (an %include bomb of 20 includes
 * a level, 8 levels deep, grew past 3 GB): the number of %include/%ksappend reads, the
 * bytes they bring in, and the lines parsed in all. Past one, parsing stops with an error
 * that names the limit.
 */
export const MAX_INCLUDES = 256;
export const MAX_EXPANDED_BYTES = 16 * 1024 * 1024;
export const MAX_EXPANDED_LINES = 1_000_000;
/**
 * Time for reading a kickstart with everything it includes, the fetcher's deadline for one
 * small resource: each read had its own deadline, so 256 includes from a server answering
 * each one slowly (a byte at a time, or a 404 after 29 s) took hours.
 */
export const MAX_EXPANSION_MS = 60_000;

export interface ParseOptions {
  /** Time allowed for reading the kickstart and everything it includes (MAX_EXPANSION_MS). */
  readonly deadlineMs?: number;
}

export interface ParseResult {
  readonly kickstart: Kickstart;
  readonly problems: KsProblem[];
}

interface SectionHeaderSpec {
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const SCRIPT_OPTIONS: Record<string, OptionSpec> = {
  interpreter: { kind: 'string' },
  erroronfail: { kind: 'flag' },
  log: { kind: 'string', aliases: ['logfile'] },
};

const SECTIONS: Readonly<Record<string, SectionHeaderSpec>> = {
  '%pre': { options: SCRIPT_OPTIONS },
  '%pre-install': { options: SCRIPT_OPTIONS },
  '%post': { options: { ...SCRIPT_OPTIONS, nochroot: { kind: 'flag' } } },
  '%onerror': { options: SCRIPT_OPTIONS },
  '%traceback': { options: SCRIPT_OPTIONS },
  '%packages': {
    options: {
      default: { kind: 'flag' }, excludedocs: { kind: 'flag' }, ignoremissing: { kind: 'flag' }, nocore: { kind: 'flag' },
      'inst-langs': { kind: 'string', aliases: ['instLangs'] }, multilib: { kind: 'flag' }, timeout: { kind: 'int', min: 0 },
      retries: { kind: 'int', min: 0 }, 'exclude-weakdeps': { kind: 'flag' }, nobase: { kind: 'flag', removed: true },
      resolvedeps: { kind: 'flag', removed: true }, ignoredeps: { kind: 'flag', removed: true },
    },
  },
  '%addon': { options: {} },
  '%anaconda': { options: {} },
};

interface OpenSection {
  name: string;
  words: string[];
  options: Record<string, KsOptionValue>;
  at: KsLocation;
  body: string[];
}

/** Fetches and parses a kickstart from a path or URL. */
export async function loadKickstart(source: string, fetcher: Fetcher, opts: ParseOptions = {}): Promise<ParseResult> {
  const deadline = expansionDeadline(opts);
  const p = new KickstartParser(source, deadline, fetcher);
  let text: string;
  try {
    text = await readKickstartText(source, fetcher, deadline.at);
  } catch (err) {
    if (!(err instanceof NotUtf8Error)) throw err;
    p.notUtf8(source, err);
    return p.finish();
  }
  await p.feed(text, source, [identity(source)]);
  return p.finish();
}

interface Deadline {
  readonly at: number;
  readonly ms: number;
}

function expansionDeadline(opts: ParseOptions): Deadline {
  const ms = opts.deadlineMs ?? MAX_EXPANSION_MS;
  return { at: Date.now() + ms, ms };
}

/** Bytes that are not UTF-8, first seen on `line`. */
class NotUtf8Error extends Error {
  constructor(readonly line: number) {
    super(`not valid UTF-8 (line ${line})`);
  }
}

async function readKickstartText(source: string, fetcher: Fetcher, deadline: number): Promise<string> {
  // Whole seconds, so a deadline error reads "within its deadline of 12 s".
  const deadlineMs = Math.max(1000, Math.ceil((deadline - Date.now()) / 1000) * 1000);
  const bytes = Buffer.from(await fetcher.fetchBytes(source, { maxBytes: MAX_KICKSTART_BYTES, deadlineMs }));
  if (isUtf8(bytes)) return bytes.toString('utf8');
  // A '\n' byte is never part of a multi-byte sequence, so lines can be checked one by one.
  let line = 1;
  for (let start = 0; ; line++) {
    const end = bytes.indexOf(0x0a, start);
    if (!isUtf8(bytes.subarray(start, end < 0 ? bytes.length : end)) || end < 0) break;
    start = end + 1;
  }
  throw new NotUtf8Error(line);
}

/** Parses kickstart text; `source` names it in messages and anchors relative %include paths. */
export async function parseKickstart(text: string, source: string, fetcher?: Fetcher, opts: ParseOptions = {}): Promise<ParseResult> {
  const p = new KickstartParser(source, expansionDeadline(opts), fetcher);
  await p.feed(text, source, [identity(source)]);
  return p.finish();
}

function identity(source: string): string {
  const s = classifySource(source);
  return s.kind === 'http' ? s.url : resolve(s.path);
}

class KickstartParser {
  private readonly commands: KsCommand[] = [];
  private readonly scripts: KsScript[] = [];
  private readonly addons: KsAddon[] = [];
  private packages?: KsPackages;
  private readonly problems: KsProblem[] = [];
  private section?: OpenSection;
  private includes = 0;
  private expandedBytes = 0;
  private expandedLines = 0;
  /** Set when a budget ran out: nothing more is read or parsed. */
  private exhausted = false;

  constructor(private readonly source: string, private readonly deadline: Deadline, private readonly fetcher?: Fetcher) {}

  /** A file whose bytes are not UTF-8: pykickstart cannot read it, and a replaced byte would change a password. */
  notUtf8(file: string, err: NotUtf8Error): void {
    this.error({ file, line: err.line }, 'the file is not valid UTF-8; save it as UTF-8');
  }

  /** Counts text against the budgets; false (with one error) once one is exceeded. */
  private spend(at: KsLocation, bytes: number, lines: number): boolean {
    if (this.exhausted) return false;
    this.expandedBytes += bytes;
    this.expandedLines += lines;
    const over = this.expandedBytes > MAX_EXPANDED_BYTES ? `more than ${MAX_EXPANDED_BYTES} bytes`
      : this.expandedLines > MAX_EXPANDED_LINES ? `more than ${MAX_EXPANDED_LINES} lines` : undefined;
    if (!over) return true;
    this.exhausted = true;
    this.error(at, `the kickstart with its includes is ${over}, the limit; parsing stopped here`);
    return false;
  }

  finish(): ParseResult {
    if (this.section) this.unterminated();
    return {
      kickstart: { source: this.source, commands: this.commands, scripts: this.scripts, packages: this.packages, addons: this.addons },
      problems: this.problems,
    };
  }

  private error(at: KsLocation, message: string): void {
    this.problems.push({ severity: 'error', file: at.file, line: at.line, message });
  }

  private warn(at: KsLocation, message: string): void {
    this.problems.push({ severity: 'warning', file: at.file, line: at.line, message });
  }

  async feed(text: string, file: string, stack: string[]): Promise<void> {
    const lines = text.replace(/\r\n/g, '\n').split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (!this.spend({ file, line: 1 }, Buffer.byteLength(text), lines.length)) return;
    for (let i = 0; i < lines.length; i++) {
      if (this.exhausted) return;
      const at: KsLocation = { file, line: i + 1 };
      let line = lines[i];
      if (this.section) {
        const trimmed = line.trim();
        if (/^%end(\s|#|$)/.test(trimmed)) {
          this.closeSection();
          continue;
        }
        const head = trimmed.split(/\s+/)[0];
        if (SECTIONS[head] !== undefined) {
          // A new section header inside a section: the open one never got its %end.
          this.unterminated();
        } else {
          this.section.body.push(line);
          continue;
        }
      }
      // Backslash-newline joins a command with the next line (the first line is reported).
      // Only the newest piece is tested and the pieces are joined once: linear in the
      // length of the joined line (400k continued lines took minutes when re-tested whole).
      if (endsInLoneBackslash(line) && i + 1 < lines.length && !line.trim().startsWith('%')) {
        const pieces = [line.slice(0, -1)];
        let last = lines[++i];
        while (endsInLoneBackslash(last) && i + 1 < lines.length) {
          pieces.push(last.slice(0, -1));
          last = lines[++i];
        }
        pieces.push(last);
        line = pieces.join(' ');
      }
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      let words: string[];
      try {
        words = shellSplit(trimmed);
      } catch (err) {
        if (err instanceof ShellSplitError) {
          this.error(at, `${err.message} in "${trimmed}"`);
          continue;
        }
        throw err;
      }
      if (words.length === 0) continue;
      const head = words[0];
      if (head === '%include' || head === '%ksappend') {
        await this.include(head, words.slice(1), at, stack);
      } else if (head === '%end') {
        this.error(at, '%end without a section to end');
      } else if (head.startsWith('%')) {
        this.openSection(head, words, at);
      } else {
        this.command(words, at);
      }
    }
  }

  private async include(kind: string, args: string[], at: KsLocation, stack: string[]): Promise<void> {
    if (args.length !== 1) {
      this.error(at, `${kind} takes exactly one path or URL`);
      return;
    }
    let target: string;
    try {
      target = resolveInclude(args[0], at.file);
    } catch (err) {
      this.error(at, `${kind} ${args[0]}: ${(err as Error).message}`);
      return;
    }
    if (!this.fetcher) {
      this.error(at, `cannot read ${kind} ${args[0]}: no fetcher`);
      return;
    }
    let id: string;
    try {
      id = identity(target);
    } catch (err) {
      this.error(at, `${kind} ${args[0]}: ${(err as Error).message}`);
      return;
    }
    if (stack.includes(id)) {
      this.error(at, `${kind} cycle: ${[...stack, id].join(' -> ')}`);
      return;
    }
    if (++this.includes > MAX_INCLUDES) {
      if (!this.exhausted) this.error(at, `more than ${MAX_INCLUDES} %include/%ksappend reads in one kickstart, the limit; parsing stopped here`);
      this.exhausted = true;
      return;
    }
    if (stack.length > MAX_INCLUDE_DEPTH) {
      this.error(at, `${kind} nested more than ${MAX_INCLUDE_DEPTH} deep`);
      return;
    }
    if (Date.now() >= this.deadline.at) {
      this.error(at, `reading the kickstart with its includes took more than ${this.deadline.ms / 1000} s, the limit; parsing stopped here`);
      this.exhausted = true;
      return;
    }
    let text: string;
    try {
      text = await readKickstartText(target, this.fetcher, this.deadline.at);
    } catch (err) {
      if (err instanceof NotUtf8Error) {
        this.notUtf8(target, err);
        return;
      }
      if (err instanceof FetchNotFoundError && /^\/(tmp|run)\//.test(args[0])) {
        // Files the kickstart names under /tmp or /run are usually written by %pre inside
        // the installer. The path as written decides, not where a relative path resolves
        // to on this host (a checkout under /tmp is not the installer's /tmp).
        this.warn(at, `${kind} file ${target} cannot be checked before the install (written by %pre?)`);
        return;
      }
      if (err instanceof FetchNotFoundError) {
        this.error(at, `Unable to open ${kind} file: ${target}`);
        return;
      }
      // Anything but "not found" (too slow, too large, refused, 5xx, reset) is the source
      // misbehaving: as in pykickstart, whose parse ends at a failed include, nothing more
      // is read, so a kickstart naming it 256 times does not wait 256 times.
      this.error(at, `Unable to open ${kind} file: ${target}: ${(err as Error).message}; parsing stopped here`);
      this.exhausted = true;
      return;
    }
    await this.feed(text, target, [...stack, id]);
  }

  private command(words: string[], at: KsLocation): void {
    const written = words[0];
    const spec = lookupCommand(written);
    if (!spec) {
      this.error(at, `Unknown command: ${written}`);
      return;
    }
    if (spec.status === 'removed') {
      this.error(at, `The ${written} command has been removed from current kickstart syntax.`);
      return;
    }
    if (spec.status === 'deprecated') this.warn(at, `The ${written} command has been deprecated and no longer has any effect.`);
    const { args, options } = this.options(spec, written, words.slice(1), at);
    const cmd: KsCommand = { name: spec.name, written, args, options, at };
    if (!spec.freeform) {
      for (const [name, o] of Object.entries(spec.options ?? {})) {
        if (o.required && options[name] === undefined) this.error(at, `${written}: option --${name} is required`);
      }
      const want = spec.args ?? { min: 0, max: 0, what: 'argument' };
      if (args.length < want.min) this.error(at, `${written}: missing ${want.what} argument`);
      if (args.length > want.max) this.error(at, `Unexpected arguments to ${written} command: ${args.slice(want.max).join(' ')}`);
      for (const m of spec.check?.(cmd) ?? []) this.error(at, m);
    }
    this.commands.push(cmd);
  }

  /** argparse-like option reading, as pykickstart's KSOptionParser does it. */
  private options(spec: { readonly freeform?: boolean; readonly optionIndex: CompiledCommand['optionIndex'] }, who: string, words: string[], at: KsLocation) {
    const args: string[] = [];
    const options: Record<string, KsOptionValue> = {};
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (!(w.startsWith('--') && w.length > 2)) {
        args.push(w);
        continue;
      }
      const eq = w.indexOf('=');
      const name = eq >= 0 ? w.slice(0, eq) : w;
      let value: string | undefined = eq >= 0 ? w.slice(eq + 1) : undefined;
      const found = spec.optionIndex.get(name);
      if (!found) {
        if (spec.freeform) {
          options[name.slice(2)] = value ?? true;
          continue;
        }
        this.error(at, `${who}: unknown option ${name}`);
        continue;
      }
      const o = found.spec;
      if (o.removed) {
        this.error(at, `${who}: the ${name} option is no longer supported`);
        if (o.kind !== 'flag' && value === undefined && i + 1 < words.length && !words[i + 1].startsWith('--')) i++;
        continue;
      }
      if (o.deprecated) this.warn(at, `${who}: the ${name} option is deprecated${typeof o.deprecated === 'string' ? `; ${o.deprecated}` : ''}`);
      if (o.deprecatedAliases?.includes(name.slice(2))) this.warn(at, `${who}: the ${name} option is deprecated; use its alias --${found.canonical}`);
      if (o.kind === 'flag') {
        if (value !== undefined) this.error(at, `${who}: option ${name} does not take a value`);
        options[found.canonical] = true;
        continue;
      }
      if (value === undefined) {
        if (i + 1 >= words.length || (words[i + 1].startsWith('--') && words[i + 1].length > 2)) {
          this.error(at, `${who}: option ${name} requires a value`);
          continue;
        }
        value = words[++i];
      }
      const parsed = parseOptionValue(o, value);
      if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
        this.error(at, `${who}: option ${name}: ${parsed.error}`);
        continue;
      }
      if (o.kind === 'append') {
        const prev = (options[found.canonical] as readonly string[] | undefined) ?? [];
        options[found.canonical] = [...prev, ...(parsed as readonly string[])];
      } else {
        options[found.canonical] = parsed as KsOptionValue;
      }
    }
    return { args, options };
  }

  private openSection(head: string, words: string[], at: KsLocation): void {
    const spec = SECTIONS[head];
    if (!spec) {
      this.error(at, `Unknown kickstart section: ${head}`);
      // Swallow its body up to %end so one typo does not cascade into many errors.
      this.section = { name: head, words, options: {}, at, body: [] };
      return;
    }
    let options: Record<string, KsOptionValue> = {};
    if (head === '%addon') {
      if (words.length < 2) this.error(at, '%addon requires the add-on name');
    } else {
      const index = new Map<string, { canonical: string; spec: OptionSpec }>();
      for (const [n, o] of Object.entries(spec.options)) {
        index.set(`--${n}`, { canonical: n, spec: o });
        for (const a of o.aliases ?? []) index.set(`--${a}`, { canonical: n, spec: o });
      }
      const parsed = this.options({ optionIndex: index }, head, words.slice(1), at);
      options = parsed.options;
      if (parsed.args.length > 0) this.error(at, `Unexpected arguments to ${head}: ${parsed.args.join(' ')}`);
    }
    this.section = { name: head, words, options, at, body: [] };
  }

  private unterminated(): void {
    const s = this.section!;
    this.error(s.at, `Section ${s.name} does not end with %end.`);
    this.closeSection();
  }

  private closeSection(): void {
    const s = this.section!;
    this.section = undefined;
    if (SECTIONS[s.name] === undefined) return;
    const body = s.body.length > 0 ? `${s.body.join('\n')}\n` : '';
    if (s.name === '%packages') {
      if (this.packages) this.error(s.at, `%packages was already given on line ${this.packages.at.line}`);
      this.packages = parsePackages(s, this.problems);
      return;
    }
    if (s.name === '%addon') {
      this.addons.push({ name: s.words[1] ?? '', args: s.words.slice(2), body, at: s.at });
      return;
    }
    if (s.name === '%anaconda') return;
    const kind = s.name.slice(1) as KsScriptKind;
    this.scripts.push({
      kind,
      interpreter: (s.options.interpreter as string | undefined) ?? '/bin/sh',
      nochroot: s.options.nochroot === true,
      erroronfail: s.options.erroronfail === true,
      log: s.options.log as string | undefined,
      body,
      at: s.at,
    });
  }
}

function parsePackages(s: OpenSection, problems: KsProblem[]): KsPackages {
  const packages: string[] = [];
  const groups: string[] = [];
  const excludedPackages: string[] = [];
  const excludedGroups: string[] = [];
  s.body.forEach((raw, n) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const word = line.split(/\s+/)[0];
    if (word.startsWith('-@')) excludedGroups.push(word.slice(2));
    else if (word.startsWith('@')) groups.push(line.slice(1));
    else if (word.startsWith('-')) excludedPackages.push(word.slice(1));
    else packages.push(word);
    if (word === '-' || word === '@' || word === '-@') {
      problems.push({ severity: 'error', file: s.at.file, line: s.at.line + n + 1, message: `empty package or group name in %packages: "${line}"` });
    }
  });
  return { options: s.options, packages, groups, excludedPackages, excludedGroups, at: s.at };
}

function parseOptionValue(o: OptionSpec, v: string): KsOptionValue | { error: string } {
  switch (o.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(v)) return { error: `invalid integer value '${v}'` };
      const n = Number(v);
      if (!Number.isSafeInteger(n)) return { error: `integer value '${v}' is too large` };
      if (o.min !== undefined && n < o.min) return { error: `value ${n} is below the minimum ${o.min}` };
      return n;
    }
    case 'bool': {
      const l = v.toLowerCase();
      if (['on', 'yes', 'true', '1'].includes(l)) return true;
      if (['off', 'no', 'false', '0'].includes(l)) return false;
      return { error: `invalid boolean value '${v}'` };
    }
    case 'list':
    case 'append':
      return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
    case 'string':
      if (o.choices && !o.choices.includes(v)) return { error: `invalid choice '${v}' (choose from ${o.choices.join(', ')})` };
      return v;
    default:
      return v;
  }
}

/** What %include/%ksappend name, resolved under the trust rule of source-trust.ts. */
function resolveInclude(target: string, from: string): string {
  return resolveNamedSource({ source: from }, target);
}

/** Whether a line ends in a backslash that is not itself escaped (an odd run of them). */
function endsInLoneBackslash(line: string): boolean {
  let n = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) n++;
  return n % 2 === 1;
}
