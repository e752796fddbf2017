// Boots a Debian kernel with a busybox report initramfs (test/fixtures/prepare.d/
// 10-debian-kernels.sh) through runMachine and splits the serial stream into what the
// report /init printed.
import { PassThrough } from 'node:stream';
import { bootFixtures } from '../boot/fixtures.js';
import { runMachine } from '../../../src/vm/machine/run-machine.js';
import type { MachineResult } from '../../../src/vm/machine/machine-config.js';

export const MiB = 1 << 20;
export const BOOT_TIMEOUT_MS = 20 * 60_000;

export interface BootReport {
  result: MachineResult;
  console: string;
  /** Host time (s) when the guest's `date -u +%s` line arrived. */
  hostSecondsAtDate?: number;
  guestSeconds?: number;
  cpus: number;
  memTotalKiB?: number;
}

export async function bootReport(opts: { kernel: 'KERNEL_CLOUD_AMD64' | 'KERNEL_686' | 'KERNEL_AMD64'; initrd: 'INITRAMFS_REPORT_AMD64' | 'INITRAMFS_REPORT_I386'; vcpus?: number; memoryMiB?: number }): Promise<BootReport> {
  const fx = bootFixtures();
  const out = new PassThrough();
  let text = '';
  let hostSecondsAtDate: number | undefined;
  out.on('data', (c: Buffer) => {
    const from = Math.max(0, text.length - 64);
    text += c.toString('latin1');
    // Only the newly arrived end is searched: the console grows to tens of KiB.
    if (hostSecondsAtDate === undefined && /== date\r?\n\d+\r?\n/.test(text.slice(from))) hostSecondsAtDate = Date.now() / 1000;
  });
  const result = await runMachine(
    {
      memoryBytes: (opts.memoryMiB ?? 256) * MiB,
      vcpus: opts.vcpus ?? 1,
      kernel: fx[opts.kernel],
      initrd: fx[opts.initrd],
      cmdline: 'console=ttyS0 panic=-1',
      timeoutMs: BOOT_TIMEOUT_MS - 30_000,
    },
    { stdout: out },
  );
  const clean = text.replace(/\r/g, '');
  const section = (name: string) => {
    const m = new RegExp(`== ${name}\\n([\\s\\S]*?)(?:\\n== |\\nTSVIRT-BOOT-DONE)`).exec(clean);
    return m ? m[1] : '';
  };
  const guest = /^(\d{9,})$/m.exec(section('date'));
  const mem = /^Mem:\s+(\d+)/m.exec(section('free'));
  return {
    result,
    console: clean,
    hostSecondsAtDate,
    guestSeconds: guest ? Number(guest[1]) : undefined,
    cpus: (section('cpuinfo').match(/^processor\s*:/gm) ?? []).length,
    memTotalKiB: mem ? Number(mem[1]) : undefined,
  };
}

/** A failure message that shows the end of the console. */
export function explain(r: BootReport): string {
  return `result ${r.result.kind}${r.result.message ? ` (${r.result.message})` : ''}; console tail:\n${r.console.split('\n').slice(-25).join('\n')}${r.result.registers ? `\n${r.result.registers}` : ''}`;
}
