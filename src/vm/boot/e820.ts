// The BIOS E820 memory map this machine reports in the zero page (ACPI 6.5 §15 "System
// Address Map Interfaces"; Linux arch/x86/include/uapi/asm/e820.h). RAM around the PCI
// hole, the legacy 0x9FC00-0x100000 window reserved (EBDA, VGA, option ROMs, BIOS, and the
// ACPI tables this machine places at 0xE0000), and the ECAM window reserved so Linux
// trusts MCFG.

import { PCI_HOLE_START } from '../memory.js';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

export const EBDA_START = 0x9fc00;
export const HIGH_MEMORY_START = 0x100000;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

export interface E820Layout {
  regions: ReadonlyArray<{ gpa: number; sizeBytes: number }>;
  /** Extra reserved ranges (ECAM, ...). */
  reserved?: ReadonlyArray<{ addr: number; size: number }>;
}

export function buildE820(layout: E820Layout): E820Entry[] {
  const out: E820Entry[] = [];
  for (const r of layout.regions) {
    if (r.gpa === 0) {
      if (r.sizeBytes <= HIGH_MEMORY_START) throw new RangeError('guest RAM must exceed 1 MiB');
      out.push({ addr: 0, size: EBDA_START, type: E820_RAM });
      out.push({ addr: EBDA_START, size: HIGH_MEMORY_START - EBDA_START, type: E820_RESERVED });
      out.push({ addr: HIGH_MEMORY_START, size: Math.min(r.sizeBytes, PCI_HOLE_START) - HIGH_MEMORY_START, type: E820_RAM });
    } else {
      out.push({ addr: r.gpa, size: r.sizeBytes, type: E820_RAM });
    }
  }
  for (const r of layout.reserved ?? []) out.push({ addr: r.addr, size: r.size, type: E820_RESERVED });
  return out.sort((a, b) => a.addr - b.addr);
}
