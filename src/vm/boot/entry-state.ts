// The CPU state the Linux boot protocol asks for at the 32-bit and 64-bit entry points
// (Documentation/arch/x86/boot.rst "32-bit Boot Protocol" and "64-bit Boot Protocol"): a
// GDT with flat __BOOT_CS (0x10) and __BOOT_DS (0x18), protected mode with paging off for
// the 32-bit entry, long mode with identity-mapped page tables for the 64-bit entry
// (SDM Vol. 3A §4.5, 2 MiB pages covering the first 4 GiB), interrupts off. This module
// writes the GDT and page tables into guest memory and returns the register values; the
// machine loads them into a vCPU (STYLE.md §7).

import type { GuestMemory } from '../memory.js';
import type { RegisterDump, SegmentDump } from '../vcpu.js';

export const BOOT_GDT_ADDR = 0x500;
export const BOOT_PML4_ADDR = 0x9000;
export const BOOT_PDPT_ADDR = 0xa000;
export const BOOT_PD_ADDR = 0xb000; // four page directories: 0xB000-0xEFFF
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
export const BOOT_TSS = 0x20;

const CR0_PE = 0x1n;
const CR0_ET = 0x10n;
const CR0_PG = 0x8000_0000n;
const CR4_PAE = 0x20n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;

// Descriptors (SDM Vol. 3A §3.4.5): flat 4 GiB, G=1.
const GDT_CODE64 = 0x00af_9b00_0000_ffffn;
const GDT_CODE32 = 0x00cf_9b00_0000_ffffn;
const GDT_DATA = 0x00cf_9300_0000_ffffn;
const GDT_TSS = 0x0080_8b00_0000_0067n; // 32-bit busy TSS at 0, only so TR is valid

/** attrs as SegmentDump wants them: descriptor byte 5 | (byte 6 high nibble << 8). */
function attrsOf(desc: bigint): number {
  const b5 = Number((desc >> 40n) & 0xffn);
  const b6 = Number((desc >> 48n) & 0xffn);
  return b5 | ((b6 >> 4) << 8);
}

function segment(selector: number, desc: bigint): SegmentDump {
  return { selector, base: 0n, limit: 0xffff_ffff, attrs: attrsOf(desc) };
}

function writeGdt(mem: GuestMemory, code: bigint): { base: bigint; limit: number } {
  const entries = [0n, 0n, code, GDT_DATA, GDT_TSS];
  entries.forEach((e, i) => mem.write64(BOOT_GDT_ADDR + i * 8, e));
  return { base: BigInt(BOOT_GDT_ADDR), limit: entries.length * 8 - 1 };
}

function commonState(gdt: { base: bigint; limit: number }, code: bigint): Partial<RegisterDump> {
  const ds = segment(BOOT_DS, GDT_DATA);
  return {
    cs: segment(BOOT_CS, code),
    ds, es: ds, ss: ds, fs: ds, gs: ds,
    tr: { selector: BOOT_TSS, base: 0n, limit: 0x67, attrs: 0x8b },
    ldtr: { selector: 0, base: 0n, limit: 0xffff, attrs: 0x82 },
    gdt,
    idt: { base: 0n, limit: 0 },
    rflags: 0x2n, // IF=0
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rdi: 0n, rbp: 0n, rsp: 0n,
    cr2: 0n, cr8: 0n,
  };
}

/** 64-bit entry: long mode, identity map of [0, 4 GiB), RSI = zero page. */
export function setupLongModeEntry(mem: GuestMemory, entry: number, zeroPage: number): Partial<RegisterDump> {
  const gdt = writeGdt(mem, GDT_CODE64);
  mem.slice(BOOT_PML4_ADDR, 0x6000).fill(0);
  mem.write64(BOOT_PML4_ADDR, BigInt(BOOT_PDPT_ADDR) | 0x3n); // present, writable
  for (let i = 0; i < 4; i++) {
    const pd = BOOT_PD_ADDR + i * 0x1000;
    mem.write64(BOOT_PDPT_ADDR + i * 8, BigInt(pd) | 0x3n);
    for (let j = 0; j < 512; j++) {
      // 2 MiB page: present, writable, PS.
      mem.write64(pd + j * 8, (BigInt(i) << 30n) + (BigInt(j) << 21n) + 0x83n);
    }
  }
  return {
    ...commonState(gdt, GDT_CODE64),
    rip: BigInt(entry),
    rsi: BigInt(zeroPage),
    cr0: CR0_PE | CR0_ET | CR0_PG,
    cr3: BigInt(BOOT_PML4_ADDR),
    cr4: CR4_PAE,
    efer: EFER_LME | EFER_LMA,
  };
}

/** 32-bit entry: flat protected mode, paging off, ESI = zero page. */
export function setupProtectedModeEntry(mem: GuestMemory, entry: number, zeroPage: number): Partial<RegisterDump> {
  const gdt = writeGdt(mem, GDT_CODE32);
  return {
    ...commonState(gdt, GDT_CODE32),
    rip: BigInt(entry),
    rsi: BigInt(zeroPage),
    cr0: CR0_PE | CR0_ET,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  };
}
