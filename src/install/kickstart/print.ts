// `tsvirt ks print`: the normalized kickstart, as pykickstart's handler prints it —
// includes expanded, comments dropped, commands in a fixed order (the command table's),
// singletons reduced to the one that takes effect, options in table order and quoted
// the way Python's shlex.quote quotes, then %packages and the scripts in file order.
import { quote } from 'shlex';
import { COMMAND_ORDER, lookupCommand } from './command-table.js';
import type { Kickstart, KsCommand, KsOptionValue, KsScript } from './model.js';

function formatOption(name: string, v: KsOptionValue): string[] {
  if (v === true) return [`--${name}`];
  if (v === false) return [`--${name}=off`];
  if (typeof v === 'number') return [`--${name}=${v}`];
  if (typeof v === 'string') return [`--${name}=${quote(v)}`];
  return [`--${name}=${quote(v.join(','))}`];
}

function formatCommand(c: KsCommand): string {
  const spec = lookupCommand(c.name)!;
  const parts: string[] = [c.name, ...c.args.map((a) => quote(a))];
  const known = Object.keys(spec.options ?? {});
  const names = [...known.filter((n) => c.options[n] !== undefined), ...Object.keys(c.options).filter((n) => !known.includes(n))];
  for (const n of names) {
    const v = c.options[n];
    if (spec.options?.[n]?.kind === 'bool') parts.push(`--${n}=${v ? 'on' : 'off'}`);
    else if (spec.options?.[n]?.kind === 'append') for (const x of v as readonly string[]) parts.push(`--${n}=${quote(x)}`);
    else parts.push(...formatOption(n, v));
  }
  return parts.join(' ');
}

function effectiveCommands(ks: Kickstart): KsCommand[] {
  // For singletons and exclusive groups only the last occurrence takes effect.
  const keep: KsCommand[] = [];
  const lastByKey = new Map<string, KsCommand>();
  for (const c of ks.commands) {
    const spec = lookupCommand(c.name)!;
    const key = spec.group && spec.group !== 'method' ? `group:${spec.group}` : spec.singleton ? `cmd:${c.name}` : undefined;
    if (key) lastByKey.set(key, c);
  }
  const winners = new Set(lastByKey.values());
  for (const c of ks.commands) {
    const spec = lookupCommand(c.name)!;
    const single = (spec.group && spec.group !== 'method') || spec.singleton;
    if (!single || winners.has(c)) keep.push(c);
  }
  return keep;
}

function formatScript(s: KsScript): string {
  const head = [`%${s.kind}`];
  if (s.interpreter !== '/bin/sh') head.push(`--interpreter=${quote(s.interpreter)}`);
  if (s.nochroot) head.push('--nochroot');
  if (s.erroronfail) head.push('--erroronfail');
  if (s.log) head.push(`--log=${quote(s.log)}`);
  return `${head.join(' ')}\n${s.body}%end`;
}

export function printKickstart(ks: Kickstart): string {
  const out: string[] = [`# Normalized by tsvirt ks print from ${ks.source}`];
  const commands = effectiveCommands(ks);
  for (const name of COMMAND_ORDER) {
    for (const c of commands) if (c.name === name) out.push(formatCommand(c));
  }
  if (ks.packages) {
    const p = ks.packages;
    const head = ['%packages'];
    for (const [n, v] of Object.entries(p.options)) head.push(...formatOption(n, v));
    out.push('', head.join(' '));
    for (const g of p.groups) out.push(`@${g}`);
    for (const x of p.packages) out.push(x);
    for (const g of p.excludedGroups) out.push(`-@${g}`);
    for (const x of p.excludedPackages) out.push(`-${x}`);
    out.push('%end');
  }
  for (const s of ks.scripts) out.push('', formatScript(s));
  for (const a of ks.addons) out.push('', [`%addon ${a.name}`, ...a.args.map((x) => quote(x))].join(' '), `${a.body}%end`);
  return `${out.join('\n')}\n`;
}
