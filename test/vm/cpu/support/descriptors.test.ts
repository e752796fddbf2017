// The environment builders checked on their own, before any CPU reads what they wrote:
// descriptors against hand-decoded SDM examples, page tables by walking them the way
// SDM Vol. 3A §4.5.4 describes.

import { describe, expect, it } from 'vitest';
import { BufferGuestMemory } from '../../../../src/vm/memory.js';
import {
  CODE64_DPL0, DATA_DPL0, PageTables, PTE_NX, PTE_P, PTE_PS, PTE_RW, segmentCache, segmentDescriptor, writeIdtGate64,
} from './descriptors.js';

/** A 4-level walk: returns the physical address and the leaf entry, or null if not present. */
function walk(mem: BufferGuestMemory, cr3: number, va: number): { pa: number; leaf: bigint } | null {
  const v = BigInt(va);
  let table = BigInt(cr3);
  for (const [shift, level] of [[39n, 4], [30n, 3], [21n, 2], [12n, 1]] as Array<[bigint, number]>) {
    const e = mem.read64(Number(table + ((v >> shift) & 511n) * 8n));
    if (!(e & PTE_P)) return null;
    const addr = e & 0x000f_ffff_ffff_f000n;
    if (level === 1 || (level === 2 && e & PTE_PS)) {
      const offMask = (1n << shift) - 1n;
      return { pa: Number((addr & ~offMask) | (v & offMask)), leaf: e };
    }
    table = addr;
  }
  return null;
}

describe('test environment builders', () => {
  it('encodes flat 64-bit code and data descriptors as Linux GDTs hold them', () => {
    // Linux's __KERNEL_CS (GDT_ENTRY(0xa09b, 0, 0xfffff)) and __KERNEL_DS (0xc093).
    expect(segmentDescriptor(CODE64_DPL0)).toBe(0x00af_9b00_0000_ffffn);
    expect(segmentDescriptor(DATA_DPL0)).toBe(0x00cf_9300_0000_ffffn);
    expect(segmentCache(0x08, CODE64_DPL0)).toEqual({ selector: 8, base: 0n, limit: 0xffff_ffff, attrs: 0xa9b });
  });

  it('writes 64-bit IDT gates with IST and DPL', () => {
    const mem = BufferGuestMemory.allocate(1 << 20);
    writeIdtGate64(mem, 0x1000, 3, 0x1234_5678, { ist: 2, dpl: 3 });
    expect(mem.read64(0x1000 + 48)).toBe(0x1234_ee02_0008_5678n);
    expect(mem.read64(0x1000 + 56)).toBe(0n);
  });

  it('builds page tables that map 4 KiB and 2 MiB pages with their flags', () => {
    const mem = BufferGuestMemory.allocate(4 << 20);
    const pt = new PageTables(mem, 0x1000, 0x10000);
    pt.map2m(0, 0, 0x20_0000);
    pt.map4k(0x1000_0000, 0x20_0000, 0x2000, PTE_P | PTE_RW | PTE_NX);
    expect(walk(mem, pt.pml4Gpa, 0x1234_5)).toMatchObject({ pa: 0x1234_5 });
    expect(walk(mem, pt.pml4Gpa, 0x1000_1abc)?.pa).toBe(0x20_1abc);
    expect(walk(mem, pt.pml4Gpa, 0x1000_0000)!.leaf & PTE_NX).toBe(PTE_NX);
    expect(walk(mem, pt.pml4Gpa, 0x1000_2000)).toBeNull();
    expect(walk(mem, pt.pml4Gpa, 0x20_0000)).toBeNull();
    expect(() => pt.map4k(0x1000, 0x1000, 0x1000)).toThrow(/large page/);
  });
});
