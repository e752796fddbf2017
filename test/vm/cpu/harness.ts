// A minimal harness machine for CPU tests: RAM, an IoBus with a recording "serial" port
// at 0x3f8 and a test-result port at 0xf4, GNU as to assemble guest code, and register
// set-ups for real, 32-bit protected and 64-bit long mode (identity-mapped with 2 MiB
// pages), as a boot loader would leave them (KVM_SET_SREGS semantics).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoBus, type PioDevice } from '../../../src/vm/bus.js';
import { ManualClock } from '../../../src/vm/clock.js';
import { Cpu } from '../../../src/vm/cpu/index.js';
import { BufferGuestMemory } from '../../../src/vm/memory.js';
import type { InterruptAcceptor } from '../../../src/vm/irq.js';

/** Assembles `source` (GNU as, Intel or AT&T as written) for `bits` at `origin`; returns the bytes. */
export function assemble(source: string, bits: 16 | 32 | 64 = 64, origin = 0): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-asm-'));
  try {
    const code = `.code${bits}\n.intel_syntax noprefix\n${source}\n`;
    writeFileSync(join(dir, 'a.s'), code);
    execFileSync('as', [bits === 64 ? '--64' : '--32', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('ld', ['-m', bits === 64 ? 'elf_x86_64' : 'elf_i386', '-Ttext', '0x' + origin.toString(16), '-e', '0', '--oformat', 'binary', '-o', join(dir, 'a.bin'), join(dir, 'a.o')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class RecordingPort implements PioDevice {
  readonly writes: number[] = [];
  readValue = 0;
  pioRead(): number { return this.readValue; }
  pioWrite(_offset: number, _size: 1 | 2 | 4, value: number): void { this.writes.push(value); }
  text(): string { return String.fromCharCode(...this.writes); }
}

export interface Harness {
  cpu: Cpu;
  mem: BufferGuestMemory;
  bus: IoBus;
  serial: RecordingPort;
  result: RecordingPort;
  clock: ManualClock;
}

export const CODE_BASE = 0x10_0000;
export const STACK_TOP = 0x8_0000;
const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, GDT = 0x500;

export function makeHarness(memBytes = 64 << 20, interrupts?: InterruptAcceptor): Harness {
  const mem = new BufferGuestMemory([{ gpa: 0, bytes: new Uint8Array(memBytes) }]);
  const bus = new IoBus();
  const serial = new RecordingPort();
  const result = new RecordingPort();
  bus.registerPio(0x3f8, 1, serial, 'serial');
  bus.registerPio(0xf4, 1, result, 'result');
  const clock = new ManualClock();
  const cpu = new Cpu({ mem, bus, clock, interrupts });
  return { cpu, mem, bus, serial, result, clock };
}

function writeGdt(mem: BufferGuestMemory): void {
  // null, 0x08 code64, 0x10 data, 0x18 code32, 0x20 user data(dpl3), 0x28 user code64(dpl3), 0x30 user code32
  const d = [0n, 0x00af9b000000ffffn, 0x00cf93000000ffffn, 0x00cf9b000000ffffn, 0x00cff3000000ffffn, 0x00affb000000ffffn, 0x00cffb000000ffffn];
  d.forEach((v, k) => mem.write64(GDT + 8 * k, v));
}

const flat = (selector: number, attrs: number) => ({ selector, base: 0n, limit: 0xffff_ffff, attrs });

/** Identity-maps the first 1 GiB with 2 MiB pages and enters 64-bit mode at CODE_BASE. */
export function enterLongMode(h: Harness, code: Uint8Array): void {
  const { mem, cpu } = h;
  writeGdt(mem);
  mem.write64(PML4, BigInt(PDPT | 7));
  mem.write64(PDPT, BigInt(PD | 7));
  for (let k = 0; k < 512; k++) mem.write64(PD + 8 * k, BigInt(k * 0x20_0000) | 0x87n);
  mem.slice(CODE_BASE, code.length).set(code);
  cpu.setRegisters({
    cs: flat(0x08, 0xa9b), ds: flat(0x10, 0xc93), es: flat(0x10, 0xc93), ss: flat(0x10, 0xc93),
    fs: flat(0x10, 0xc93), gs: flat(0x10, 0xc93),
    tr: { selector: 0, base: 0n, limit: 0x67, attrs: 0x8b },
    gdt: { base: BigInt(GDT), limit: 7 * 8 - 1 }, idt: { base: 0n, limit: 0 },
    cr0: 0x8000_0011n, cr3: BigInt(PML4), cr4: 0x620n, efer: 0x500n,
    rip: BigInt(CODE_BASE), rsp: BigInt(STACK_TOP), rflags: 2n,
  });
}

/** Flat 32-bit protected mode without paging at CODE_BASE. */
export function enterProtectedMode(h: Harness, code: Uint8Array): void {
  const { mem, cpu } = h;
  writeGdt(mem);
  mem.slice(CODE_BASE, code.length).set(code);
  cpu.setRegisters({
    cs: flat(0x18, 0xc9b), ds: flat(0x10, 0xc93), es: flat(0x10, 0xc93), ss: flat(0x10, 0xc93),
    fs: flat(0x10, 0xc93), gs: flat(0x10, 0xc93),
    gdt: { base: BigInt(GDT), limit: 7 * 8 - 1 }, idt: { base: 0n, limit: 0 },
    cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n,
    rip: BigInt(CODE_BASE), rsp: BigInt(STACK_TOP), rflags: 2n,
  });
}

/** Runs until HLT (or another non-budget exit); fails after maxInstructions. */
export function runToHlt(h: Harness, maxInstructions = 10_000_000) {
  let left = maxInstructions;
  for (;;) {
    const exit = h.cpu.run(Math.min(left, 1_000_000));
    if (exit.kind !== 'budget') return exit;
    left -= 1_000_000;
    if (left <= 0) return exit;
  }
}
