// The PCI host bridge's configuration access paths for bus 0 (PCI Local Bus 3.0 §3.2.2.3.2
// configuration mechanism #1; PCI Express Base 4.0 §7.2.2 ECAM): CONFIG_ADDRESS at 0xCF8
// (dword accesses only), CONFIG_DATA at 0xCFC-0xCFF (any size, byte-lane offset), and a
// 1 MiB ECAM window for bus 0 (4 KiB per function). Functions are registered by the
// machine at a PciAddress; absent functions and other buses read as all ones (master
// abort). Byte accesses to 0xCF9 go to the reset control register. Leaves out other
// buses, bridges and the AMD extended-register bits of CONFIG_ADDRESS.

import type { AccessSize, MmioDevice, PioDevice } from '../../bus.js';
import type { ResetControl } from '../reset-control.js';
import type { PciAddress, PciFunction } from './pci-function.js';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_PORTS = 8; // 0xCF8-0xCFF
export const ECAM_BUS_BYTES = 1 << 20;
const CONFIG_ENABLE = 0x8000_0000;
const ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

export class PciHost {
  private readonly functions = new Map<number, PciFunction>();
  private configAddress = 0;
  /** 0xCF8-0xCFF. */
  readonly configPorts: PioDevice;
  /** ECAM for bus 0: map ECAM_BUS_BYTES at the MCFG base. */
  readonly ecam: MmioDevice;

  constructor(private readonly resetControl?: ResetControl) {
    this.configPorts = {
      pioRead: (offset, size) => this.portRead(offset, size),
      pioWrite: (offset, size, value) => this.portWrite(offset, size, value),
    };
    this.ecam = {
      mmioRead: (offset, size) => this.ecamAccess(offset, size),
      mmioWrite: (offset, size, value) => void this.ecamAccess(offset, size, value),
    };
  }

  static devfn(addr: PciAddress): number {
    return (addr.device << 3) | addr.function;
  }

  register(addr: PciAddress, fn: PciFunction): void {
    if (!Number.isInteger(addr.device) || addr.device < 0 || addr.device > 31 || !Number.isInteger(addr.function) || addr.function < 0 || addr.function > 7) {
      throw new RangeError(`bad PCI address ${addr.device}.${addr.function}`);
    }
    const key = PciHost.devfn(addr);
    if (this.functions.has(key)) throw new Error(`PCI 00:${addr.device.toString(16).padStart(2, '0')}.${addr.function} is already taken`);
    this.functions.set(key, fn);
  }

  /** Registered addresses, for the DSDT's _PRT and the machine's listing. */
  addresses(): PciAddress[] {
    return [...this.functions.keys()].sort((a, b) => a - b).map((k) => ({ device: k >> 3, function: k & 7 }));
  }

  private portRead(offset: number, size: AccessSize): number {
    if (offset < 4) {
      if (size === 4 && offset === 0) return this.configAddress;
      if (size === 1 && offset === 1 && this.resetControl) return this.resetControl.read();
      return ONES[size];
    }
    if (!(this.configAddress & CONFIG_ENABLE)) return ONES[size];
    return this.access(this.configAddress, (this.configAddress & 0xfc) | (offset & 3), size);
  }

  private portWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < 4) {
      if (size === 4 && offset === 0) this.configAddress = (value & 0x80ff_fffc) >>> 0;
      else if (size === 1 && offset === 1) this.resetControl?.write(value & 0xff);
      return;
    }
    if (!(this.configAddress & CONFIG_ENABLE)) return;
    this.access(this.configAddress, (this.configAddress & 0xfc) | (offset & 3), size, value);
  }

  private ecamAccess(offset: number, size: AccessSize, value?: number): number {
    // ECAM offset: bus 27:20 (always 0 in this window), device 19:15, function 14:12, register 11:0.
    const bdf = (offset >>> 12) & 0xff;
    return this.access(bdf << 8, offset & 0xfff, size, value);
  }

  /** busDevFn in CONFIG_ADDRESS layout (bus 23:16, device 15:11, function 10:8). */
  private access(busDevFn: number, reg: number, size: AccessSize, value?: number): number {
    if ((busDevFn >>> 16) & 0xff) return ONES[size];
    const fn = this.functions.get((busDevFn >>> 8) & 0xff);
    // An access must not cross its dword (PCI 3.0 §3.2.2.3.2); such a guest access is dropped.
    if (!fn || (reg & 3) + size > 4) return ONES[size];
    if (value === undefined) return fn.configRead(reg, size);
    fn.configWrite(reg, size, (value & ONES[size]) >>> 0);
    return 0;
  }
}
