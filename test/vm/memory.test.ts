import { describe, expect, it } from 'vitest';
import { BufferGuestMemory, FOUR_GIB, GuestMemoryError, PCI_HOLE_START, pcRamLayout } from '../../src/vm/memory.js';

describe('GuestMemory', () => {
  it('splits RAM around the PCI hole', () => {
    expect(pcRamLayout(512 << 20)).toEqual([{ gpa: 0, sizeBytes: 512 << 20 }]);
    expect(pcRamLayout(4 * 1024 ** 3)).toEqual([
      { gpa: 0, sizeBytes: PCI_HOLE_START },
      { gpa: FOUR_GIB, sizeBytes: 4 * 1024 ** 3 - PCI_HOLE_START },
    ]);
  });

  it('reads and writes little-endian and refuses accesses outside RAM', () => {
    const mem = BufferGuestMemory.allocate(1 << 20);
    mem.write32(0x1000, 0xdeadbeef);
    expect(mem.read8(0x1000)).toBe(0xef);
    expect(mem.read16(0x1002)).toBe(0xdead);
    mem.write64(0x2000, 0x1122334455667788n);
    expect(mem.read32(0x2004)).toBe(0x11223344);
    expect(() => mem.read32((1 << 20) - 2)).toThrow(GuestMemoryError);
    expect(() => mem.slice(0xff000, 0x2000)).toThrow(GuestMemoryError);
    expect(mem.isRam(-1, 1)).toBe(false);
    expect(mem.slice(0x1000, 4)).toEqual(new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
  });
});
