// Boot configurations found on an installed guest's disk, as pygrub reads them: syslinux/
// extlinux.conf (the syslinux config file syntax: DEFAULT, LABEL, KERNEL/LINUX, INITRD,
// APPEND, with initrd= inside APPEND also honoured) and Boot Loader Specification type #1
// entries (/loader/entries/*.conf: title, version, linux, initrd, options).
// Left out: menus (MENU LABEL is read as a title only), INCLUDE/CONFIG chaining, UEFI
// type #2 entries (unified kernel images), grub.cfg.
import { posix } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';

export interface BootEntry {
  /** The LABEL (extlinux) or file name (BLS) that DEFAULT refers to. */
  label: string;
  /** What a menu shows: MENU LABEL, the BLS title, or the label. */
  title: string;
  /** Paths on the partition holding the config, absolute after resolution. */
  kernel: string;
  initrd: string[];
  append: string;
}

export interface ExtlinuxConfig {
  defaultLabel?: string;
  entries: BootEntry[];
}

/** Parses extlinux.conf; relative paths resolve against the config file's directory. */
export function parseExtlinuxConf(text: string, configPath: string): ExtlinuxConfig {
  const dir = posix.dirname(configPath);
  const abs = (p: string): string => (p.startsWith('/') ? posix.normalize(p) : posix.join(dir, p));
  const cfg: ExtlinuxConfig = { entries: [] };
  let cur: BootEntry | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    const value = m[2].trim();
    switch (key) {
      case 'default':
        cfg.defaultLabel = value;
        break;
      case 'label':
        cur = { label: value, title: value, kernel: '', initrd: [], append: '' };
        cfg.entries.push(cur);
        break;
      case 'kernel':
      case 'linux':
        if (cur) cur.kernel = abs(value);
        break;
      case 'initrd':
        if (cur) cur.initrd = value.split(',').filter(Boolean).map(abs);
        break;
      case 'append': {
        if (!cur) break;
        // syslinux accepts initrd=a,b on the APPEND line; the kernel never sees it.
        const words = value.split(/\s+/).filter(Boolean);
        const initrdWord = words.find((w) => w.startsWith('initrd='));
        if (initrdWord && cur.initrd.length === 0) cur.initrd = initrdWord.slice(7).split(',').filter(Boolean).map(abs);
        cur.append = words.filter((w) => !w.startsWith('initrd=')).join(' ');
        break;
      }
      case 'menu':
        if (cur && /^label\s+/i.test(value)) cur.title = value.replace(/^label\s+/i, '');
        break;
      default:
        break; // TIMEOUT, PROMPT, UI, SAY...: menu behaviour, nothing to boot
    }
  }
  return cfg;
}

export function chooseExtlinuxEntry(cfg: ExtlinuxConfig, configPath: string): BootEntry {
  const usable = cfg.entries.filter((e) => e.kernel !== '');
  const chosen = (cfg.defaultLabel && usable.find((e) => e.label === cfg.defaultLabel)) || usable[0];
  if (!chosen) throw new TsvirtError(`${configPath} has no LABEL with a KERNEL or LINUX line`);
  return chosen;
}

/**
 * Parses one BLS type #1 entry. Its paths are relative to the root of the partition that
 * holds loader/entries ($BOOT): `bootRoot` is that directory on this file system ("/boot"
 * when /boot is not a partition of its own, "/" when it is).
 */
export function parseBlsEntry(text: string, entryPath: string, bootRoot: string, variables: Record<string, string> = {}): BootEntry & { version: string } {
  const name = posix.basename(entryPath, '.conf');
  const entry = { label: name, title: name, version: '', kernel: '', initrd: [] as string[], append: '' };
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2].trim();
    switch (m[1]) {
      case 'title':
        entry.title = value;
        break;
      case 'version':
        entry.version = value;
        break;
      case 'linux':
        entry.kernel = posix.join(bootRoot, posix.normalize(`/${value}`));
        break;
      case 'initrd':
        entry.initrd.push(posix.join(bootRoot, posix.normalize(`/${value}`)));
        break;
      case 'options':
        // Fedora/RHEL entries say "options $kernelopts" with the value in grubenv.
        entry.append = [entry.append, value.replace(/\$(\w+)/g, (_, name: string) => variables[name] ?? '')].filter(Boolean).join(' ').trim();
        break;
      default:
        break;
    }
  }
  if (!entry.kernel) throw new TsvirtError(`${entryPath} has no linux line`);
  return entry;
}

/** The BLS sort: newest version first (a natural, digit-aware comparison). */
export function newestBlsEntry<T extends { version: string; title: string }>(entries: T[]): T | undefined {
  const collator = new Intl.Collator('en', { numeric: true });
  return [...entries].sort((a, b) => collator.compare(b.version || b.title, a.version || a.title))[0];
}

/** grubenv: "# GRUB Environment Block" then name=value lines, padded with '#'. */
export function parseGrubenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}
