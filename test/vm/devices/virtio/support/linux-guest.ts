// A Debian kernel (from test/fixtures/prepare.d's cache) booted under QEMU TCG with a busybox
// initramfs and one vhost-user device served by a VhostUserDevice: the harness the
// *-linux tests share. The guest's console goes to a file (the backend loop does not read
// pipes); the result carries how the run ended and what the guest printed.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VirtioDevice } from '../../../../../src/vm/devices/virtio/virtio-device.js';
import type { VhostUserDevice } from './vhost-user-device.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures/cache');
export const FIXTURES_MANIFEST = path.join(FIXTURES, 'manifest.env');

function manifest(): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(FIXTURES_MANIFEST, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** The cloud kernel and an initramfs of busybox, `modules` (paths under kernel/, in load order) and `init`. */
export function buildGuest(dir: string, modules: readonly string[], init: string): { kernel: string; initrd: string } {
  const kernel = manifest().KERNEL_CLOUD_AMD64;
  // The kernel's package tree: boot/vmlinuz-* and lib/modules/<version>/kernel.
  const kernelRoot = path.dirname(path.dirname(kernel));
  const version = fs.readdirSync(path.join(kernelRoot, 'lib/modules'))[0];
  const modDir = path.join(kernelRoot, 'lib/modules', version, 'kernel');
  const busyboxDir = fs.readdirSync(path.join(FIXTURES, 'root')).find((d) => /busybox-static.*amd64$/.test(d));
  if (!busyboxDir) throw new Error('busybox-static (amd64) missing from the fixtures cache: run test/fixtures/prepare.sh');
  const root = path.join(dir, 'root');
  for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'mnt', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, 'root', busyboxDir, 'bin/busybox'), path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const mod of modules) fs.copyFileSync(path.join(modDir, `${mod}.ko`), path.join(root, 'lib/modules', `${path.basename(mod)}.ko`));
  fs.writeFileSync(path.join(root, 'init'), init, { mode: 0o755 });
  const initrd = path.join(dir, 'initrd.cpio');
  execFileSync('sh', ['-c', `cd "${root}" && find . | cpio -o -H newc --quiet > "${initrd}"`]);
  return { kernel, initrd };
}

/** Shell lines that load `modules` (basenames) and report failures as `<tag>-INSMOD-FAILED`. */
export function insmodLines(modules: readonly string[], tag: string): string {
  return modules.map((m) => `insmod /lib/modules/${path.basename(m)}.ko || echo "${tag}-INSMOD-FAILED ${path.basename(m)}"`).join('\n');
}

export interface GuestRun {
  how: 'hangup' | 'broken' | 'deadline';
  exit: number | string | null;
  console: string;
  qemuErr: string;
  /** The value after `tag ` on the first console line starting with it. */
  line(tag: string): string | undefined;
}

/** Boots the guest with `deviceArgs` (the vhost-user device) and serves `backend` until the guest powers off. */
export async function runGuest<D extends VirtioDevice>(opts: {
  dir: string;
  kernel: string;
  initrd: string;
  backend: VhostUserDevice<D>;
  deviceArgs: string[];
  timeoutMs: number;
}): Promise<GuestRun> {
  const serialLog = path.join(opts.dir, 'serial.log');
  const errLog = path.join(opts.dir, 'qemu.err');
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-M', 'q35', '-accel', 'tcg', '-m', '256', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem',
      '-kernel', opts.kernel, '-initrd', opts.initrd, '-append', 'console=ttyS0 quiet panic=-1',
      '-serial', `file:${serialLog}`,
      '-chardev', `socket,id=vu,path=${opts.backend.socketPath}`, ...opts.deviceArgs,
    ],
    { stdio: ['ignore', 'ignore', fs.openSync(errLog, 'w')] },
  );
  const exited = new Promise<number | string | null>((resolve) => qemu.on('exit', (code, signal) => resolve(code ?? signal)));
  let how: GuestRun['how'] = 'deadline';
  try {
    how = await opts.backend.run(Date.now() + opts.timeoutMs);
  } finally {
    // On a hang-up QEMU is already on its way out; otherwise it must not outlive the test.
    if (how !== 'hangup') qemu.kill('SIGKILL');
  }
  const exit = await exited;
  const console = fs.existsSync(serialLog) ? fs.readFileSync(serialLog, 'utf8') : '';
  return {
    how,
    exit,
    console,
    qemuErr: fs.readFileSync(errLog, 'utf8'),
    line: (tag) => console.split('\n').find((l) => l.startsWith(`${tag} `))?.slice(tag.length + 1).trim(),
  };
}
