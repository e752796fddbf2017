// .treeinfo (and the dot-less `treeinfo` some CDNs serve): the INI file at the root of
// Fedora/RHEL/CentOS/Rocky/Alma/SUSE trees and of tsvirt's own trees. Reads both the old
// layout ([general] family/version/arch) and productmd 1.x ([release] name/version,
// [tree] arch), [images-ARCH] kernel/initrd and [checksums] (`path = sha256:HEX`).
// The file comes from the tree's server: a section or a key given twice is an error, as
// in Python's configparser (strict, what productmd and virt-install read it with), not a
// silent merge in which the later one wins; names longer than a path can be are refused.
// Leaves out variants, [stage2] and addons.
import { parse } from 'ini';
import { TsvirtError } from '../../lib/errors.js';
import { type Checksum, parseChecksum } from '../fetch/checksum.js';
import type { TreeFamily } from './tree.js';

export interface TreeInfo {
  readonly family: string;
  readonly version?: string;
  readonly arch?: string;
  /** [images-ARCH] sections by ARCH, keys as written (kernel, initrd, ...). */
  readonly images: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** [checksums], keyed by tree-relative path. */
  readonly checksums: ReadonlyMap<string, Checksum>;
}

type Section = Record<string, unknown>;

function text(v: unknown): string | undefined {
  if (v === undefined || v === null || typeof v === 'object') return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

/** Linux's PATH_MAX: no file name in a tree is longer. */
const MAX_NAME_CHARS = 4096;

/**
 * configparser's strict rules (DuplicateSectionError, DuplicateOptionError; option names
 * compare case-insensitively, section names exactly), which the ini package does not keep.
 */
function checkDuplicates(content: string, where: string): void {
  const sections = new Map<string, number>();
  let keys = new Map<string, number>();
  let section = '';
  content.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[(.*)\]$/.exec(line);
    if (header) {
      section = header[1];
      const first = sections.get(section);
      if (first !== undefined) throw new TsvirtError(`${where}: section [${section}] appears twice (lines ${first} and ${i + 1})`, 'is this a well-formed install tree?');
      sections.set(section, i + 1);
      keys = new Map();
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) return;
    const key = line.slice(0, eq).trim().toLowerCase();
    const first = keys.get(key);
    if (first !== undefined) throw new TsvirtError(`${where}: ${key} is given twice in [${section}] (lines ${first} and ${i + 1})`, 'is this a well-formed install tree?');
    keys.set(key, i + 1);
  });
}

/** Parses .treeinfo text; `where` names the file in errors. */
export function parseTreeInfo(content: string, where: string): TreeInfo {
  checkDuplicates(content, where);
  let doc: Record<string, unknown>;
  try {
    doc = parse(content) as Record<string, unknown>;
  } catch (err) {
    throw new TsvirtError(`${where}: cannot parse: ${(err as Error).message}`);
  }
  const section = (name: string): Section => {
    const s = doc[name];
    return s && typeof s === 'object' ? (s as Section) : {};
  };
  const general = section('general');
  const release = section('release');
  const tree = section('tree');
  const family = text(general.family) ?? text(release.name);
  if (!family) throw new TsvirtError(`${where}: no family in [general] (or name in [release])`, 'is this an install tree?');
  const images = new Map<string, Record<string, string>>();
  for (const [name, value] of Object.entries(doc)) {
    const m = /^images-(.+)$/.exec(name);
    if (!m || !value || typeof value !== 'object') continue;
    const entries: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Section)) {
      const s = text(v);
      if (s !== undefined && s.length > MAX_NAME_CHARS) throw new TsvirtError(`${where}: [${name}] ${k} is ${s.length} characters long, more than a path can be (${MAX_NAME_CHARS})`);
      if (s !== undefined) entries[k] = s;
    }
    images.set(m[1], entries);
  }
  const checksums = new Map<string, Checksum>();
  for (const [path, value] of Object.entries(section('checksums'))) {
    const s = text(value);
    if (s === undefined) continue;
    try {
      checksums.set(path.replace(/^\.?\//, ''), parseChecksum(s));
    } catch (err) {
      throw new TsvirtError(`${where}: [checksums] ${path}: ${(err as Error).message}`);
    }
  }
  return {
    family,
    version: text(general.version) ?? text(release.version),
    arch: text(general.arch) ?? text(tree.arch),
    images,
    checksums,
  };
}

/** Maps a treeinfo family string to a family, with the patterns virt-install's urldetect uses. */
export function classifyTreeInfoFamily(family: string): TreeFamily {
  if (/^tsvirt$/i.test(family)) return 'tsvirt';
  if (/Fedora/.test(family)) return 'fedora';
  if (/Red Hat Enterprise Linux|RHEL/.test(family)) return 'rhel';
  if (/CentOS|Scientific/.test(family)) return 'centos';
  if (/Rocky/.test(family)) return 'rocky';
  if (/AlmaLinux/.test(family)) return 'alma';
  if (/SUSE|openSUSE/i.test(family)) return 'suse';
  return 'treeinfo';
}
