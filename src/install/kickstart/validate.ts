// Cross-command kickstart rules, as pykickstart's ksvalidator and anaconda apply them to
// a whole file: a command given once only (the later one wins: a warning), commands of
// one kind given together (display modes, final actions: a warning; two installation
// methods such as liveimg and url: an error), autopart together with manual
// partitioning, %packages with liveimg, and duplicate mount points, users and devices
// (warnings). Per-command checks live in command-table.ts.
import type { Fetcher } from '../fetch/fetcher.js';
import { lookupCommand } from './command-table.js';
import type { Kickstart, KsCommand, KsProblem } from './model.js';
import { loadKickstart, parseKickstart, type ParseOptions } from './parser.js';

export interface ValidationResult {
  readonly kickstart: Kickstart;
  /** Sorted by file order of appearance, then line. */
  readonly problems: readonly KsProblem[];
  readonly valid: boolean;
}

const MANUAL_PARTITIONING = ['part', 'logvol', 'volgroup', 'raid', 'reqpart', 'btrfs'];

export function crossCheck(ks: Kickstart): KsProblem[] {
  const problems: KsProblem[] = [];
  const err = (c: { at: KsCommand['at'] }, message: string) => problems.push({ severity: 'error', file: c.at.file, line: c.at.line, message });
  const warn = (c: { at: KsCommand['at'] }, message: string) => problems.push({ severity: 'warning', file: c.at.file, line: c.at.line, message });

  const seenSingle = new Map<string, KsCommand>();
  const seenGroup = new Map<string, KsCommand>();
  for (const c of ks.commands) {
    const spec = lookupCommand(c.name)!;
    if (spec.singleton) {
      const prev = seenSingle.get(c.name);
      if (prev) warn(c, `${c.written} was already given on line ${prev.at.line}${prev.at.file === c.at.file ? '' : ` of ${prev.at.file}`}; only the last one is used`);
      seenSingle.set(c.name, c);
    }
    if (spec.group) {
      const prev = seenGroup.get(spec.group);
      if (prev && prev.name === c.name && !spec.singleton) {
        warn(c, `${c.written} was already given on line ${prev.at.line}; only the last one is used`);
      } else if (prev && prev.name !== c.name) {
        if (spec.group === 'method') err(c, `${c.written} cannot be used together with ${prev.written} (line ${prev.at.line}): both name the installation source`);
        else warn(c, `${c.written} overrides ${prev.written} given on line ${prev.at.line}`);
      }
      seenGroup.set(spec.group, c);
    }
  }

  const autopart = ks.commands.find((c) => c.name === 'autopart');
  if (autopart) {
    const manual = ks.commands.find((c) => MANUAL_PARTITIONING.includes(c.name));
    if (manual) err(autopart, `autopart cannot be used together with ${manual.written} (line ${manual.at.line})`);
  }

  const liveimg = ks.commands.find((c) => c.name === 'liveimg');
  if (liveimg && ks.packages) {
    problems.push({ severity: 'error', file: ks.packages.at.file, line: ks.packages.at.line, message: `%packages cannot be used with liveimg (line ${liveimg.at.line})` });
  }

  const mounts = new Map<string, KsCommand>();
  for (const c of ks.commands.filter((x) => x.name === 'part' || x.name === 'logvol')) {
    const mp = c.args[0];
    if (mp === undefined || mp === 'swap' || mp === 'none' || mp === 'None') continue;
    const prev = mounts.get(mp);
    if (prev) warn(c, `A partition with the mountpoint ${mp} has already been defined (line ${prev.at.line}).`);
    mounts.set(mp, c);
  }
  const users = new Map<string, KsCommand>();
  for (const c of ks.commands.filter((x) => x.name === 'user')) {
    const name = c.options.name as string | undefined;
    if (name === undefined) continue;
    if (users.has(name)) warn(c, `A user with the name ${name} has already been defined.`);
    users.set(name, c);
  }
  const devices = new Map<string, KsCommand>();
  for (const c of ks.commands.filter((x) => x.name === 'network')) {
    const dev = c.options.device as string | undefined;
    if (dev === undefined) continue;
    if (devices.has(dev)) warn(c, `A network device with the name ${dev} has already been defined.`);
    devices.set(dev, c);
  }
  return problems;
}

function order(problems: KsProblem[], ks: Kickstart): KsProblem[] {
  const files = [ks.source];
  for (const p of problems) if (!files.includes(p.file)) files.push(p.file);
  return [...problems].sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line);
}

function result(kickstart: Kickstart, parseProblems: KsProblem[]): ValidationResult {
  const problems = order([...parseProblems, ...crossCheck(kickstart)], kickstart);
  return { kickstart, problems, valid: !problems.some((p) => p.severity === 'error') };
}

/** Validates a kickstart given as a path or URL. */
export async function validateKickstartSource(source: string, fetcher: Fetcher, opts: ParseOptions = {}): Promise<ValidationResult> {
  const { kickstart, problems } = await loadKickstart(source, fetcher, opts);
  return result(kickstart, problems);
}

/** Validates kickstart text (`source` names it and anchors relative %include paths). */
export async function validateKickstartText(text: string, source: string, fetcher?: Fetcher, opts: ParseOptions = {}): Promise<ValidationResult> {
  const { kickstart, problems } = await parseKickstart(text, source, fetcher, opts);
  return result(kickstart, problems);
}
