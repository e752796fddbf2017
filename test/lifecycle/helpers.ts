// Shared pieces of the lifecycle tests: a private state/domains directory pair, a tiny real
// guest for the VM core, and libvirt XML for it.
//
// The guest (32-bit flat code in a minimal bzImage, see test/vm/machine/guest-programs.ts)
// prints "guest up", then loops: every byte the UART receives is echoed back, and once
// PM1_STS.PWRBTN_STS (ACPI 6.5 §4.8.3.1.1, port 0x600 bit 8) is set it prints
// "power button" and powers off through PM1a_CNT (SLP_TYP=S5 | SLP_EN). So the runner,
// the console fan-out and `shutdown`'s power button are exercised on the real VM core
// without a Linux kernel.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { spawnCli, type CliResult } from '../support/spawn-cli.js';
import { acpiPowerOff, bzImageOf, HLT, print } from '../vm/machine/guest-programs.js';
import type { LifecyclePaths } from '../../src/lifecycle/state-paths.js';

export const ECHO_UNTIL_POWER_BUTTON = [
  ...print('guest up\n'),
  // loop: if (inb(0x3fd) & 1) outb(0x3f8, inb(0x3f8));
  0x66, 0xba, 0xfd, 0x03, // mov dx, 0x3fd (LSR)
  0xec, //                   in al, dx
  0xa8, 0x01, //             test al, 1 (DR)
  0x74, 0x06, //             jz check_pm
  0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8 (RBR/THR)
  0xec, //                   in al, dx
  0xee, //                   out dx, al
  // check_pm: if (!(inw(0x600) & PWRBTN_STS)) goto loop;
  0x66, 0xba, 0x00, 0x06, // mov dx, 0x600 (PM1_STS)
  0x66, 0xed, //             in ax, dx
  0x66, 0xa9, 0x00, 0x01, // test ax, 0x100
  0x74, 0xe5, //             jz loop (-27)
  ...print('power button\n'),
  ...acpiPowerOff(),
  HLT,
];

export interface Sandbox {
  dir: string;
  paths: LifecyclePaths;
  kernel: string;
  env: NodeJS.ProcessEnv;
  file(name: string): string;
  cleanup(): void;
}

export function makeSandbox(prefix: string): Sandbox {
  // Short: the control socket path must fit sun_path (108 bytes).
  const dir = fs.mkdtempSync(join(tmpdir(), prefix));
  const paths = { stateDir: join(dir, 'run'), domainsDir: join(dir, 'domains') };
  const kernel = join(dir, 'echo-guest.bzImage');
  fs.writeFileSync(kernel, bzImageOf(ECHO_UNTIL_POWER_BUTTON));
  return {
    dir,
    paths,
    kernel,
    env: { ...process.env, TSVIRT_STATE_DIR: paths.stateDir, TSVIRT_DOMAINS_DIR: paths.domainsDir },
    file: (name) => join(dir, name),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function qcow2(path: string, size = '16M'): string {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, size]);
  return path;
}

export interface GuestXmlOptions {
  name: string;
  kernel: string;
  disk?: string;
  uuid?: string;
  memoryMiB?: number;
  extraDevices?: string;
  onReboot?: string;
}

export function guestXml(o: GuestXmlOptions): string {
  return `<domain type="qemu">
  <name>${o.name}</name>
  <uuid>${o.uuid ?? randomUUID()}</uuid>
  <memory unit="MiB">${o.memoryMiB ?? 32}</memory>
  <currentMemory unit="MiB">${o.memoryMiB ?? 32}</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch="x86_64" machine="q35">hvm</type>
    <kernel>${o.kernel}</kernel>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>${o.onReboot ? `\n  <on_reboot>${o.onReboot}</on_reboot>` : ''}
  <devices>${o.disk ? `
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="${o.disk}"/>
      <target dev="vda" bus="virtio"/>
    </disk>` : ''}
    <console type="pty"/>${o.extraDevices ?? ''}
  </devices>
</domain>
`;
}

/** Polls `f` until it returns a truthy value (event waits, not timing assertions). */
export async function until<T>(f: () => T | Promise<T>, what: string, ms = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type { CliResult } from '../support/spawn-cli.js';

/** The built `tsvirt` run in a sandbox (its state and definition dirs): `run` any verb, `ok` one that must succeed. */
export function tsvirtCli(box: Sandbox): { run(...args: string[]): Promise<CliResult>; ok(...args: string[]): Promise<string> } {
  const bin = fileURLToPath(new URL('../../bin/tsvirt', import.meta.url));
  const run = (...args: string[]): Promise<CliResult> => spawnCli(bin, args, { cwd: box.dir, env: box.env });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await run(...args);
    expect(r.status, `tsvirt ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  return { run, ok };
}
