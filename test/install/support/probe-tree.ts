// A small but complete tsvirt install tree for the hostile-source probes: a kernel that
// is a bzImage as far as tsvirt reads one (the setup header and its kernel_version
// string, Linux boot protocol "kernel_version"), a gzip'd newc initrd, a root file
// system tarball as the liveimg, and a .treeinfo with their sha256s; plus kickstarts
// tsvirt's installer accepts. Nothing here boots: the probes stop at the guest runner,
// which is where they look at what tsvirt built. Building it takes milliseconds, so every
// probe can run the whole prepare-and-inject path.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { writeNewcArchive } from '../../../src/install/cpio-newc.js';
import { renderTsvirtTreeInfo, TSVIRT_TREE_INITRD, TSVIRT_TREE_KERNEL } from '../../../src/install/location/tsvirt-tree-format.js';

export const PROBE_KERNEL_RELEASE = '6.1.0-probe';
export const PROBE_LIVEIMG = 'images/rootfs.tar.gz';

export interface ProbeTree {
  readonly kernel: Uint8Array;
  readonly initrd: Uint8Array;
  readonly rootfs: Uint8Array;
  readonly sha256: { kernel: string; initrd: string; rootfs: string };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The fields of a bzImage setup header that tsvirt reads (boot.rst: HdrS at 0x202, kernel_version at 0x20E). */
export function probeKernel(): Uint8Array {
  const img = new Uint8Array(4096);
  const v = new DataView(img.buffer);
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, 0x020f, true);
  v.setUint16(0x20e, 0x300 - 0x200, true); // kernel_version, relative to 0x200
  img.set(Buffer.from(`${PROBE_KERNEL_RELEASE} (probe@tsvirt) #1 SMP\0`, 'latin1'), 0x300);
  return img;
}

async function rootfsTarball(): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'etc/os-release', mode: 0o644 }, 'NAME=probe\n');
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

function write(root: string, rel: string, data: string | Uint8Array): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Writes the tree under `root` (tree/...) and returns its bytes and digests. */
export async function writeProbeTree(root: string): Promise<ProbeTree> {
  const kernel = probeKernel();
  const initrd = gzipSync(writeNewcArchive([{ path: 'init', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho probe installer\n') }]));
  const rootfs = await rootfsTarball();
  const sums = { kernel: sha256(kernel), initrd: sha256(initrd), rootfs: sha256(rootfs) };
  write(root, `tree/${TSVIRT_TREE_KERNEL}`, kernel);
  write(root, `tree/${TSVIRT_TREE_INITRD}`, initrd);
  write(root, `tree/${PROBE_LIVEIMG}`, rootfs);
  write(root, 'tree/.treeinfo', renderTsvirtTreeInfo({
    version: '1', arch: 'x86_64', liveimg: PROBE_LIVEIMG, installerFilesystems: ['ext2', 'swap'],
    checksums: { [TSVIRT_TREE_KERNEL]: `sha256:${sums.kernel}`, [TSVIRT_TREE_INITRD]: `sha256:${sums.initrd}`, [PROBE_LIVEIMG]: `sha256:${sums.rootfs}` },
  }));
  return { kernel, initrd, rootfs, sha256: sums };
}

/** A kickstart tsvirt's installer takes, with `extra` lines before the final action. */
export function probeKickstart(extra: readonly string[] = []): string {
  return [
    'text', 'zerombr', 'clearpart --all --initlabel', 'part / --fstype ext2 --size 32 --grow',
    'rootpw --plaintext probe-root', 'timezone UTC --utc', ...extra, 'poweroff', '',
  ].join('\n');
}

/** A Fedora-style .treeinfo (no checksums, as distro trees often have none) naming `kernel` and `initrd`. */
export function fedoraTreeinfo(o: { kernel?: string; initrd?: string; extra?: string } = {}): string {
  return [
    '[general]', 'family = Fedora', 'version = 41', 'arch = x86_64',
    '[images-x86_64]', `kernel = ${o.kernel ?? TSVIRT_TREE_KERNEL}`, `initrd = ${o.initrd ?? TSVIRT_TREE_INITRD}`,
    o.extra ?? '', '',
  ].join('\n');
}
