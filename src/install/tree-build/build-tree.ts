// `tsvirt tree build`: an offline install tree that --location understands (the tsvirt
// tree format of src/install/location/tsvirt-tree-format.ts): the kernel, the installer
// initramfs, optionally a root file system tarball as the default liveimg, and a
// .treeinfo with sha256 checksums of each. Written into a temporary directory beside the
// output and renamed into place, so a failed build leaves nothing behind.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';
import { renderTsvirtTreeInfo, TSVIRT_TREE_INITRD, TSVIRT_TREE_KERNEL } from '../location/tsvirt-tree-format.js';
import { buildInstallerInitramfs } from './installer-initramfs.js';
import { bzImageRelease } from './kernel-version.js';

export interface BuildTreeInput {
  kernel: string;
  /** lib/modules (holding RELEASE/) or lib/modules/RELEASE itself. */
  modules: string;
  busybox: string;
  /**
   * Root file systems searched, in order, for mke2fs and the libraries it loads (ext3 and
   * ext4 in the installer): the host's / or Debian packages unpacked with dpkg-deb -x.
   * Empty: the installer makes ext2, swap and vfat only.
   */
  toolRoots?: readonly string[];
  /** A root file system tarball (.tar, .tar.gz, .tar.xz) the tree offers as its liveimg. */
  rootfs?: string;
  out: string;
  force?: boolean;
}

export interface BuiltTree {
  dir: string;
  kernelRelease: string;
  modules: string[];
  liveimg?: string;
  treeinfo: string;
  /** File system types the tree's installer can make. */
  filesystems: string[];
  /** Where the installer's mke2fs came from. */
  mke2fsSource?: string;
}

const ROOTFS_NAMES: Array<[RegExp, string]> = [
  [/\.(tar\.gz|tgz)$/, 'images/rootfs.tar.gz'],
  [/\.(tar\.xz|txz)$/, 'images/rootfs.tar.xz'],
  [/\.tar$/, 'images/rootfs.tar'],
];

function sha256(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

function moduleDirFor(modules: string, release: string): string {
  if (existsSync(join(modules, 'modules.builtin'))) {
    if (basename(resolve(modules)) !== release) {
      throw new TsvirtError(`--modules ${modules} is for kernel ${basename(resolve(modules))}, but the kernel is ${release}`);
    }
    return modules;
  }
  const dir = join(modules, release);
  if (!existsSync(join(dir, 'modules.builtin'))) {
    const have = existsSync(modules) ? readdirSync(modules).join(', ') : 'nothing';
    throw new TsvirtError(`--modules ${modules} has no modules for kernel ${release} (found: ${have || 'nothing'})`);
  }
  return dir;
}

export function buildTree(input: BuildTreeInput): BuiltTree {
  let kernelBytes: Uint8Array;
  try {
    kernelBytes = readFileSync(input.kernel);
  } catch {
    throw new TsvirtError(`cannot read the kernel ${input.kernel}`);
  }
  const release = bzImageRelease(kernelBytes, input.kernel);
  const moduleDir = moduleDirFor(input.modules, release);
  const liveimg = input.rootfs ? ROOTFS_NAMES.find(([re]) => re.test(input.rootfs!))?.[1] : undefined;
  if (input.rootfs && !liveimg) throw new TsvirtError(`--rootfs ${input.rootfs} is not a .tar, .tar.gz or .tar.xz`);
  if (input.rootfs && !existsSync(input.rootfs)) throw new TsvirtError(`--rootfs ${input.rootfs} does not exist`);
  const out = resolve(input.out);
  if (existsSync(out) && !input.force) throw new TsvirtError(`${out} already exists`, 'choose another --out or pass --force to replace it');

  const initramfs = buildInstallerInitramfs({ busybox: input.busybox, moduleDir, toolRoots: input.toolRoots });
  mkdirSync(dirname(out), { recursive: true });
  const staging = `${out}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    mkdirSync(join(staging, dirname(TSVIRT_TREE_KERNEL)), { recursive: true });
    copyFileSync(input.kernel, join(staging, TSVIRT_TREE_KERNEL));
    writeFileSync(join(staging, TSVIRT_TREE_INITRD), initramfs.cpioGz);
    const checksums: Record<string, string> = {
      [TSVIRT_TREE_KERNEL]: sha256(join(staging, TSVIRT_TREE_KERNEL)),
      [TSVIRT_TREE_INITRD]: sha256(join(staging, TSVIRT_TREE_INITRD)),
    };
    if (input.rootfs && liveimg) {
      copyFileSync(input.rootfs, join(staging, liveimg));
      checksums[liveimg] = sha256(join(staging, liveimg));
    }
    const treeinfo = renderTsvirtTreeInfo({ version: release, arch: 'x86_64', name: `tsvirt ${release}`, liveimg, checksums, installerFilesystems: initramfs.filesystems });
    writeFileSync(join(staging, '.treeinfo'), treeinfo);
    rmSync(out, { recursive: true, force: true });
    renameSync(staging, out);
    return {
      dir: out, kernelRelease: release, modules: initramfs.modules.ordered.map((m) => m.name), liveimg, treeinfo,
      filesystems: initramfs.filesystems, mke2fsSource: initramfs.mke2fsSource,
    };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
