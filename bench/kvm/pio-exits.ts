// PIO-exit round trips per second: tsvirt's TypeScript KVM_RUN loop against the same
// loop in C (pio-exit-loop.c), on the same guest program, in the same run.
// Also prints a BENCH-RESULT line (bench/lib/result.mjs) for bench/run-all.sh.
// Run: npm run build && npx vite-node bench/kvm/pio-exits.ts [EXITS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoBus } from '../../src/vm/bus.js';
import { KvmVm } from '../../src/vm/accel/kvm/kvm-vm.js';
import { assemble } from '../../test/vm/accel/support/assemble.js';
import { prepare } from '../../test/vm/accel/support/guest-programs.js';
import { benchResult } from '../lib/result.mjs';

const exits = Number(process.argv[2] ?? 200_000);
const program = assemble(
  `.code16
  mov $${exits}, %ecx
  mov $0x80, %dx
1: out %al, %dx
  dec %ecx
  jnz 1b
  mov $0x501, %dx
  out %al, %dx
  hlt
`,
  0,
);

const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-'));
try {
  const bin = join(dir, 'prog.bin');
  writeFileSync(bin, program);
  const exe = join(dir, 'pio-exit-loop');
  execFileSync('gcc', ['-O2', '-o', exe, fileURLToPath(new URL('pio-exit-loop.c', import.meta.url))]);

  const runC = (): number => Number(execFileSync(exe, [bin], { encoding: 'utf8' }).trim().split(' ')[1]);
  const runTs = (): number => {
    const vm = KvmVm.create({ memoryBytes: 1 << 20, irqchip: false });
    try {
      let done = false;
      const bus = new IoBus();
      bus.registerPio(0x80, 1, { pioRead: () => 0, pioWrite: () => undefined }, 'port80');
      bus.registerPio(0x501, 1, { pioRead: () => 0, pioWrite: () => ((done = true), vcpu.kick()) }, 'done');
      const vcpu = vm.createVcpu(0, bus);
      vcpu.setRegisters(prepare(vm.memory, 16, program));
      const t0 = process.hrtime.bigint();
      while (!done) {
        const exit = vcpu.run(0);
        if (exit.kind !== 'budget') throw new Error(`unexpected exit ${exit.kind}`);
      }
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      return (exits + 1) / s;
    } finally {
      vm.close();
    }
  };

  // Alternate the two, three rounds each, and keep the best of each (least disturbed).
  const c: number[] = [];
  const ts: number[] = [];
  for (let i = 0; i < 3; i++) {
    c.push(runC());
    ts.push(runTs());
  }
  const bestC = Math.max(...c);
  const bestTs = Math.max(...ts);
  console.log(`PIO exits/s  C: ${bestC.toFixed(0)}  tsvirt (TypeScript): ${bestTs.toFixed(0)}  ratio tsvirt/C: ${(bestTs / bestC).toFixed(3)}  (${exits} exits per run, best of 3)`);
  benchResult('kvm-pio', 'PIO exit round trips, bare VM (best of 3)', bestTs, 'C KVM_RUN loop', bestC, 'exits/s', 'higher');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
