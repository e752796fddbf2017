// Instructions per second of the software CPU on three guest loops (issue 5 "Show"):
// (a) a tight integer loop, (b) a memcpy-like loop, (c) SYSCALL/SYSRET round trips.
// The guest code is assembled with GNU as at run time and entered in 64-bit mode the way
// a boot loader leaves a kernel (test/vm/cpu/harness.ts). Run: bash bench/cpu/run.sh

import { assemble, enterLongMode, makeHarness, type Harness } from '../../test/vm/cpu/harness.js';

const LOOPS: Record<string, string> = {
  'integer loop': `
      mov ecx, 100000000
      xor eax, eax
      xor edx, edx
    1: add eax, ecx
      xor edx, eax
      dec ecx
      jnz 1b
      hlt`,
  'memcpy-like loop': `
      mov r8d, 2000
    2: mov rsi, 0x200000
      mov rdi, 0x300000
      mov ecx, 8192
    1: mov rax, [rsi]
      mov [rdi], rax
      add rsi, 8
      add rdi, 8
      dec ecx
      jnz 1b
      dec r8d
      jnz 2b
      hlt`,
  'syscall loop': `
      mov ecx, 0xc0000080
      rdmsr
      or eax, 1
      wrmsr
      mov ecx, 0xc0000081
      xor eax, eax
      mov edx, 0x00200008
      wrmsr
      mov ecx, 0xc0000082
      lea rax, [rip + entry]
      mov rdx, rax
      shr rdx, 32
      wrmsr
      mov ecx, 0xc0000084
      mov eax, 0x200
      xor edx, edx
      wrmsr
      lea rax, [rip + user]
      push 0x2b
      push 0x70000
      push 0x202
      push 0x33
      push rax
      iretq
    user:
      mov r12d, 2000000
    1: mov eax, 39
      syscall
      dec r12d
      jnz 1b
      mov eax, 60
      syscall
    entry:
      cmp eax, 60
      je 2f
      add r13, rax
      sysretq
    2: hlt`,
};

function run(name: string, source: string): { instructions: number; seconds: number } {
  const h: Harness = makeHarness(64 << 20);
  enterLongMode(h, assemble(source));
  if (name === 'syscall loop') userSegments(h);
  const t0 = process.hrtime.bigint();
  const before = h.cpu.instructionsRetired;
  for (;;) {
    const exit = h.cpu.run(10_000_000);
    if (exit.kind === 'hlt') break;
    if (exit.kind !== 'budget') throw new Error(`${name}: ${JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { instructions: h.cpu.instructionsRetired - before, seconds };
}

/** GDT for SYSRET: STAR[63:48] = 0x20 -> user CS 0x33 (64-bit), SS 0x2b. */
function userSegments(h: Harness): void {
  const gdt = [0n, 0x00af9b000000ffffn, 0x00cf93000000ffffn, 0x00cffb000000ffffn, 0x00cff3000000ffffn, 0x00cff3000000ffffn, 0x00affb000000ffffn];
  gdt.forEach((v, k) => h.mem.write64(0x500 + 8 * k, v));
}

const results: string[] = [];
const only = process.argv[2];
for (const [name, source] of Object.entries(LOOPS)) {
  if (only && !name.startsWith(only)) continue;
  const r = run(name, source);
  results.push(`${name.padEnd(18)} ${(r.instructions / 1e6).toFixed(1).padStart(8)} M instructions  ${r.seconds.toFixed(2).padStart(6)} s  ${(r.instructions / r.seconds / 1e6).toFixed(1).padStart(6)} M instr/s`);
  console.log(results[results.length - 1]);
}
