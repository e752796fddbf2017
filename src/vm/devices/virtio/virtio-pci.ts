// The virtio 1.x "modern" PCI transport (virtio 1.2 §4.1): one PCI function carrying any
// VirtioDevice. It owns the type-0 config header, the capability list (the virtio
// vendor capabilities of §4.1.4 and MSI-X), one 64-bit memory BAR holding the common
// config, ISR, device config and notify structures plus the MSI-X table and PBA, feature
// negotiation (§3.1.1), queue setup, device status and reset, and interrupts: MSI-X
// messages to an MsiSink, or INTx (level: high while an ISR bit is set, low once the
// driver reads ISR, §4.1.4.5).
//
// Leaves out: the legacy (0.9.5) I/O-port interface and transitional device ids, packed
// rings, VIRTIO_F_NOTIFICATION_DATA, per-queue reset (VIRTIO_F_RING_RESET), shared
// memory regions and the PCI power-management capability.
//
// ---- Wiring (for the machine / PCI host bridge) --------------------------------------
//   const addr = { device: 3, function: 0 };
//   const blk = createVirtioBlk({ bus, mem, irq: isa.gsiLine(pciIntxGsi(addr, 1)), msi: apicBus,
//                                 device: openImage(path, { readOnly }), serial, cache, readOnly, log });
//   pciHost.register(addr, blk);                          // blk is a PciFunction
//   // the DSDT's _PRT routes this slot's INTA# to the same GSI (pci/intx-routing.ts)
//   on machine reset: blk.reset();                        // PCI reset: BAR unmapped, virtio reset
//   on machine exit:  blk.close();                        // closes the image / network backend
// Inside the vCPU worker, machine-factories.ts builds the same functions from plain,
// structured-cloneable options (image path, MAC, backend kind) for MachineConfig.pciDevices.
// The function maps its BAR itself (IoBus.registerMmio/moveMmio/unregisterMmio) when the
// guest (or firmware-less boot code) programs BAR0/BAR1 and sets Memory Space Enable in
// the command register; nothing needs to be registered up front. The bar is
// VIRTIO_PCI_BAR_SIZE bytes, 64-bit, non-prefetchable: whoever assigns BARs before
// boot (the machine, since there is no firmware) writes BAR0/BAR1 and the command
// register through configWrite like a BIOS would. Guest errors never throw out of
// configRead/configWrite/mmioRead/mmioWrite; `faults` counts them.
// ---------------------------------------------------------------------------------------

import { debuglog } from 'node:util';
import type { IoBus, MmioDevice } from '../../bus.js';
import type { IrqLine, MsiSink } from '../../irq.js';
import { GuestMemoryError, type GuestMemory } from '../../memory.js';
import type { PciFunction } from '../pci/pci-function.js';
import { Msix } from './msix.js';
import {
  readLe,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
  type VirtioContext,
  type VirtioDevice,
} from './virtio-device.js';
import { Virtqueue, VirtqueueError } from './virtqueue.js';

const debugLog = debuglog('tsvirt-virtio');

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** §4.1.2.1: modern device id = 0x1040 + virtio device type. */
export const VIRTIO_PCI_MODERN_DEVICE_BASE = 0x1040;
/** §4.1.2.1: non-transitional devices SHOULD use a subsystem id >= 0x40. */
export const VIRTIO_PCI_SUBSYSTEM_ID = 0x1100;
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

// §4.1.4 cfg_type values
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;
const PCI_CAP_ID_VNDR = 0x09;
const PCI_CAP_ID_MSIX = 0x11;

// PCI Local Bus 3.0 §6.2
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_INTERRUPT = 0x08;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_BAR0 = 0x10;
const PCI_CAPABILITY_LIST = 0x34;
const PCI_INTERRUPT_LINE = 0x3c;

// Layout of BAR0 (each structure on its own 4 KiB page, as QEMU does, so a driver may map them separately).
export const VIRTIO_PCI_BAR_SIZE = 0x8000;
export const BAR_COMMON = 0x0000;
export const COMMON_CFG_SIZE = 0x38;
export const BAR_ISR = 0x1000;
export const BAR_DEVICE = 0x2000;
export const BAR_NOTIFY = 0x3000;
export const NOTIFY_OFF_MULTIPLIER = 4;
export const BAR_MSIX_TABLE = 0x4000;
export const BAR_MSIX_PBA = 0x5000;

// §4.1.4.3 common configuration fields
export const COMMON_DFSELECT = 0x00;
export const COMMON_DF = 0x04;
export const COMMON_GFSELECT = 0x08;
export const COMMON_GF = 0x0c;
export const COMMON_MSIX = 0x10;
export const COMMON_NUMQ = 0x12;
export const COMMON_STATUS = 0x14;
export const COMMON_CFGGENERATION = 0x15;
export const COMMON_Q_SELECT = 0x16;
export const COMMON_Q_SIZE = 0x18;
export const COMMON_Q_MSIX = 0x1a;
export const COMMON_Q_ENABLE = 0x1c;
export const COMMON_Q_NOFF = 0x1e;
export const COMMON_Q_DESCLO = 0x20;
export const COMMON_Q_DESCHI = 0x24;
export const COMMON_Q_AVAILLO = 0x28;
export const COMMON_Q_AVAILHI = 0x2c;
export const COMMON_Q_USEDLO = 0x30;
export const COMMON_Q_USEDHI = 0x34;

/** Where each capability sits in config space (for tests and the machine's debugging). */
export const CAP_OFFSETS = { common: 0x40, isr: 0x50, device: 0x60, notify: 0x70, pciCfg: 0x88, msix: 0xa0 } as const;

/** Guest-caused trouble, counted; `memory` and `internal` stay 0 unless this file has a bug. */
export interface VirtioFaults {
  guest: number;
  memory: number;
  internal: number;
  lastError?: string;
}

export interface VirtioPciOptions {
  bus: IoBus;
  mem: GuestMemory;
  irq: IrqLine;
  msi: MsiSink;
  device: VirtioDevice;
  /** Where the one line per breakage goes (default: NODE_DEBUG=tsvirt-virtio). */
  log?: (message: string) => void;
}

export class VirtioPciFunction implements PciFunction, MmioDevice {
  readonly faults: VirtioFaults = { guest: 0, memory: 0, internal: 0 };
  readonly msix: Msix;
  readonly queues: Virtqueue[];
  private readonly bus: IoBus;
  private readonly mem: GuestMemory;
  private readonly irq: IrqLine;
  readonly device: VirtioDevice;
  private readonly cfg = new Uint8Array(256);
  private readonly wmask = new Uint8Array(256);
  private readonly offered: bigint;
  private readonly log: (message: string) => void;

  private mappedAt: number | null = null;
  private status = 0;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private driverFeatures = 0n;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private configGeneration = 0;
  private queueSelect = 0;
  private isr = 0;
  private active = false;
  /** Counts activations, so a context from before a reset stays dead. */
  private generation = 0;

  constructor(opts: VirtioPciOptions) {
    this.bus = opts.bus;
    this.mem = opts.mem;
    this.irq = opts.irq;
    this.device = opts.device;
    this.log = opts.log ?? ((m) => debugLog('%s', m));
    this.offered = opts.device.features | VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
    this.queues = opts.device.queueSizes.map((n, i) => new Virtqueue(opts.mem, i, n));
    // One vector per queue plus one for config changes, as Linux asks for first.
    this.msix = new Msix(this.queues.length + 1, opts.msi);
    this.buildConfigSpace();
  }

  /** Device status as the driver reads it. */
  get deviceStatus(): number {
    return this.status;
  }
  get needsReset(): boolean {
    return (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;
  }
  /** Where BAR0 is mapped on the IoBus, or null. */
  get barAddress(): number | null {
    return this.mappedAt;
  }

  // ---- PCI configuration space ----------------------------------------------------

  private buildConfigSpace(): void {
    const c = new DataView(this.cfg.buffer);
    const dev = this.device;
    c.setUint16(0x00, VIRTIO_PCI_VENDOR_ID, true);
    c.setUint16(0x02, VIRTIO_PCI_MODERN_DEVICE_BASE + dev.deviceType, true);
    c.setUint16(0x06, PCI_STATUS_CAP_LIST, true);
    c.setUint8(0x08, 1); // §4.1.2.1: revision >= 1 for non-transitional devices
    c.setUint8(0x09, dev.pciClass & 0xff);
    c.setUint8(0x0a, (dev.pciClass >> 8) & 0xff);
    c.setUint8(0x0b, (dev.pciClass >> 16) & 0xff);
    c.setUint8(0x0e, 0x00); // header type 0, single function
    c.setUint32(PCI_BAR0, 0x4, true); // memory BAR, 64-bit (type 10b), non-prefetchable
    c.setUint16(0x2c, VIRTIO_PCI_VENDOR_ID, true);
    c.setUint16(0x2e, VIRTIO_PCI_SUBSYSTEM_ID, true);
    c.setUint8(PCI_CAPABILITY_LIST, CAP_OFFSETS.common);
    c.setUint8(0x3d, 1); // INTA#

    const caps: Array<[number, number, number, number, number]> = [
      // [config offset, cfg_type, bar offset, length, cap_len]
      [CAP_OFFSETS.common, VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON, COMMON_CFG_SIZE, 16],
      [CAP_OFFSETS.isr, VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 4, 16],
      [CAP_OFFSETS.device, VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE, dev.configSizeBytes, 16],
      [CAP_OFFSETS.notify, VIRTIO_PCI_CAP_NOTIFY_CFG, BAR_NOTIFY, this.queues.length * NOTIFY_OFF_MULTIPLIER, 20],
      [CAP_OFFSETS.pciCfg, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20],
    ].filter(([, type]) => type !== VIRTIO_PCI_CAP_DEVICE_CFG || dev.configSizeBytes > 0) as Array<
      [number, number, number, number, number]
    >;
    c.setUint8(PCI_CAPABILITY_LIST, caps[0][0]);
    caps.forEach(([at, type, off, len, capLen], i) => {
      c.setUint8(at, PCI_CAP_ID_VNDR);
      c.setUint8(at + 1, i + 1 < caps.length ? caps[i + 1][0] : CAP_OFFSETS.msix);
      c.setUint8(at + 2, capLen);
      c.setUint8(at + 3, type);
      c.setUint8(at + 4, 0); // bar 0
      c.setUint32(at + 8, off, true);
      c.setUint32(at + 12, len, true);
    });
    c.setUint32(CAP_OFFSETS.notify + 16, NOTIFY_OFF_MULTIPLIER, true);
    // §4.1.4.9: the driver programs bar/offset/length of the PCI config access window.
    const pc = CAP_OFFSETS.pciCfg;
    this.wmask[pc + 4] = 0xff;
    this.wmask.fill(0xff, pc + 8, pc + 16);

    const m = CAP_OFFSETS.msix;
    c.setUint8(m, PCI_CAP_ID_MSIX);
    c.setUint8(m + 1, 0);
    c.setUint32(m + 4, BAR_MSIX_TABLE | 0, true); // BIR 0
    c.setUint32(m + 8, BAR_MSIX_PBA | 0, true);
    this.wmask[m + 3] = 0xc0; // Message Control: MSI-X Enable, Function Mask

    this.wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    this.wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
    // BAR0 low: address bits 31..15 (the BAR is 32 KiB); BAR1: the high half.
    this.wmask[PCI_BAR0 + 1] = (~(VIRTIO_PCI_BAR_SIZE - 1) >> 8) & 0xff;
    this.wmask[PCI_BAR0 + 2] = 0xff;
    this.wmask[PCI_BAR0 + 3] = 0xff;
    this.wmask.fill(0xff, PCI_BAR0 + 4, PCI_BAR0 + 8);
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    try {
      if (offset < 0 || offset + size > 4096) return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
      if (offset >= 256) return 0; // no PCIe extended capabilities
      const m = CAP_OFFSETS.msix;
      const v = new DataView(this.cfg.buffer);
      v.setUint16(m + 2, this.msix.readControl(), true);
      v.setUint16(0x06, PCI_STATUS_CAP_LIST | (this.isr !== 0 && !this.msix.enabled ? PCI_STATUS_INTERRUPT : 0), true);
      const data = CAP_OFFSETS.pciCfg + 16;
      if (offset < data + 4 && offset + size > data) {
        const window = this.pciCfgWindowRead() >>> (8 * Math.max(0, offset - data));
        return size === 4 ? window >>> 0 : window & (size === 2 ? 0xffff : 0xff);
      }
      return readLe(this.cfg, offset, size);
    } catch (e) {
      this.fault(e);
      return 0;
    }
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    try {
      if (offset < 0 || offset + size > 256) return;
      const data = CAP_OFFSETS.pciCfg + 16;
      if (offset === data) {
        this.pciCfgWindowWrite(value, size);
        return;
      }
      const before = this.cfg[CAP_OFFSETS.msix + 3];
      for (let i = 0; i < size; i++) {
        const at = offset + i;
        const mask = this.wmask[at];
        this.cfg[at] = (this.cfg[at] & ~mask) | ((value >>> (8 * i)) & mask);
      }
      if (offset <= CAP_OFFSETS.msix + 3 && offset + size > CAP_OFFSETS.msix + 3 && this.cfg[CAP_OFFSETS.msix + 3] !== before) {
        this.msix.writeControl(this.cfg[CAP_OFFSETS.msix + 3] << 8);
        this.updateIntx();
      }
      if (offset < PCI_BAR0 + 8 && offset + size > PCI_COMMAND) {
        this.updateIntx();
        this.remapBar();
      }
    } catch (e) {
      this.fault(e);
    }
  }

  /** §4.1.4.9: VIRTIO_PCI_CAP_PCI_CFG gives BAR access through config space. */
  private pciCfgWindow(): { offset: number; len: 1 | 2 | 4 } | null {
    const v = new DataView(this.cfg.buffer);
    const pc = CAP_OFFSETS.pciCfg;
    const bar = v.getUint8(pc + 4);
    const offset = v.getUint32(pc + 8, true);
    const len = v.getUint32(pc + 12, true);
    // checked: only BAR0, naturally sized, inside the BAR.
    if (bar !== 0 || (len !== 1 && len !== 2 && len !== 4) || offset % len !== 0 || offset + len > VIRTIO_PCI_BAR_SIZE) return null;
    return { offset, len };
  }

  private pciCfgWindowRead(): number {
    const w = this.pciCfgWindow();
    return w ? this.mmioRead(w.offset, w.len) : 0;
  }

  private pciCfgWindowWrite(value: number, size: number): void {
    const w = this.pciCfgWindow();
    if (w && size >= w.len) this.mmioWrite(w.offset, w.len, value);
  }

  private barBase(): number | null {
    const v = new DataView(this.cfg.buffer);
    const lo = v.getUint32(PCI_BAR0, true) & ~0xf;
    const hi = v.getUint32(PCI_BAR0 + 4, true);
    const base = hi * 0x1_0000_0000 + (lo >>> 0);
    const command = v.getUint16(PCI_COMMAND, true);
    // checked: decode only when enabled, the BAR is placed and not a sizing pattern past 2^52.
    if (!(command & PCI_COMMAND_MEMORY) || base === 0 || hi >= 0x10_0000) return null;
    return base;
  }

  private remapBar(): void {
    const want = this.barBase();
    if (want === this.mappedAt) return;
    if (this.mappedAt !== null && want !== null && this.bus.moveMmio(this, this.mappedAt, want)) {
      this.mappedAt = want;
      return;
    }
    if (this.mappedAt !== null) this.bus.unregisterMmio(this, this.mappedAt);
    this.mappedAt = null;
    if (want === null) return;
    try {
      this.bus.registerMmio(want, VIRTIO_PCI_BAR_SIZE, this, this.device.name);
      this.mappedAt = want;
    } catch (e) {
      // The guest placed the BAR over another device: it stays unmapped, as a real
      // bridge would decode only one of them.
      this.faults.guest++;
      this.note(`${this.device.name}: BAR0 at 0x${want.toString(16)} overlaps another device: ${(e as Error).message}`);
    }
  }

  // ---- BAR0 ------------------------------------------------------------------------

  mmioRead(offset: number, size: 1 | 2 | 4): number {
    try {
      if (offset >= BAR_COMMON && offset < BAR_COMMON + COMMON_CFG_SIZE) return readLe(this.commonSnapshot(), offset - BAR_COMMON, size);
      if (offset >= BAR_ISR && offset < BAR_ISR + 4) return this.readIsr(offset - BAR_ISR);
      if (offset >= BAR_DEVICE && offset < BAR_DEVICE + this.device.configSizeBytes) {
        const off = offset - BAR_DEVICE;
        return off + size <= this.device.configSizeBytes ? this.device.readConfig(off, size) : 0;
      }
      if (offset >= BAR_MSIX_TABLE && offset < BAR_MSIX_TABLE + this.msix.tableSizeBytes) return this.msix.readTable(offset - BAR_MSIX_TABLE, size);
      if (offset >= BAR_MSIX_PBA && offset < BAR_MSIX_PBA + this.msix.pbaSizeBytes) return this.msix.readPba(offset - BAR_MSIX_PBA, size);
      return 0;
    } catch (e) {
      this.fault(e);
      return 0;
    }
  }

  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    try {
      if (offset >= BAR_COMMON && offset < BAR_COMMON + COMMON_CFG_SIZE) this.writeCommon(offset - BAR_COMMON, size, value);
      else if (offset >= BAR_NOTIFY && offset < BAR_NOTIFY + this.queues.length * NOTIFY_OFF_MULTIPLIER) {
        const off = offset - BAR_NOTIFY;
        if (off % NOTIFY_OFF_MULTIPLIER === 0) this.notify(off / NOTIFY_OFF_MULTIPLIER);
      } else if (offset >= BAR_DEVICE && offset < BAR_DEVICE + this.device.configSizeBytes) {
        const off = offset - BAR_DEVICE;
        if (off + size <= this.device.configSizeBytes) this.device.writeConfig(off, size, value);
      } else if (offset >= BAR_MSIX_TABLE && offset < BAR_MSIX_TABLE + this.msix.tableSizeBytes) {
        this.msix.writeTable(offset - BAR_MSIX_TABLE, size, value);
      }
    } catch (e) {
      this.fault(e);
    }
  }

  private selected(): Virtqueue | undefined {
    return this.queues[this.queueSelect];
  }

  private commonSnapshot(): Uint8Array {
    const b = new Uint8Array(COMMON_CFG_SIZE);
    const v = new DataView(b.buffer);
    const sel = this.deviceFeatureSelect;
    v.setUint32(COMMON_DFSELECT, sel, true);
    v.setUint32(COMMON_DF, sel < 2 ? Number((this.offered >> BigInt(32 * sel)) & 0xffff_ffffn) : 0, true);
    v.setUint32(COMMON_GFSELECT, this.driverFeatureSelect, true);
    const gsel = this.driverFeatureSelect;
    v.setUint32(COMMON_GF, gsel < 2 ? Number((this.driverFeatures >> BigInt(32 * gsel)) & 0xffff_ffffn) : 0, true);
    v.setUint16(COMMON_MSIX, this.configVector, true);
    v.setUint16(COMMON_NUMQ, this.queues.length, true);
    v.setUint8(COMMON_STATUS, this.status);
    v.setUint8(COMMON_CFGGENERATION, this.configGeneration & 0xff);
    v.setUint16(COMMON_Q_SELECT, this.queueSelect, true);
    const q = this.selected();
    if (q) {
      v.setUint16(COMMON_Q_SIZE, q.size, true);
      v.setUint16(COMMON_Q_MSIX, q.msixVector, true);
      v.setUint16(COMMON_Q_ENABLE, q.enabled ? 1 : 0, true);
      v.setUint16(COMMON_Q_NOFF, q.index, true);
      v.setBigUint64(COMMON_Q_DESCLO, q.descAddr, true);
      v.setBigUint64(COMMON_Q_AVAILLO, q.driverAddr, true);
      v.setBigUint64(COMMON_Q_USEDLO, q.deviceAddr, true);
    }
    return b;
  }

  private writeCommon(off: number, size: number, value: number): void {
    const q = this.selected();
    // Queue layout may change only while the queue is disabled and before DRIVER_OK (§4.1.4.3.2).
    const queueWritable = q !== undefined && !q.enabled && !(this.status & VIRTIO_STATUS_DRIVER_OK);
    switch (off) {
      case COMMON_DFSELECT:
        if (size === 4) this.deviceFeatureSelect = value >>> 0;
        return;
      case COMMON_GFSELECT:
        if (size === 4) this.driverFeatureSelect = value >>> 0;
        return;
      case COMMON_GF: {
        if (size !== 4 || this.driverFeatureSelect > 1 || this.status & VIRTIO_STATUS_FEATURES_OK) return;
        const shift = BigInt(32 * this.driverFeatureSelect);
        this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
        return;
      }
      case COMMON_MSIX:
        if (size === 2) this.configVector = this.checkedVector(value);
        return;
      case COMMON_STATUS:
        if (size === 1) this.writeStatus(value & 0xff);
        return;
      case COMMON_Q_SELECT:
        if (size === 2) this.queueSelect = value & 0xffff;
        return;
      case COMMON_Q_SIZE:
        // checked later, in Virtqueue.enable: power of two <= the maximum.
        if (size === 2 && queueWritable) q!.size = value & 0xffff;
        return;
      case COMMON_Q_MSIX:
        if (size === 2 && q) q.msixVector = this.checkedVector(value);
        return;
      case COMMON_Q_ENABLE:
        if (size === 2 && queueWritable && (value & 0xffff) === 1) this.enableQueue(q!);
        return;
    }
    if (size === 4 && off >= COMMON_Q_DESCLO && off < COMMON_Q_USEDHI + 4 && queueWritable) {
      const field = (off - COMMON_Q_DESCLO) >> 3;
      const high = (off & 4) !== 0;
      const set = (old: bigint): bigint =>
        high ? (old & 0xffff_ffffn) | (BigInt(value >>> 0) << 32n) : (old & ~0xffff_ffffn) | BigInt(value >>> 0);
      if (field === 0) q!.descAddr = set(q!.descAddr);
      else if (field === 1) q!.driverAddr = set(q!.driverAddr);
      else q!.deviceAddr = set(q!.deviceAddr);
    }
  }

  /** §4.1.5.1.2: a vector the table does not have reads back as NO_VECTOR. */
  private checkedVector(value: number): number {
    const v = value & 0xffff;
    return v < this.msix.vectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private enableQueue(q: Virtqueue): void {
    q.eventIdx = (this.driverFeatures & VIRTIO_F_RING_EVENT_IDX) !== 0n;
    try {
      q.enable();
    } catch (e) {
      this.fault(e);
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.resetDevice();
      return;
    }
    const keep = this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    let next = value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (next & VIRTIO_STATUS_FEATURES_OK && !(this.status & VIRTIO_STATUS_FEATURES_OK)) {
      // §3.1.1 step 5-6: accept only a subset of what we offered, and only modern drivers.
      const ok = (this.driverFeatures & ~this.offered) === 0n && (this.driverFeatures & VIRTIO_F_VERSION_1) !== 0n;
      if (!ok) {
        next &= ~VIRTIO_STATUS_FEATURES_OK;
        this.note(`${this.device.name}: driver features 0x${this.driverFeatures.toString(16)} refused`);
      }
    }
    const wasOk = (this.status & VIRTIO_STATUS_DRIVER_OK) !== 0;
    this.status = next | keep;
    if (!wasOk && next & VIRTIO_STATUS_DRIVER_OK && next & VIRTIO_STATUS_FEATURES_OK && !(next & VIRTIO_STATUS_FAILED) && !keep) {
      this.activate();
    }
  }

  private activate(): void {
    const self = this;
    const generation = ++this.generation;
    const ctx: VirtioContext = {
      mem: this.mem,
      queues: this.queues.map((q) => (q.enabled ? q : undefined)),
      features: this.driverFeatures,
      get running() {
        return self.active && self.generation === generation;
      },
      signalQueue: (i) => this.signalQueue(i),
      configChanged: () => this.configChanged(),
      guard(work) {
        if (!ctx.running) return;
        try {
          work();
        } catch (e) {
          self.fault(e);
        }
      },
    };
    this.active = true;
    ctx.guard(() => {
      this.device.activate(ctx);
      // Buffers the driver made available before DRIVER_OK are picked up now.
      for (const q of this.queues) if (q.enabled && this.active) this.device.processQueue(q.index);
    });
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (!this.active || !q?.enabled) return;
    try {
      this.device.processQueue(index);
    } catch (e) {
      this.fault(e);
    }
  }

  private readIsr(offset: number): number {
    if (offset !== 0) return 0;
    // §4.1.4.5: reading ISR clears it and de-asserts INTx.
    const v = this.isr;
    this.isr = 0;
    this.updateIntx();
    return v;
  }

  private signalQueue(index: number): void {
    const q = this.queues[index];
    if (!q || !q.shouldSignal()) return;
    if (this.msix.enabled) {
      if (q.msixVector !== VIRTIO_MSI_NO_VECTOR) this.msix.send(q.msixVector);
      return;
    }
    this.isr |= 1;
    this.updateIntx();
  }

  private configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    this.isr |= 2;
    if (this.msix.enabled) {
      if (this.configVector !== VIRTIO_MSI_NO_VECTOR) this.msix.send(this.configVector);
      return;
    }
    this.updateIntx();
  }

  private updateIntx(): void {
    const command = this.cfg[PCI_COMMAND] | (this.cfg[PCI_COMMAND + 1] << 8);
    if (this.isr !== 0 && !this.msix.enabled && !(command & PCI_COMMAND_INTX_DISABLE)) this.irq.raise();
    else this.irq.lower();
  }

  /** Virtio device reset (§2.4): status 0 written, or part of a PCI reset. */
  private resetDevice(): void {
    if (this.active || this.status !== 0) this.device.reset();
    this.active = false;
    this.status = 0;
    this.driverFeatures = 0n;
    this.deviceFeatureSelect = this.driverFeatureSelect = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queueSelect = 0;
    for (const q of this.queues) q.reset();
    this.isr = 0;
    this.updateIntx();
  }

  /** PCI reset (machine reset): BAR unmapped, command cleared, MSI-X off, virtio reset. */
  reset(): void {
    this.resetDevice();
    this.cfg.fill(0, PCI_COMMAND, PCI_COMMAND + 2);
    new DataView(this.cfg.buffer).setUint32(PCI_BAR0, 0x4, true);
    new DataView(this.cfg.buffer).setUint32(PCI_BAR0 + 4, 0, true);
    this.cfg[CAP_OFFSETS.msix + 3] = 0;
    this.msix.writeControl(0);
    this.remapBar();
  }

  /** Machine shutdown: unmaps the BAR and closes what the device owns (image, backend). */
  close(): void {
    this.resetDevice();
    if (this.mappedAt !== null) this.bus.unregisterMmio(this, this.mappedAt);
    this.mappedAt = null;
    this.device.close();
  }

  /**
   * A guest error (or a bug of ours) while serving the device: §2.1.2 DEVICE_NEEDS_RESET,
   * a config-change interrupt if the driver is up, one log line, never an exception.
   */
  private fault(e: unknown): void {
    if (e instanceof VirtqueueError) this.faults.guest++;
    else if (e instanceof GuestMemoryError) this.faults.memory++;
    else this.faults.internal++;
    const msg = e instanceof Error ? e.message : String(e);
    this.faults.lastError = msg;
    if (this.needsReset) return;
    this.note(`${this.device.name}: ${msg}; device needs reset`);
    this.active = false;
    this.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.configChanged();
  }

  private note(msg: string): void {
    this.log(msg);
  }
}
