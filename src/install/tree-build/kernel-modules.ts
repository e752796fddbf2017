// Which kernel modules an initramfs needs, in load order. depmod's modules.dep is made
// at package install time and Debian's kernel package does not ship it, so this reads
// what depmod reads: each module's ELF `.modinfo` section ("depends=a,b"), starting from
// the modules asked for and skipping those in modules.builtin. Module names follow the
// kernel's rule: the file name without .ko, with '-' read as '_'.
// Left out: compressed modules other than .ko.gz (.ko.xz/.ko.zst are refused clearly),
// softdeps (pre:/post: in modinfo), firmware.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TsvirtError } from '../../lib/errors.js';

export interface KernelModule {
  name: string;
  /** Path relative to the kernel's module directory (lib/modules/VERSION). */
  path: string;
}

export interface ModuleClosure {
  kernelVersion: string;
  /** Modules to load, dependencies before the modules needing them. */
  ordered: KernelModule[];
  /** Asked-for modules the kernel has built in (nothing to load). */
  builtin: string[];
}

const MAX_MODULE_BYTES = 64 * 1024 * 1024;

export function moduleName(file: string): string {
  return file.replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
}

/** The `.modinfo` section of an ELF64 little-endian relocatable object as key -> values. */
export function readModinfo(elf: Uint8Array, what: string): Map<string, string[]> {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const bad = (why: string): never => {
    throw new TsvirtError(`${what} is not a usable kernel module: ${why}`);
  };
  if (elf.length < 64 || dv.getUint32(0) !== 0x7f454c46) bad('no ELF header');
  if (elf[4] !== 2 || elf[5] !== 1) bad('not a 64-bit little-endian ELF (only x86-64 modules are read)');
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shentsize < 64 || shstrndx >= shnum || shoff + shnum * shentsize > elf.length) bad('section headers outside the file');
  const section = (i: number): { name: number; offset: number; size: number } => {
    const o = shoff + i * shentsize;
    return { name: dv.getUint32(o, true), offset: Number(dv.getBigUint64(o + 0x18, true)), size: Number(dv.getBigUint64(o + 0x20, true)) };
  };
  const strtab = section(shstrndx);
  if (strtab.offset + strtab.size > elf.length) bad('section names outside the file');
  const nameAt = (off: number): string => {
    const start = strtab.offset + off;
    let end = start;
    while (end < strtab.offset + strtab.size && elf[end] !== 0) end++;
    return Buffer.from(elf.subarray(start, end)).toString('latin1');
  };
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameAt(s.name) !== '.modinfo') continue;
    if (s.offset + s.size > elf.length) bad('.modinfo outside the file');
    for (const entry of Buffer.from(elf.subarray(s.offset, s.offset + s.size)).toString('utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)]);
    }
    return info;
  }
  return bad('no .modinfo section');
}

function indexModules(dir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.\w+)?$/.test(e.name)) index.set(moduleName(e.name), relative(dir, p));
    }
  };
  walk(join(dir, 'kernel'));
  return index;
}

export function loadModuleFile(path: string): Uint8Array {
  if (statSync(path).size > MAX_MODULE_BYTES) throw new TsvirtError(`${path} is larger than any kernel module should be`);
  const raw = readFileSync(path);
  if (path.endsWith('.ko')) return raw;
  if (path.endsWith('.ko.gz')) return gunzipSync(raw, { maxOutputLength: MAX_MODULE_BYTES });
  throw new TsvirtError(`${path}: compressed kernel modules of this kind are not supported yet`, 'use a kernel whose modules are .ko or .ko.gz');
}

/**
 * Resolves modules and their dependencies under lib/modules/VERSION (`moduleDir`).
 * `optional` names may be missing (e.g. a driver built in on one kernel flavour).
 */
export function resolveModules(moduleDir: string, wanted: readonly string[], optional: readonly string[] = []): ModuleClosure {
  let builtinList: string[] = [];
  try {
    builtinList = readFileSync(join(moduleDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map((l) => moduleName(l.split('/').pop()!));
  } catch {
    throw new TsvirtError(`${moduleDir} is not a kernel module directory (no modules.builtin)`, 'pass --modules lib/modules/VERSION of the kernel package');
  }
  const builtin = new Set(builtinList);
  const index = indexModules(moduleDir);
  const ordered: KernelModule[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const builtinAsked: string[] = [];
  const visit = (raw: string, required: boolean, chain: string[]): void => {
    const name = moduleName(raw);
    if (done.has(name)) return;
    if (builtin.has(name)) {
      if (chain.length === 0) builtinAsked.push(name);
      done.add(name);
      return;
    }
    if (visiting.has(name)) throw new TsvirtError(`kernel module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const rel = index.get(name);
    if (!rel) {
      if (!required) return;
      throw new TsvirtError(`kernel module ${name} is not in ${moduleDir}${chain.length ? ` (needed by ${chain.join(' -> ')})` : ''}`);
    }
    visiting.add(name);
    const info = readModinfo(loadModuleFile(join(moduleDir, rel)), rel);
    for (const dep of (info.get('depends') ?? []).flatMap((d) => d.split(',')).filter(Boolean)) visit(dep, true, [...chain, name]);
    visiting.delete(name);
    done.add(name);
    ordered.push({ name, path: rel });
  };
  for (const w of wanted) visit(w, true, []);
  for (const w of optional) visit(w, false, []);
  return { kernelVersion: moduleDir.split('/').filter(Boolean).pop()!, ordered, builtin: builtinAsked };
}
