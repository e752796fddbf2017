// The reference VM for install tests: a GuestRunner on qemu-system-x86_64 -accel tcg
// (Debian qemu-system-x86) with the same kernel, initrd, command line and disks, virtio
// disks in the same PCI order tsvirt's machine uses. It lets the install flow and the
// guest installer be tested apart from tsvirt's own VM core, and is the reference when
// the two diverge.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestRunner } from '../../../src/install/guest-machine.js';
import type { MachineResult } from '../../../src/vm/machine/index.js';

export const runOnQemu: GuestRunner = (spec, io) =>
  new Promise<MachineResult>((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-qemu-'));
    const file = (name: string, v: string | Uint8Array): string => {
      if (typeof v === 'string') return v;
      writeFileSync(join(dir, name), v);
      return join(dir, name);
    };
    const args = ['-accel', 'tcg', '-m', String(spec.memoryBytes / 1024 / 1024), '-smp', String(spec.vcpus), '-display', 'none', '-no-reboot', '-serial', 'stdio', '-monitor', 'none', '-nodefaults'];
    args.push('-kernel', file('kernel', spec.kernel), '-append', /console=/.test(spec.cmdline) ? spec.cmdline : `${spec.cmdline} console=ttyS0`);
    if (spec.initrd) args.push('-initrd', file('initrd', spec.initrd));
    spec.disks.forEach((d, i) => {
      args.push('-drive', `file=${d.path},if=none,id=d${i},format=${d.format ?? 'raw'}${d.readOnly ? ',readonly=on' : ''}`);
      args.push('-device', `virtio-blk-pci,drive=d${i},addr=${(4 + i).toString(16)}${d.serial ? `,serial=${d.serial}` : ''}`);
    });
    spec.nics.forEach((n, i) => args.push('-netdev', `user,id=n${i}`, '-device', `virtio-net-pci,netdev=n${i},mac=${n.mac},addr=${(0x10 + i).toString(16)}`));
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let console = '';
    let stderr = '';
    qemu.stdout.on('data', (d: Buffer) => {
      console = (console + d.toString('latin1')).slice(-16384);
      io.stdout?.write(d);
    });
    qemu.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const onInput = (d: Buffer) => qemu.stdin.write(d);
    io.stdin?.on('data', onInput);
    const stop = () => qemu.kill('SIGTERM');
    io.signal?.addEventListener('abort', stop, { once: true });
    qemu.on('error', reject);
    qemu.on('exit', (code) => {
      io.stdin?.off('data', onInput);
      io.signal?.removeEventListener('abort', stop);
      rmSync(dir, { recursive: true, force: true });
      const lastConsoleLines = console.split(/\r?\n/).slice(-20);
      if (io.signal?.aborted) resolve({ kind: 'stopped', lastConsoleLines });
      else if (code === 0) resolve({ kind: 'poweroff', lastConsoleLines });
      else resolve({ kind: 'crash', lastConsoleLines, message: `qemu exited with ${code}: ${stderr.trim()}` });
    });
  });
