// Guest-physical memory as its consumers see it (STYLE.md §3; ARCHITECTURE.md "VM core
// contracts"). The CPU, the loader and the devices take a GuestMemory; only the machine
// knows whether the bytes live in a SharedArrayBuffer (software CPU) or an mmap'd KVM
// region. `gpa` is always guest-physical.
//
// PC layout (the machine's, documented here because loader, ACPI and CPU all rely on it):
//   [0, lowEnd)            RAM (lowEnd = min(ramSize, PCI_HOLE_START))
//   [PCI_HOLE_START, 4G)   no RAM: ECAM, PCI BARs, IOAPIC, HPET-free, LAPIC
//   [4G, 4G + rest)        the RAM above the hole, when ramSize > PCI_HOLE_START
// The legacy VGA/BIOS window 0xA0000-0xFFFFF is backed by RAM but reported as reserved
// in the e820 map, so the guest never allocates it.

export const GIB = 1024 * 1024 * 1024;
export const PCI_HOLE_START = 0xb000_0000; // ECAM lives at the bottom of the hole
export const FOUR_GIB = 4 * GIB;

export class GuestMemoryError extends Error {
  override readonly name = 'GuestMemoryError';
  constructor(readonly gpa: number, readonly len: number) {
    super(`guest-physical access 0x${gpa.toString(16)}+${len} is outside guest RAM`);
  }
}

export interface RamRegion {
  /** First guest-physical address of the region. */
  readonly gpa: number;
  readonly sizeBytes: number;
  /** The bytes; index 0 is `gpa`. */
  readonly bytes: Uint8Array;
}

export interface GuestMemory {
  /** Total RAM in bytes (not counting the hole). */
  readonly sizeBytes: number;
  /** RAM regions in ascending gpa order (one or two on a PC). */
  readonly regions: readonly RamRegion[];
  read8(gpa: number): number;
  read16(gpa: number): number;
  read32(gpa: number): number;
  read64(gpa: number): bigint;
  write8(gpa: number, value: number): void;
  write16(gpa: number, value: number): void;
  write32(gpa: number, value: number): void;
  write64(gpa: number, value: bigint): void;
  /** True when [gpa, gpa+len) lies entirely inside one RAM region. */
  isRam(gpa: number, len: number): boolean;
  /** A live view (no copy) for DMA-style access; throws GuestMemoryError outside RAM. */
  slice(gpa: number, len: number): Uint8Array;
}

/** Splits a RAM size into the PC's regions around the PCI hole. */
export function pcRamLayout(sizeBytes: number): Array<{ gpa: number; sizeBytes: number }> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new RangeError(`bad RAM size ${sizeBytes}`);
  const low = Math.min(sizeBytes, PCI_HOLE_START);
  const layout = [{ gpa: 0, sizeBytes: low }];
  if (sizeBytes > low) layout.push({ gpa: FOUR_GIB, sizeBytes: sizeBytes - low });
  return layout;
}

/**
 * GuestMemory over host buffers (SharedArrayBuffer for the software CPU so that device
 * threads and the main thread can share it; any ArrayBuffer works, e.g. a KVM mapping
 * exposed by koffi.view). Little-endian like x86.
 */
export class BufferGuestMemory implements GuestMemory {
  readonly regions: readonly RamRegion[];
  readonly sizeBytes: number;
  private readonly views: DataView[];

  constructor(regions: ReadonlyArray<{ gpa: number; bytes: Uint8Array }>) {
    const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
    this.regions = sorted.map((r) => ({ gpa: r.gpa, sizeBytes: r.bytes.length, bytes: r.bytes }));
    this.views = sorted.map((r) => new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
    this.sizeBytes = sorted.reduce((n, r) => n + r.bytes.length, 0);
  }

  /** Allocates PC-layout RAM in SharedArrayBuffers. */
  static allocate(sizeBytes: number): BufferGuestMemory {
    return new BufferGuestMemory(
      pcRamLayout(sizeBytes).map((r) => ({ gpa: r.gpa, bytes: new Uint8Array(new SharedArrayBuffer(r.sizeBytes)) })),
    );
  }

  // Region lookup: the first region starts at 0 and holds almost every access.
  private locate(gpa: number, len: number): number {
    const r = this.regions;
    for (let i = 0; i < r.length; i++) {
      const off = gpa - r[i].gpa;
      if (off >= 0 && off + len <= r[i].sizeBytes) return i;
    }
    throw new GuestMemoryError(gpa, len);
  }

  isRam(gpa: number, len: number): boolean {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0) return false;
    return this.regions.some((r) => gpa >= r.gpa && gpa + len <= r.gpa + r.sizeBytes);
  }

  slice(gpa: number, len: number): Uint8Array {
    if (!this.isRam(gpa, len)) throw new GuestMemoryError(gpa, len);
    const i = this.locate(gpa, len);
    const off = gpa - this.regions[i].gpa;
    return this.regions[i].bytes.subarray(off, off + len);
  }

  read8(gpa: number): number {
    const i = this.locate(gpa, 1);
    return this.views[i].getUint8(gpa - this.regions[i].gpa);
  }
  read16(gpa: number): number {
    const i = this.locate(gpa, 2);
    return this.views[i].getUint16(gpa - this.regions[i].gpa, true);
  }
  read32(gpa: number): number {
    const i = this.locate(gpa, 4);
    return this.views[i].getUint32(gpa - this.regions[i].gpa, true);
  }
  read64(gpa: number): bigint {
    const i = this.locate(gpa, 8);
    return this.views[i].getBigUint64(gpa - this.regions[i].gpa, true);
  }
  write8(gpa: number, value: number): void {
    const i = this.locate(gpa, 1);
    this.views[i].setUint8(gpa - this.regions[i].gpa, value);
  }
  write16(gpa: number, value: number): void {
    const i = this.locate(gpa, 2);
    this.views[i].setUint16(gpa - this.regions[i].gpa, value, true);
  }
  write32(gpa: number, value: number): void {
    const i = this.locate(gpa, 4);
    this.views[i].setUint32(gpa - this.regions[i].gpa, value >>> 0, true);
  }
  write64(gpa: number, value: bigint): void {
    const i = this.locate(gpa, 8);
    this.views[i].setBigUint64(gpa - this.regions[i].gpa, BigInt.asUintN(64, value), true);
  }
}
