// Builders for the x86 system structures a test environment writes into guest memory:
// segment descriptors (SDM Vol. 3A §3.4.5), 64-bit IDT gates (§6.14.1), the 64-bit TSS
// (§8.7) and 4-level page tables (§4.5). They also produce the "attrs" value of the
// RegisterDump contract (descriptor byte 5 | (byte 6 >> 4) << 8) so that a test can load
// the segment caches with setRegisters exactly as a GDT load would.
// Leaves out: LDTs, call gates, 32-bit paging (the guest programs build those in asm).

import type { GuestMemory } from '../../../../src/vm/memory.js';
import type { SegmentDump } from '../../../../src/vm/vcpu.js';

// Access byte (descriptor byte 5) bits, SDM Vol. 3A §3.4.5.
export const SEG_P = 0x80;
export const SEG_S = 0x10;
export const SEG_TYPE_CODE_XR_A = 0xb; // execute/read, accessed
export const SEG_TYPE_DATA_RW_A = 0x3; // read/write, accessed
export const SEG_TYPE_TSS64_BUSY = 0xb;
export const SEG_TYPE_TSS64_AVAIL = 0x9;
// Flags nibble (descriptor byte 6 bits 7:4).
export const SEG_G = 0x8;
export const SEG_DB = 0x4;
export const SEG_L = 0x2;

export interface SegmentSpec {
  base: number;
  limit: number; // the 20-bit limit field as written (pages when G=1)
  access: number; // byte 5
  flags: number; // byte 6 high nibble
}

/** The 8-byte legacy descriptor as a bigint. */
export function segmentDescriptor(s: SegmentSpec): bigint {
  const lo =
    (s.limit & 0xffff) | ((s.base & 0xffff) << 16);
  const hi =
    ((s.base >>> 16) & 0xff) |
    ((s.access & 0xff) << 8) |
    (((s.limit >>> 16) & 0xf) << 16) |
    ((s.flags & 0xf) << 20) |
    (((s.base >>> 24) & 0xff) << 24);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** The segment cache a descriptor load produces (RegisterDump form). */
export function segmentCache(selector: number, s: SegmentSpec): SegmentDump {
  const limit = s.flags & SEG_G ? ((s.limit << 12) | 0xfff) >>> 0 : s.limit;
  return { selector, base: BigInt(s.base), limit, attrs: s.access | (s.flags << 8) };
}

export const CODE64_DPL0: SegmentSpec = { base: 0, limit: 0xfffff, access: SEG_P | SEG_S | SEG_TYPE_CODE_XR_A, flags: SEG_G | SEG_L };
export const DATA_DPL0: SegmentSpec = { base: 0, limit: 0xfffff, access: SEG_P | SEG_S | SEG_TYPE_DATA_RW_A, flags: SEG_G | SEG_DB };

/** Writes a 64-bit TSS descriptor (16 bytes, SDM Vol. 3A §8.2.3) at gpa. */
export function writeTss64Descriptor(mem: GuestMemory, gpa: number, base: number, limit: number, busy: boolean): void {
  const access = SEG_P | (busy ? SEG_TYPE_TSS64_BUSY : SEG_TYPE_TSS64_AVAIL);
  mem.write64(gpa, segmentDescriptor({ base, limit, access, flags: 0 }));
  mem.write64(gpa + 8, BigInt(Math.floor(base / 2 ** 32)));
}

/** Writes a 64-bit interrupt (type 0xE) or trap (0xF) gate, SDM Vol. 3A §6.14.1. */
export function writeIdtGate64(
  mem: GuestMemory,
  idtGpa: number,
  vector: number,
  handler: number,
  opts: { selector?: number; ist?: number; dpl?: number; trap?: boolean } = {},
): void {
  const sel = opts.selector ?? 0x08;
  const type = opts.trap ? 0xf : 0xe;
  const access = 0x80 | ((opts.dpl ?? 0) << 5) | type;
  const lo = (handler & 0xffff) | (sel << 16);
  const hi = ((opts.ist ?? 0) & 7) | (access << 8) | (handler & 0xffff0000);
  const gpa = idtGpa + vector * 16;
  mem.write32(gpa, lo >>> 0);
  mem.write32(gpa + 4, hi >>> 0);
  mem.write32(gpa + 8, Math.floor(handler / 2 ** 32) >>> 0);
  mem.write32(gpa + 12, 0);
}

// Page-table entry bits, SDM Vol. 3A §4.5 Table 4-19.
export const PTE_P = 1n;
export const PTE_RW = 2n;
export const PTE_US = 4n;
export const PTE_PS = 0x80n;
export const PTE_G = 0x100n;
export const PTE_NX = 1n << 63n;
const ADDR_MASK = 0x000f_ffff_ffff_f000n;

/**
 * 4-level page tables in guest memory, tables taken from a bump allocator over
 * [poolGpa, poolEnd). Intermediate entries are P|RW|US so leaf flags decide.
 */
export class PageTables {
  readonly pml4Gpa: number;
  private next: number;

  constructor(private readonly mem: GuestMemory, poolGpa: number, private readonly poolEnd: number) {
    this.next = poolGpa;
    this.pml4Gpa = this.allocTable();
  }

  private allocTable(): number {
    const gpa = this.next;
    if (gpa + 0x1000 > this.poolEnd) throw new Error('page-table pool exhausted');
    this.next += 0x1000;
    this.mem.slice(gpa, 0x1000).fill(0);
    return gpa;
  }

  private child(tableGpa: number, index: number): number {
    const entryGpa = tableGpa + index * 8;
    const e = this.mem.read64(entryGpa);
    if (e & PTE_P) {
      if (e & PTE_PS) throw new Error('mapping would split a large page');
      return Number(e & ADDR_MASK);
    }
    const t = this.allocTable();
    this.mem.write64(entryGpa, BigInt(t) | PTE_P | PTE_RW | PTE_US);
    return t;
  }

  /** Maps [va, va+sizeBytes) to [pa, ...) with 4 KiB pages and the given leaf flags. */
  map4k(va: number, pa: number, sizeBytes: number, flags: bigint = PTE_P | PTE_RW): void {
    for (let off = 0; off < sizeBytes; off += 0x1000) {
      const v = BigInt(va + off);
      const pdpt = this.child(this.pml4Gpa, Number((v >> 39n) & 511n));
      const pd = this.child(pdpt, Number((v >> 30n) & 511n));
      const pt = this.child(pd, Number((v >> 21n) & 511n));
      this.mem.write64(pt + Number((v >> 12n) & 511n) * 8, BigInt(pa + off) | flags);
    }
  }

  /** Maps [va, va+sizeBytes) with 2 MiB pages (both 2 MiB aligned). */
  map2m(va: number, pa: number, sizeBytes: number, flags: bigint = PTE_P | PTE_RW): void {
    for (let off = 0; off < sizeBytes; off += 0x20_0000) {
      const v = BigInt(va + off);
      const pdpt = this.child(this.pml4Gpa, Number((v >> 39n) & 511n));
      const pd = this.child(pdpt, Number((v >> 30n) & 511n));
      this.mem.write64(pd + Number((v >> 21n) & 511n) * 8, BigInt(pa + off) | flags | PTE_PS);
    }
  }
}
