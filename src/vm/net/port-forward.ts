// Inbound port forwards for `--network user`: the suboption grammar and its expansion into
// (host address, host port) → guest port pairs. The grammar is virt-install's `portForward`
// (the shorthand and the indexed form that mirror libvirt's passt
// `<portForward proto= address=><range start= end= to= exclude=/></portForward>`):
//
//   portForward=[ADDRESS:]HOSTPORT[-HOSTPORTEND][:GUESTPORT][/PROTO]
//   portForward0=...,portForward1=...                      (several rules)
//   portForwardN.proto=tcp   portForwardN.address=ADDRESS
//   portForwardN.rangeM.start=P  .end=Q  .to=G  .exclude=yes|no
//
// e.g. `--network user,portForward=2222:22` forwards host 127.0.0.1:2222 to guest port 22;
// `portForward=8000-8009:80` forwards 8000..8009 to guest 80..89 (libvirt's `to` names the
// guest port for `start`). Without GUESTPORT the guest port equals the host port. ADDRESS
// defaults to 127.0.0.1 — unlike passt, which listens on every address: exposing a guest
// to the network is opt-in (`portForward=0.0.0.0:2222:22`). PROTO is tcp (the default) or udp.
// Left out: IPv6 addresses and `dev=` (interface binding).

import { TsvirtError } from '../../lib/errors.js';
import { parseIpv4Address } from './ipv4.js';

export type PortForwardProto = 'tcp' | 'udp';

export interface PortRange {
  readonly start: number;
  readonly end?: number;
  readonly to?: number;
  readonly exclude?: boolean;
}

/** One `<portForward>` element: a protocol, a listen address, ranges. */
export interface PortForwardRule {
  readonly proto: PortForwardProto;
  readonly address?: string;
  readonly ranges: readonly PortRange[];
}

/** One listening host port and the guest port its connections go to. */
export interface PortForward {
  readonly proto: PortForwardProto;
  readonly hostAddress: string;
  readonly hostPort: number;
  readonly guestPort: number;
}

export const DEFAULT_FORWARD_ADDRESS = '127.0.0.1';
/** More listening sockets than this is a typo, not a plan. */
export const MAX_FORWARDED_PORTS = 1024;

const SHORTHAND_HINT = 'use portForward=[ADDRESS:]HOSTPORT[-HOSTPORTEND][:GUESTPORT][/tcp], e.g. portForward=2222:22';
const KEY_RE = /^portForward(\d*)(?:\.(.+))?$/;

/** True for the --network keys this file parses (`portForward`, `portForward3.range0.to`, ...). */
export function isPortForwardKey(key: string): boolean {
  return KEY_RE.test(key);
}

/** Parses the shorthand value of `portForward=` / `portForwardN=`. */
export function parsePortForwardShorthand(value: string): PortForwardRule {
  const fail = (what: string): never => {
    throw new TsvirtError(`--network portForward=${value}: ${what}`, SHORTHAND_HINT);
  };
  let rest = value.trim();
  let proto: PortForwardProto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = parseProto(rest.slice(slash + 1), value);
    rest = rest.slice(0, slash);
  }
  let address: string | undefined;
  const withAddr = /^(\d{1,3}(?:\.\d{1,3}){3}):(.*)$/.exec(rest);
  if (withAddr) {
    address = checkAddress(withAddr[1]!, value);
    rest = withAddr[2]!;
  } else if (rest.startsWith('[') || (rest.match(/:/g)?.length ?? 0) > 1) {
    fail('IPv6 addresses are not supported by the user-mode network yet');
  }
  const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(rest);
  if (!m) return fail('not a port forward');
  const range: PortRange = {
    start: parsePort(m[1]!, value),
    ...(m[2] === undefined ? {} : { end: parsePort(m[2], value) }),
    ...(m[3] === undefined ? {} : { to: parsePort(m[3], value) }),
  };
  const rule: PortForwardRule = { proto, ...(address === undefined ? {} : { address }), ranges: [range] };
  checkRule(rule, value);
  return rule;
}

/**
 * Parses every portForward key of one --network option (pairs in command-line order;
 * other keys are the caller's) into rules, one per index.
 */
export function parsePortForwardOptions(pairs: ReadonlyArray<readonly [string, string]>): PortForwardRule[] {
  interface Draft { proto?: PortForwardProto; address?: string; shorthand?: PortForwardRule; ranges: Map<number, Record<string, string>> }
  const drafts = new Map<string, Draft>();
  for (const [key, value] of pairs) {
    const m = KEY_RE.exec(key);
    if (!m) continue;
    const index = m[1]!;
    const draft: Draft = drafts.get(index) ?? { ranges: new Map() };
    drafts.set(index, draft);
    const sub = m[2];
    const text = `${key}=${value}`;
    if (sub === undefined) {
      draft.shorthand = parsePortForwardShorthand(value);
    } else if (sub === 'proto') {
      draft.proto = parseProto(value, text);
    } else if (sub === 'address') {
      draft.address = checkAddress(value, text);
    } else if (sub === 'dev') {
      throw new TsvirtError(`--network ${text}: binding a port forward to an interface is not supported yet`, 'use portForwardN.address= instead');
    } else {
      const r = /^range(\d*)\.(start|end|to|exclude)$/.exec(sub);
      if (!r) throw new TsvirtError(`--network ${text}: unknown port forward key '${key}'`, 'known keys: portForwardN.proto, .address, .rangeM.start, .rangeM.end, .rangeM.to, .rangeM.exclude');
      const ri = Number(r[1] || '0');
      const fields = draft.ranges.get(ri) ?? {};
      fields[r[2]!] = value;
      draft.ranges.set(ri, fields);
    }
  }
  const rules: PortForwardRule[] = [];
  for (const [index, d] of [...drafts].sort(([a], [b]) => Number(a || '0') - Number(b || '0'))) {
    const label = `portForward${index}`;
    if (d.shorthand) {
      if (d.ranges.size > 0 || d.proto !== undefined || d.address !== undefined) {
        throw new TsvirtError(`--network ${label}: give either ${label}=VALUE or ${label}.* keys, not both`, SHORTHAND_HINT);
      }
      rules.push(d.shorthand);
      continue;
    }
    if (d.ranges.size === 0) throw new TsvirtError(`--network ${label}: no port range`, `add ${label}.range0.start=PORT`);
    const ranges = [...d.ranges].sort(([a], [b]) => a - b).map(([ri, f]) => {
      const text = `${label}.range${ri}`;
      if (f.start === undefined) throw new TsvirtError(`--network ${text}: start is required`, `add ${text}.start=PORT`);
      const exclude = f.exclude === undefined ? undefined : parseYesNo(f.exclude, `${text}.exclude=${f.exclude}`);
      return {
        start: parsePort(f.start, `${text}.start=${f.start}`),
        ...(f.end === undefined ? {} : { end: parsePort(f.end, `${text}.end=${f.end}`) }),
        ...(f.to === undefined ? {} : { to: parsePort(f.to, `${text}.to=${f.to}`) }),
        ...(exclude === undefined ? {} : { exclude }),
      } satisfies PortRange;
    });
    const rule: PortForwardRule = { proto: d.proto ?? 'tcp', ...(d.address === undefined ? {} : { address: d.address }), ranges };
    checkRule(rule, label);
    rules.push(rule);
  }
  return rules;
}

/** Every forwarded host port with its guest port; refuses duplicates and huge sets. */
export function expandPortForwards(rules: readonly PortForwardRule[]): PortForward[] {
  const out: PortForward[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    const hostAddress = rule.address ?? DEFAULT_FORWARD_ADDRESS;
    const excluded = new Set<number>();
    for (const r of rule.ranges) if (r.exclude) for (let p = r.start; p <= (r.end ?? r.start); p++) excluded.add(p);
    for (const r of rule.ranges) {
      if (r.exclude) continue;
      for (let p = r.start; p <= (r.end ?? r.start); p++) {
        if (excluded.has(p)) continue;
        const id = `${rule.proto}|${hostAddress}|${p}`;
        if (seen.has(id)) throw new TsvirtError(`--network portForward: ${rule.proto} ${hostAddress}:${p} is forwarded twice`, 'give each host port once');
        seen.add(id);
        out.push({ proto: rule.proto, hostAddress, hostPort: p, guestPort: r.to === undefined ? p : r.to + (p - r.start) });
        if (out.length > MAX_FORWARDED_PORTS) {
          throw new TsvirtError(`--network portForward: more than ${MAX_FORWARDED_PORTS} forwarded ports`, 'forward fewer ports');
        }
      }
    }
  }
  return out;
}

function checkRule(rule: PortForwardRule, text: string): void {
  for (const r of rule.ranges) {
    const end = r.end ?? r.start;
    if (end < r.start) throw new TsvirtError(`--network ${text}: range end ${end} is below its start ${r.start}`, SHORTHAND_HINT);
    if (r.exclude && r.to !== undefined) throw new TsvirtError(`--network ${text}: an excluded range has no 'to'`, 'drop to= from the excluded range');
    if (r.to !== undefined && r.to + (end - r.start) > 65535) {
      throw new TsvirtError(`--network ${text}: guest ports would run past 65535`, 'lower to= or shorten the range');
    }
  }
}

function parsePort(text: string, context: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new TsvirtError(`--network ${context}: '${text}' is not a port (1-65535)`, SHORTHAND_HINT);
  return n;
}

function parseProto(text: string, context: string): PortForwardProto {
  const p = text.toLowerCase();
  if (p !== 'tcp' && p !== 'udp') throw new TsvirtError(`--network ${context}: protocol '${text}' is neither tcp nor udp`, SHORTHAND_HINT);
  return p;
}

function parseYesNo(text: string, context: string): boolean {
  if (/^(yes|on|true|1)$/i.test(text)) return true;
  if (/^(no|off|false|0)$/i.test(text)) return false;
  throw new TsvirtError(`--network ${context}: expected yes or no`, 'use exclude=yes or exclude=no');
}

function checkAddress(text: string, context: string): string {
  if (parseIpv4Address(text) === null) {
    throw new TsvirtError(`--network ${context}: '${text}' is not an IPv4 address`, 'IPv6 listen addresses are not supported by the user-mode network yet');
  }
  return text;
}
