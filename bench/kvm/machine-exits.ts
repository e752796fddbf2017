// PIO-exit round trips per second through the whole PC machine on KVM, one vCPU in the
// device thread (in-thread KVM_RUN loop) against two vCPUs in threads of their own
// (every exit handed to the device thread through the SharedArrayBuffer hand-off, the AP
// idle waiting for SIPI), with the C KVM_RUN loop of pio-exit-loop.c as the anchor, all in
// the same run. The machine guest is a 64-bit bzImage looping on OUT to port 0x80 (the
// machine's POST-code port) and powering off; the C anchor runs its own 16-bit loop on a
// bare VM, so the ratio to it includes the machine's device dispatch.
// Also prints BENCH-RESULT lines (bench/lib/result.mjs) for bench/run-all.sh.
// Run: npm run build && npx vite-node bench/kvm/machine-exits.ts [EXITS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcMachine } from '../../src/vm/machine/pc-machine.js';
import { assemble } from '../../test/vm/accel/support/assemble.js';
import { bzImageOf } from '../../test/vm/machine/guest-programs.js';
import { benchResult } from '../lib/result.mjs';

const exits = Number(process.argv[2] ?? 100_000);

function guestImage(): Uint8Array {
  const code = assemble(
    `.code64
  mov $${exits}, %ecx
1:out %al, $0x80
  dec %ecx
  jnz 1b
  mov $0x604, %dx
  mov $0x3401, %ax
  out %ax, %dx
2:hlt
  jmp 2b
`,
    0x100200,
  );
  const img = bzImageOf([...new Uint8Array(0x200), ...code]);
  const v = new DataView(img.buffer);
  v.setUint16(0x206, 0x020c, true);
  v.setUint16(0x236, 0x0001, true); // XLF_KERNEL_64
  return img;
}

async function runMachine(vcpus: number, image: Uint8Array): Promise<number> {
  const m = new PcMachine({ memoryBytes: 64 << 20, vcpus, cmdline: '', accelerator: 'kvm' });
  try {
    m.loadKernel(image, undefined, 'console=ttyS0');
    const t0 = process.hrtime.bigint();
    const r = await m.run({ timeoutMs: 600_000 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.kind !== 'poweroff') throw new Error(`guest ended with ${r.kind}: ${r.message ?? ''}`);
    return (exits + 1) / s;
  } finally {
    await m.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-'));
try {
  const program = assemble(`.code16\n  mov $${exits}, %ecx\n  mov $0x80, %dx\n1: out %al, %dx\n  dec %ecx\n  jnz 1b\n  mov $0x501, %dx\n  out %al, %dx\n  hlt\n`, 0);
  const bin = join(dir, 'prog.bin');
  writeFileSync(bin, program);
  const exe = join(dir, 'pio-exit-loop');
  execFileSync('gcc', ['-O2', '-o', exe, fileURLToPath(new URL('pio-exit-loop.c', import.meta.url))]);
  const runC = (): number => Number(execFileSync(exe, [bin], { encoding: 'utf8' }).trim().split(' ')[1]);
  const image = guestImage();
  const c: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  for (let i = 0; i < 3; i++) {
    c.push(runC());
    one.push(await runMachine(1, image));
    two.push(await runMachine(2, image));
  }
  const [bc, b1, b2] = [Math.max(...c), Math.max(...one), Math.max(...two)];
  console.log(
    `PIO exits/s  C bare loop: ${bc.toFixed(0)}  machine, 1 vCPU in-thread: ${b1.toFixed(0)} (${(b1 / bc).toFixed(3)} of C)  ` +
      `machine, 2 vCPUs in threads: ${b2.toFixed(0)} (${(b2 / bc).toFixed(3)} of C, ${(b2 / b1).toFixed(3)} of in-thread)  (${exits} exits per run, best of 3)`,
  );
  benchResult('kvm-machine', 'PIO exits, PC machine, 1 vCPU in-thread', b1, 'C KVM_RUN loop', bc, 'exits/s', 'higher');
  benchResult('kvm-machine', 'PIO exits, PC machine, 2 vCPUs in threads', b2, 'C KVM_RUN loop', bc, 'exits/s', 'higher');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
