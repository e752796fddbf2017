// The installer initramfs of a tsvirt tree: busybox (with /bin/sh), the kernel modules
// the installer and the installed system need (virtio, ext4 and their dependencies) with
// a load-order list, the installer /init from templates/installer, and optionally a
// directory of e2fsprogs (mke2fs for ext3/ext4) copied in as it is. The same image boots
// the installed system (its /init switches to root=UUID when no plan was injected).
import { readFileSync, readdirSync, statSync, lstatSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TsvirtError } from '../../lib/errors.js';
import { writeNewcArchive, type CpioEntry } from '../cpio-newc.js';
import { loadModuleFile, resolveModules, type ModuleClosure } from './kernel-modules.js';

/** What the installer loads: the disk and NIC drivers and the root file system. */
export const INSTALLER_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'ext4'];
/** Loaded when the kernel has them: entropy, and crc32c for ext4 metadata checksums. */
export const OPTIONAL_MODULES = ['virtio_rng', 'crc32c_generic'];

const INIT_TEMPLATE = new URL('../../../templates/installer/init', import.meta.url);
const SKELETON_DIRS = ['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'newroot', 'mnt', 'mnt/sysimage', 'etc', 'lib', 'lib/modules', 'tsvirt'];

export interface InstallerInitramfsInput {
  busybox: string;
  /** lib/modules/RELEASE of the tree's kernel. */
  moduleDir: string;
  /** A directory whose contents are copied to the initramfs root (e.g. usr/sbin/mke2fs + libs). */
  e2fsprogsDir?: string;
}

export interface InstallerInitramfs {
  cpioGz: Uint8Array;
  modules: ModuleClosure;
}

function isStaticElf(bytes: Uint8Array): boolean {
  // An ELF with no PT_INTERP program header runs without a dynamic loader.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || dv.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) return false;
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > bytes.length) return false;
    if (dv.getUint32(o, true) === 3) return false; // PT_INTERP
  }
  return true;
}

function copyTree(root: string): CpioEntry[] {
  const out: CpioEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(root, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push({ path: rel, type: 'symlink', target: readlinkSync(p) });
      else if (st.isDirectory()) {
        out.push({ path: rel, type: 'directory', mode: st.mode & 0o7777 });
        walk(p);
      } else if (st.isFile()) out.push({ path: rel, type: 'file', mode: st.mode & 0o7777, data: readFileSync(p) });
    }
  };
  walk(root);
  return out;
}

export function buildInstallerInitramfs(input: InstallerInitramfsInput): InstallerInitramfs {
  let busybox: Uint8Array;
  try {
    busybox = readFileSync(input.busybox);
  } catch {
    throw new TsvirtError(`cannot read busybox at ${input.busybox}`);
  }
  if (!isStaticElf(busybox)) {
    throw new TsvirtError(`${input.busybox} is not a static 64-bit busybox`, "use Debian's busybox-static (bin/busybox)");
  }
  const modules = resolveModules(input.moduleDir, INSTALLER_MODULES, OPTIONAL_MODULES);
  const entries: CpioEntry[] = SKELETON_DIRS.map((path) => ({ path, type: 'directory' as const }));
  entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: busybox });
  entries.push({ path: 'bin/sh', type: 'symlink', target: 'busybox' });
  entries.push({ path: 'init', type: 'file', mode: 0o755, data: readFileSync(INIT_TEMPLATE) });
  const dirs = new Set<string>();
  for (const m of modules.ordered) {
    const parts = m.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = `lib/modules/${parts.slice(0, i).join('/')}`;
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: 'directory' });
      }
    }
    entries.push({ path: `lib/modules/${m.path.replace(/\.gz$/, '')}`, type: 'file', data: loadModuleFile(join(input.moduleDir, m.path)) });
  }
  entries.push({ path: 'lib/modules/load-order', type: 'file', data: Buffer.from(modules.ordered.map((m) => m.path.replace(/\.gz$/, '')).join('\n') + '\n') });
  if (input.e2fsprogsDir) {
    if (!statSync(input.e2fsprogsDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new TsvirtError(`--e2fsprogs ${input.e2fsprogsDir} is not a directory`);
    }
    const known = new Set(entries.map((e) => e.path));
    for (const e of copyTree(input.e2fsprogsDir)) if (!(e.type === 'directory' && known.has(e.path))) entries.push(e);
  }
  return { cpioGz: gzipSync(writeNewcArchive(entries), { level: 6 }), modules };
}
