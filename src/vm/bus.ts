// Port I/O and MMIO dispatch (ARCHITECTURE.md "VM core contracts", STYLE.md §2).
// A device knows offsets within its own range; only the machine knows addresses.
// Unclaimed ports read as all ones and drop writes, as on real PC hardware.

export type AccessSize = 1 | 2 | 4;

export interface PioDevice {
  pioRead(offset: number, size: AccessSize): number;
  pioWrite(offset: number, size: AccessSize, value: number): void;
}

export interface MmioDevice {
  mmioRead(offset: number, size: AccessSize): number;
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

interface Range<D> {
  base: number;
  len: number;
  dev: D;
  name: string;
}

const ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

export class IoBus {
  private readonly pio: Range<PioDevice>[] = [];
  private readonly mmio: Range<MmioDevice>[] = [];
  // Port space is 64 KiB: a direct table makes every IN/OUT one array load.
  private readonly pioTable: (Range<PioDevice> | undefined)[] = new Array(0x10000);
  /** Called for accesses nobody claims (debug logging, counting). */
  onUnclaimed?: (kind: 'pio' | 'mmio', addr: number, size: number, write: boolean) => void;

  registerPio(base: number, len: number, dev: PioDevice, name = dev.constructor.name): void {
    if (base < 0 || len <= 0 || base + len > 0x10000) throw new RangeError(`bad port range ${base}+${len}`);
    const range = { base, len, dev, name };
    for (let p = base; p < base + len; p++) {
      const other = this.pioTable[p];
      if (other) throw new Error(`port 0x${p.toString(16)} of ${name} is already claimed by ${other.name}`);
    }
    for (let p = base; p < base + len; p++) this.pioTable[p] = range;
    this.pio.push(range);
  }

  registerMmio(base: number, len: number, dev: MmioDevice, name = dev.constructor.name): void {
    if (base < 0 || len <= 0) throw new RangeError(`bad MMIO range ${base}+${len}`);
    for (const r of this.mmio) {
      if (base < r.base + r.len && r.base < base + len) {
        throw new Error(`MMIO 0x${base.toString(16)}+0x${len.toString(16)} of ${name} overlaps ${r.name}`);
      }
    }
    this.mmio.push({ base, len, dev, name });
    this.mmio.sort((a, b) => a.base - b.base);
  }

  /** Moves an MMIO range (PCI BAR reprogramming). Returns false if it would overlap. */
  moveMmio(dev: MmioDevice, oldBase: number, newBase: number): boolean {
    const r = this.mmio.find((m) => m.dev === dev && m.base === oldBase);
    if (!r) return false;
    if (this.mmio.some((m) => m !== r && newBase < m.base + m.len && m.base < newBase + r.len)) return false;
    r.base = newBase;
    this.mmio.sort((a, b) => a.base - b.base);
    return true;
  }

  unregisterMmio(dev: MmioDevice, base: number): void {
    const i = this.mmio.findIndex((m) => m.dev === dev && m.base === base);
    if (i >= 0) this.mmio.splice(i, 1);
  }

  pioRead(port: number, size: AccessSize): number {
    const r = this.pioTable[port & 0xffff];
    if (!r) {
      this.onUnclaimed?.('pio', port, size, false);
      return ONES[size];
    }
    return r.dev.pioRead(port - r.base, size);
  }

  pioWrite(port: number, size: AccessSize, value: number): void {
    const r = this.pioTable[port & 0xffff];
    if (!r) {
      this.onUnclaimed?.('pio', port, size, true);
      return;
    }
    r.dev.pioWrite(port - r.base, size, value);
  }

  private findMmio(addr: number): Range<MmioDevice> | undefined {
    // Few ranges (tens): a linear scan over a sorted list is fastest in practice.
    for (const r of this.mmio) {
      if (addr < r.base) return undefined;
      if (addr < r.base + r.len) return r;
    }
    return undefined;
  }

  /** True when some device claims gpa (the CPU uses it to tell MMIO from a bus error). */
  claimsMmio(addr: number): boolean {
    return this.findMmio(addr) !== undefined;
  }

  mmioRead(addr: number, size: AccessSize | 8): number {
    if (size === 8) {
      // 64-bit MMIO is split into two 32-bit accesses, low half first, as the devices
      // here only define 32-bit registers; callers combine the halves.
      throw new RangeError('8-byte MMIO reads must be split by the caller (mmioRead64)');
    }
    const r = this.findMmio(addr);
    if (!r) {
      this.onUnclaimed?.('mmio', addr, size, false);
      return ONES[size];
    }
    return r.dev.mmioRead(addr - r.base, size);
  }

  mmioWrite(addr: number, size: AccessSize, value: number): void {
    const r = this.findMmio(addr);
    if (!r) {
      this.onUnclaimed?.('mmio', addr, size, true);
      return;
    }
    r.dev.mmioWrite(addr - r.base, size, value);
  }

  mmioRead64(addr: number): bigint {
    const lo = this.mmioRead(addr, 4) >>> 0;
    const hi = this.mmioRead(addr + 4, 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  mmioWrite64(addr: number, value: bigint): void {
    this.mmioWrite(addr, 4, Number(value & 0xffff_ffffn));
    this.mmioWrite(addr + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
  }
}
