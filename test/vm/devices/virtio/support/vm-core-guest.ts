// A Debian generic amd64 kernel with its own virtio modules and busybox, booted on tsvirt's
// VM core through the production path (GuestSpec -> machineConfigFor -> runMachine): the
// harness of the virtio E2E test and of bench/storage's guest bench. The initramfs holds
// busybox, the modules resolveModules picks for virtio-pci/blk/net/rng and ext4 (which
// also mounts ext2) in dependency order (lib/modules/load-order), and the caller's /init.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { writeNewcArchive, type CpioEntry } from '../../../../../src/install/cpio-newc.js';
import { machineConfigFor, type GuestSpec } from '../../../../../src/install/guest-machine.js';
import { loadModuleFile, resolveModules } from '../../../../../src/install/tree-build/kernel-modules.js';
import { runMachine, type MachineResult } from '../../../../../src/vm/machine/index.js';
import { busyboxAmd64, fixture } from '../../../../support/fixtures.js';

/** busybox udhcpc's hook: applies the lease (address, default route) to the interface. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; ip route add default via "$router" dev "$interface";;
esac
`;

export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_rng', 'ext4'];

/** Shell lines that load lib/modules/load-order and report each failure as `<tag>-INSMOD-FAILED`. */
export function loadModulesLines(tag: string): string {
  return `while read -r m; do insmod "/lib/modules/$m" || echo "${tag}-INSMOD-FAILED $m"; done < /lib/modules/load-order`;
}

/** The generic kernel's path and a gzipped newc initramfs (busybox, modules, `init`) written to `dir`. */
export function buildVmCoreGuest(dir: string, init: string, extra: Record<string, string> = {}): { kernel: string; initrd: string } {
  const moduleRoot = fixture('MODULES_AMD64');
  const version = fs.readdirSync(moduleRoot)[0]!;
  const moduleDir = path.join(moduleRoot, version);
  const closure = resolveModules(moduleDir, GUEST_MODULES, ['crc32c_generic']);
  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'tmp', 'mnt', 'lib', 'lib/modules'].map((p) => ({ path: p, type: 'directory' as const }));
  entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: fs.readFileSync(busyboxAmd64()) });
  entries.push({ path: 'bin/sh', type: 'symlink', target: 'busybox' });
  for (const m of closure.ordered) {
    const file = path.basename(m.path).replace(/\.gz$/, '');
    entries.push({ path: `lib/modules/${file}`, type: 'file', data: loadModuleFile(path.join(moduleDir, m.path)) });
  }
  const order = closure.ordered.map((m) => path.basename(m.path).replace(/\.gz$/, ''));
  entries.push({ path: 'lib/modules/load-order', type: 'file', data: Buffer.from(`${order.join('\n')}\n`) });
  for (const [p, text] of Object.entries(extra)) entries.push({ path: p, type: 'file', mode: 0o755, data: Buffer.from(text) });
  entries.push({ path: 'init', type: 'file', mode: 0o755, data: Buffer.from(init) });
  const initrd = path.join(dir, 'initrd.cpio.gz');
  fs.writeFileSync(initrd, gzipSync(writeNewcArchive(entries), { level: 1 }));
  return { kernel: fixture('KERNEL_AMD64'), initrd };
}

export interface VmCoreRun {
  result: MachineResult;
  console: string;
  /** The rest of each console line that starts with `tag ` (in order). */
  lines(tag: string): string[];
  line(tag: string): string | undefined;
  /** The result and the console's last lines, for failure messages. */
  explain(): string;
}

/**
 * Boots `spec` on the VM core. `onLine` sees each complete console line as it arrives
 * (to act on the guest's progress).
 */
export async function runOnVmCoreCapturing(
  spec: GuestSpec,
  opts: { timeoutMs: number; onLine?: (line: string) => void; serialLogPath?: string },
): Promise<VmCoreRun> {
  const out = new PassThrough();
  let text = '';
  let pending = '';
  out.on('data', (c: Buffer) => {
    const s = c.toString('latin1').replace(/\r/g, '');
    text += s;
    pending += s;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      opts.onLine?.(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  let result: MachineResult;
  try {
    result = await runMachine({ ...machineConfigFor(spec), timeoutMs: opts.timeoutMs }, { stdout: out, serialLogPath: opts.serialLogPath });
  } catch (err) {
    // A machine that could not start or died in the VMM: say so with what the guest printed.
    throw new Error(`the VM core failed: ${(err as Error).message}\n--- console tail ---\n${text.split('\n').slice(-40).join('\n')}`, { cause: err });
  }
  const all = text.split('\n');
  const lines = (tag: string) => all.filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1).trim());
  return {
    result,
    console: text,
    lines,
    line: (tag) => lines(tag)[0],
    explain: () =>
      `machine ended: ${result.kind}${result.message ? ` (${result.message})` : ''}\n--- console tail ---\n${all.slice(-40).join('\n')}${result.registers ? `\n${result.registers}` : ''}`,
  };
}
