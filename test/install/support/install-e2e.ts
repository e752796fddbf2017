// What the end-to-end install tests share, whichever VM runs the guest (QEMU TCG as the
// reference in run-install.test.ts, tsvirt's own VM core in run-install-vmcore.test.ts):
// a tree built from Debian's generic kernel and busybox plus a busybox rootfs, served with
// the kickstarts by a node HTTP server on 127.0.0.1; the install job; a scripted user at
// the serial console; and the host-side checks of the installed disk.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { expect } from 'vitest';
import { createFetcher, silentProgress, type Fetcher } from '../../../src/install/fetch/index.js';
import type { InstallJob, InstallOutcome } from '../../../src/install/run-install.js';
import { buildTree } from '../../../src/install/tree-build/build-tree.js';
import { serveDirectory, type StaticServer } from '../../../src/demo/static-server.js';
import { writeBusyboxRootfs } from '../../../src/demo/busybox-rootfs.js';
import { busyboxAmd64, fixture } from '../../support/fixtures.js';

const GiB = 1024 ** 3;

export interface ServedTree {
  work: string;
  www: string;
  server: StaticServer;
  rootfsSha: string;
  close(): Promise<void>;
}

/** Builds the tree and the rootfs in a temporary directory and serves them on 127.0.0.1. */
export async function serveInstallTree(): Promise<ServedTree> {
  const work = mkdtempSync(join(tmpdir(), 'tsvirt-e2e-'));
  const www = join(work, 'www');
  mkdirSync(www);
  // mke2fs (and its libraries) from the host's e2fsprogs, so the kickstart's ext4 is ext4.
  buildTree({ kernel: fixture('KERNEL_AMD64'), modules: fixture('MODULES_AMD64'), busybox: busyboxAmd64(), out: join(www, 'tree'), toolRoots: ['/'] });
  await writeBusyboxRootfs(busyboxAmd64(), join(www, 'rootfs.tar.gz'));
  const rootfsSha = createHash('sha256').update(readFileSync(join(www, 'rootfs.tar.gz'))).digest('hex');
  const server = await serveDirectory(www);
  return {
    work, www, server, rootfsSha,
    async close() {
      await server.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export interface KickstartOverrides {
  liveimg?: string;
  post?: string;
  parts?: string;
  /** `bootloader --append` of the installed system. */
  append?: string;
}

export function kickstart(t: ServedTree, overrides: KickstartOverrides = {}): string {
  return `text
zerombr
clearpart --all --initlabel
${overrides.parts ?? 'part /boot --size 64 --fstype ext4\npart swap --size 32\npart / --grow --fstype ext4'}
rootpw --plaintext tsvirt-root
user --name=alice --password=alice-pw --plaintext
timezone UTC --utc
network --bootproto=dhcp --hostname=e2e
${overrides.liveimg ?? `liveimg --url=${t.server.url}/rootfs.tar.gz --checksum=sha256:${t.rootfsSha}`}
bootloader --append="${overrides.append ?? 'console=ttyS0'}"
%post --erroronfail
${overrides.post ?? 'echo tsvirt-post-marker > /root/marker'}
%end
poweroff
`;
}

export function installJob(t: ServedTree, name: string, ksName: string, over: Partial<InstallJob> = {}): InstallJob {
  return {
    name,
    memoryMiB: 512,
    vcpus: 1,
    disks: [{ path: join(t.work, `${name}.qcow2`), format: 'qcow2', create: true, sizeBytes: GiB, readOnly: false, target: 'vda', bus: 'virtio', device: 'disk' }],
    nics: [],
    rng: false,
    location: { location: `${t.server.url}/tree` },
    extraArgs: `inst.ks=${t.server.url}/${ksName}`,
    initrdInject: [],
    noreboot: false,
    force: false,
    ...over,
  };
}

export function installFetcher(t: ServedTree): Fetcher {
  return createFetcher({ cacheDir: join(t.work, 'cache'), progress: silentProgress });
}

/** Plays the user at the serial console: answers each prompt in turn. */
export function consoleUser(steps: Array<[RegExp, string]>) {
  const stdin = new PassThrough();
  let out = '';
  let step = 0;
  const stdout = new Writable({
    write(chunk: Buffer, _e, cb) {
      out += chunk.toString('latin1');
      if (step < steps.length && steps[step][0].test(out.slice(-200))) {
        stdin.write(steps[step][1]);
        step++;
        out += '\n'; // so the same prompt is not matched twice
      }
      cb();
    },
  });
  return { stdin, stdout, output: () => out };
}

/** Logs in as root, shows the %post marker and the uid, powers off. */
export function rootLogin() {
  return consoleUser([
    [/login: $/, 'root\n'],
    [/Password: $/, 'tsvirt-root\n'],
    [/# (\x1b\[6n)?$/, 'cat /root/marker; id -u; poweroff\n'],
  ]);
}

/** What a successful install and boot show, in the guest and on the host's copy of the disk. */
export function expectInstalledAndBooted(t: ServedTree, name: string, outcome: InstallOutcome, consoleOutput: string, progress: string[]): void {
  expect(consoleOutput).toMatch(/TSVIRT-INSTALL-STATUS: ok/);
  expect(consoleOutput).toMatch(/tsvirt-post-marker\r?\n0\r?\n/);
  // The flow stops the installer's guest as soon as the status line arrives.
  expect(['stopped', 'poweroff']).toContain(outcome.installResult.kind);
  expect(outcome.bootResult?.kind).toBe('poweroff');
  expect(progress.join('\n')).toMatch(/booting the installed system \(partition 1: \/extlinux\/extlinux.conf \(linux\)\)/);
  const disk = join(t.work, `${name}.qcow2`);
  expect(execFileSync('qemu-img', ['check', disk], { encoding: 'utf8' })).toMatch(/No errors were found on the image/);
  // e2fsck -fn on the root partition, from a raw copy.
  const raw = join(t.work, `${name}.raw`);
  execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
  const root = outcome.plan.disks[0].partitions.find((p) => p.mountpoint === '/')!;
  const rootImg = join(t.work, `${name}-root.img`);
  execFileSync('dd', [`if=${raw}`, `of=${rootImg}`, 'bs=1M', `skip=${root.startBytes / 2 ** 20}`, `count=${root.sizeBytes / 2 ** 20}`, 'status=none']);
  execFileSync('e2fsck', ['-fn', rootImg]);
  // The kickstart asked for ext4 on /, and that is what the installer made.
  expect(execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', rootImg], { encoding: 'utf8' }).trim()).toBe('ext4');
  const debugfsCat = (file: string) => execFileSync('debugfs', ['-R', `cat ${file}`, rootImg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  expect(debugfsCat('/root/marker')).toBe('tsvirt-post-marker\n');
  expect(debugfsCat('/etc/hostname')).toBe('e2e\n');
  rmSync(raw, { force: true });
  rmSync(rootImg, { force: true });
}
