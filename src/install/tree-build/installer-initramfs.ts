// The installer initramfs of a tsvirt tree: busybox (with /bin/sh), the kernel modules
// the installer and the installed system need (virtio, ext4 and their dependencies) with
// a load-order list, the installer /init from templates/installer, and mke2fs (for ext3
// and ext4) with the libraries it loads, taken from a root file system such as the host's
// (installer-tools.ts). The same image boots the installed system (its /init switches to
// root=UUID when no plan was injected). What the installer can make is recorded, so that
// a kickstart asking for more fails before any disk is touched, not half way.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TsvirtError } from '../../lib/errors.js';
import { writeNewcArchive, type CpioEntry } from '../cpio-newc.js';
import { collectTool } from './installer-tools.js';
import { loadModuleFile, resolveModules, type ModuleClosure } from './kernel-modules.js';

/** What the installer loads: the disk and NIC drivers and the root file system. */
export const INSTALLER_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'ext4'];
/**
 * Loaded when the kernel has them: entropy, crc32c for ext4 metadata checksums, and vfat
 * with the code pages Debian's kernels mount it with (cp437, ascii; utf8 for iocharset=utf8).
 */
export const OPTIONAL_MODULES = ['virtio_rng', 'crc32c_generic', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8'];
/** Where the installer's /init looks for mke2fs (templates/installer/init). */
export const INSTALLER_MKE2FS = 'usr/sbin/mke2fs';

const INIT_TEMPLATE = new URL('../../../templates/installer/init', import.meta.url);
const SKELETON_DIRS = ['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'newroot', 'mnt', 'mnt/sysimage', 'etc', 'lib', 'lib/modules', 'tsvirt'];

export interface InstallerInitramfsInput {
  busybox: string;
  /** lib/modules/RELEASE of the tree's kernel. */
  moduleDir: string;
  /** Root file systems searched for mke2fs and its libraries, in order (e.g. ['/']). */
  toolRoots?: readonly string[];
}

export interface InstallerInitramfs {
  cpioGz: Uint8Array;
  modules: ModuleClosure;
  /** File system types the installer can make (kickstart --fstype names; swap included). */
  filesystems: string[];
  /** Where mke2fs came from on the host, when the installer has it. */
  mke2fsSource?: string;
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

/** Whether a busybox binary has an applet (its applet names are stored NUL-separated). */
function hasApplet(busybox: Uint8Array, applet: string): boolean {
  return Buffer.from(busybox.buffer, busybox.byteOffset, busybox.byteLength).includes(`\0${applet}\0`, 0, 'latin1');
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
  // busybox makes ext2 (mke2fs), swap (mkswap) and FAT (mkdosfs); ext3/ext4 need e2fsprogs.
  const filesystems = ['ext2', 'swap'];
  const hasModule = (name: string): boolean => modules.ordered.some((m) => m.name === name) || modules.builtin.includes(name);
  if (hasApplet(busybox, 'mkdosfs') && hasModule('vfat')) filesystems.push('vfat');
  const mke2fs = collectTool('mke2fs', INSTALLER_MKE2FS, input.toolRoots ?? []);
  if (mke2fs) {
    const known = new Set(entries.map((e) => e.path));
    for (const f of mke2fs.files) {
      const parts = dirname(f.path).split('/');
      for (let i = 1; i <= parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (d !== '.' && !known.has(d)) {
          known.add(d);
          entries.push({ path: d, type: 'directory' });
        }
      }
      if (!known.has(f.path)) {
        known.add(f.path);
        entries.push(f);
      }
    }
    filesystems.push('ext3', 'ext4');
  }
  return { cpioGz: gzipSync(writeNewcArchive(entries), { level: 6 }), modules, filesystems, mke2fsSource: mke2fs?.source };
}
