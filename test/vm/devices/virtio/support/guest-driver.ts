// The guest's side of a virtio-pci device, as Linux's virtio_pci_modern driver drives it
// (drivers/virtio/virtio_pci_modern_dev.c, virtio_ring.c): walk the capability list,
// size and place BAR0, negotiate features with FEATURES_OK, set up split rings in guest
// RAM, program MSI-X, notify, and reap used elements. Everything goes through the
// function's config space and through the IoBus at the BAR address, like the CPU would.

import { IoBus } from '../../../../../src/vm/bus.js';
import { LevelLine, type MsiSink } from '../../../../../src/vm/irq.js';
import { BufferGuestMemory, GuestMemoryError, type GuestMemory } from '../../../../../src/vm/memory.js';
import type { PciFunction } from '../../../../../src/vm/devices/pci/pci-function.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../../../src/vm/devices/virtio/virtio-device.js';
import {
  COMMON_DF,
  COMMON_DFSELECT,
  COMMON_GF,
  COMMON_GFSELECT,
  COMMON_MSIX,
  COMMON_Q_AVAILHI,
  COMMON_Q_AVAILLO,
  COMMON_Q_DESCHI,
  COMMON_Q_DESCLO,
  COMMON_Q_ENABLE,
  COMMON_Q_MSIX,
  COMMON_Q_NOFF,
  COMMON_Q_SELECT,
  COMMON_Q_SIZE,
  COMMON_Q_USEDHI,
  COMMON_Q_USEDLO,
  COMMON_STATUS,
} from '../../../../../src/vm/devices/virtio/virtio-pci.js';

export const BAR_GPA = 0xc000_0000;
export const MSI_ADDRESS = 0xfee0_0000;

export class MsiRecorder implements MsiSink {
  messages: Array<{ address: bigint; data: number }> = [];
  /** The guest's interrupt handler, when a test installs one. */
  onMessage: ((data: number) => void) | null = null;
  sendMsi(address: bigint, data: number): void {
    this.messages.push({ address, data });
    this.onMessage?.(data);
  }
  /** MSI data values (we program data = vector index + 0x40) received so far, then forgets them. */
  take(): number[] {
    const d = this.messages.map((m) => m.data);
    this.messages = [];
    return d;
  }
}

/**
 * Wraps a real GuestMemory and counts every access it refuses (GuestMemoryError), so the
 * hostile tests can prove the device never reached outside RAM even when the transport
 * catches the error.
 */
export class CountingMemory implements GuestMemory {
  outside = 0;
  constructor(private readonly inner: GuestMemory) {}
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get regions() {
    return this.inner.regions;
  }
  private run<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof GuestMemoryError) this.outside++;
      throw e;
    }
  }
  read8(gpa: number) { return this.run(() => this.inner.read8(gpa)); }
  read16(gpa: number) { return this.run(() => this.inner.read16(gpa)); }
  read32(gpa: number) { return this.run(() => this.inner.read32(gpa)); }
  read64(gpa: number) { return this.run(() => this.inner.read64(gpa)); }
  write8(gpa: number, v: number) { this.run(() => this.inner.write8(gpa, v)); }
  write16(gpa: number, v: number) { this.run(() => this.inner.write16(gpa, v)); }
  write32(gpa: number, v: number) { this.run(() => this.inner.write32(gpa, v)); }
  write64(gpa: number, v: bigint) { this.run(() => this.inner.write64(gpa, v)); }
  isRam(gpa: number, len: number) { return this.inner.isRam(gpa, len); }
  slice(gpa: number, len: number) { return this.run(() => this.inner.slice(gpa, len)); }
}

/** Guest RAM with a bump allocator for rings and buffers. */
export class GuestRam {
  readonly mem: BufferGuestMemory;
  private next = 0x1000;
  constructor(sizeBytes = 4 << 20, extra: Array<{ gpa: number; sizeBytes: number }> = []) {
    // SharedArrayBuffer, as the machine allocates RAM for the software CPU.
    const ram = (n: number) => new Uint8Array(new SharedArrayBuffer(n));
    this.mem = new BufferGuestMemory([{ gpa: 0, bytes: ram(sizeBytes) }, ...extra.map((r) => ({ gpa: r.gpa, bytes: ram(r.sizeBytes) }))]);
  }
  /** Forgets every allocation (a fresh guest boot, for the many-case tests). */
  rewind(): void {
    this.next = 0x1000;
  }
  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const at = this.next;
    this.next += len;
    if (this.next > this.mem.regions[0].sizeBytes) throw new Error('test guest out of RAM');
    return at;
  }
  /** Allocates and fills a buffer. */
  put(bytes: Uint8Array, align = 16): number {
    const at = this.alloc(bytes.length, align);
    this.mem.slice(at, bytes.length).set(bytes);
    return at;
  }
  bytes(gpa: number, len: number): Uint8Array {
    return this.mem.slice(gpa, len).slice();
  }
}

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

export interface Caps {
  common: number;
  isr: number;
  device: number;
  notify: number;
  notifyMultiplier: number;
  msixCap: number;
  msixTable: number;
  msixPba: number;
  vendorCaps: number[];
}

export class GuestQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private freeHead = 0;
  private availIdx = 0;
  private lastUsed = 0;
  private readonly free: number[];

  constructor(
    readonly driver: VirtioGuestDriver,
    readonly index: number,
    readonly size: number,
    readonly notifyAddr: number,
  ) {
    const ram = driver.ram;
    this.desc = ram.alloc(16 * size, 16);
    this.avail = ram.alloc(6 + 2 * size, 2);
    this.used = ram.alloc(6 + 8 * size, 4);
    // Linux allocates rings zeroed: both indices start at 0.
    ram.mem.slice(this.desc, this.used + 6 + 8 * size - this.desc).fill(0);
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  private mem(): GuestMemory {
    return this.driver.ram.mem;
  }

  private writeDesc(table: number, i: number, b: Buf, flags: number, next: number): void {
    const m = this.mem();
    const d = table + 16 * i;
    m.write64(d, BigInt(b.addr));
    m.write32(d + 8, b.len);
    m.write16(d + 12, flags | (b.write ? 2 : 0));
    m.write16(d + 14, next);
  }

  /** Puts a chain on the avail ring (direct, or through one indirect table); returns its head. */
  add(bufs: Buf[], opts: { indirect?: boolean } = {}): number {
    if (opts.indirect) {
      const table = this.driver.ram.alloc(16 * bufs.length, 16);
      bufs.forEach((b, i) => this.writeDesc(table, i, b, i + 1 < bufs.length ? 1 : 0, i + 1 < bufs.length ? i + 1 : 0));
      const head = this.free.shift()!;
      this.writeDesc(this.desc, head, { addr: table, len: 16 * bufs.length }, 4, 0);
      return this.publish(head);
    }
    if (this.free.length < bufs.length) throw new Error('test queue full');
    const ids = this.free.splice(0, bufs.length);
    bufs.forEach((b, i) => this.writeDesc(this.desc, ids[i], b, i + 1 < bufs.length ? 1 : 0, i + 1 < bufs.length ? ids[i + 1] : 0));
    return this.publish(ids[0]);
  }

  /** Raw access for hostile tests: put `head` on the ring without touching descriptors. */
  publish(head: number): number {
    const m = this.mem();
    m.write16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    m.write16(this.avail + 2, this.availIdx);
    return head;
  }

  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem().write16(this.avail + 2, this.availIdx);
  }

  kick(): void {
    this.driver.bus.mmioWrite(this.notifyAddr, 2, this.index);
  }

  /** Used elements since the last call; their descriptors go back on the free list. */
  reap(): Array<{ id: number; len: number }> {
    const m = this.mem();
    const out: Array<{ id: number; len: number }> = [];
    const idx = m.read16(this.used + 2);
    while (this.lastUsed !== idx) {
      const e = this.used + 4 + 8 * (this.lastUsed % this.size);
      const id = m.read32(e);
      out.push({ id, len: m.read32(e + 4) });
      this.releaseChain(id);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    // virtqueue_enable_cb with EVENT_IDX: interrupt me at the next used element.
    this.setUsedEvent(this.lastUsed);
    return out;
  }

  private releaseChain(head: number): void {
    const m = this.mem();
    let i = head;
    for (let n = 0; n < this.size; n++) {
      this.free.push(i);
      const flags = m.read16(this.desc + 16 * i + 12);
      if (!(flags & 1)) break;
      i = m.read16(this.desc + 16 * i + 14);
    }
  }

  /** §2.7.10: the driver's used_event (interrupt when used idx passes it). */
  setUsedEvent(idx: number): void {
    this.mem().write16(this.avail + 4 + 2 * this.size, idx);
  }
  availEvent(): number {
    return this.mem().read16(this.used + 4 + 8 * this.size);
  }
  setAvailFlags(flags: number): void {
    this.mem().write16(this.avail, flags);
  }
}

export interface DriverOptions {
  msix?: boolean;
}

export class VirtioGuestDriver {
  readonly caps: Caps;
  readonly queues: GuestQueue[] = [];
  features = 0n;

  constructor(
    readonly fn: PciFunction,
    readonly bus: IoBus,
    readonly ram: GuestRam,
    readonly opts: DriverOptions = {},
  ) {
    this.caps = this.probe();
  }

  static platform(ram = new GuestRam()): { bus: IoBus; ram: GuestRam; irq: LevelLine; msi: MsiRecorder } {
    return { bus: new IoBus(), ram, irq: new LevelLine(), msi: new MsiRecorder() };
  }

  /** pci_find_capability + virtio_pci_find_capability, then BAR assignment like a BIOS. */
  private probe(): Caps {
    const f = this.fn;
    if (f.configRead(0, 2) !== 0x1af4) throw new Error('not a virtio function');
    // Size BAR0 (64-bit): write all ones, read back, restore.
    f.configWrite(0x10, 4, 0xffff_ffff);
    const sizeMask = f.configRead(0x10, 4) & ~0xf;
    const barSize = (~sizeMask >>> 0) + 1;
    f.configWrite(0x14, 4, 0xffff_ffff);
    f.configWrite(0x10, 4, BAR_GPA);
    f.configWrite(0x14, 4, 0);
    f.configWrite(0x04, 2, 0x6); // memory space + bus master
    const caps: Partial<Caps> = { vendorCaps: [] };
    for (let at = f.configRead(0x34, 1), n = 0; at !== 0 && n < 48; at = f.configRead(at + 1, 1), n++) {
      const id = f.configRead(at, 1);
      if (id === 0x11) {
        caps.msixCap = at;
        caps.msixTable = BAR_GPA + (f.configRead(at + 4, 4) & ~7);
        caps.msixPba = BAR_GPA + (f.configRead(at + 8, 4) & ~7);
        continue;
      }
      if (id !== 0x09) continue;
      caps.vendorCaps!.push(at);
      const type = f.configRead(at + 3, 1);
      const bar = f.configRead(at + 4, 1);
      const offset = f.configRead(at + 8, 4);
      const length = f.configRead(at + 12, 4);
      // Type 5 (PCI_CFG access) carries the driver's own window, not a structure.
      if (type !== 5 && (bar !== 0 || offset + length > barSize)) throw new Error('capability outside BAR0');
      const addr = BAR_GPA + offset;
      if (type === 1 && caps.common === undefined) caps.common = addr;
      if (type === 3 && caps.isr === undefined) caps.isr = addr;
      if (type === 4 && caps.device === undefined) caps.device = addr;
      if (type === 2 && caps.notify === undefined) {
        caps.notify = addr;
        caps.notifyMultiplier = f.configRead(at + 16, 4);
      }
    }
    return caps as Caps;
  }

  r(off: number, size: 1 | 2 | 4): number {
    return this.bus.mmioRead(this.caps.common + off, size);
  }
  w(off: number, size: 1 | 2 | 4, v: number): void {
    this.bus.mmioWrite(this.caps.common + off, size, v);
  }
  status(): number {
    return this.r(COMMON_STATUS, 1);
  }
  setStatus(v: number): void {
    this.w(COMMON_STATUS, 1, v);
  }
  readIsr(): number {
    return this.bus.mmioRead(this.caps.isr, 1);
  }
  config(off: number, size: 1 | 2 | 4): number {
    return this.bus.mmioRead(this.caps.device + off, size);
  }

  deviceFeatures(): bigint {
    this.w(COMMON_DFSELECT, 4, 0);
    const lo = this.r(COMMON_DF, 4);
    this.w(COMMON_DFSELECT, 4, 1);
    const hi = this.r(COMMON_DF, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Reset, ACK, DRIVER, features, FEATURES_OK (returns false if the device refused). */
  negotiate(wanted: bigint = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX): boolean {
    this.setStatus(0);
    this.setStatus(1);
    this.setStatus(1 | 2);
    const offered = this.deviceFeatures();
    this.features = wanted & offered;
    this.writeFeatures(this.features);
    this.setStatus(1 | 2 | 8);
    return (this.status() & 8) !== 0;
  }

  writeFeatures(f: bigint): void {
    this.w(COMMON_GFSELECT, 4, 0);
    this.w(COMMON_GF, 4, Number(f & 0xffff_ffffn));
    this.w(COMMON_GFSELECT, 4, 1);
    this.w(COMMON_GF, 4, Number(f >> 32n));
  }

  enableMsix(vectors: number): void {
    const f = this.fn;
    const cap = this.caps.msixCap;
    f.configWrite(cap + 2, 2, 0x8000 | 0x4000); // enable + function mask while programming
    for (let v = 0; v < vectors; v++) {
      const e = this.caps.msixTable + 16 * v;
      this.bus.mmioWrite(e, 4, MSI_ADDRESS);
      this.bus.mmioWrite(e + 4, 4, 0);
      this.bus.mmioWrite(e + 8, 4, 0x40 + v);
      this.bus.mmioWrite(e + 12, 4, 0);
    }
    f.configWrite(cap + 2, 2, 0x8000);
  }

  /** vp_modern_find_vqs: config vector 0, queue i on vector i+1 when MSI-X is on. */
  setupQueue(index: number, size?: number): GuestQueue {
    this.w(COMMON_Q_SELECT, 2, index);
    const max = this.r(COMMON_Q_SIZE, 2);
    if (max === 0) throw new Error(`queue ${index} unavailable`);
    const n = size ?? max;
    this.w(COMMON_Q_SIZE, 2, n);
    const noff = this.r(COMMON_Q_NOFF, 2);
    const q = new GuestQueue(this, index, n, this.caps.notify + noff * this.caps.notifyMultiplier);
    this.writeQueueAddrs(q.desc, q.avail, q.used);
    if (this.opts.msix) {
      this.w(COMMON_Q_MSIX, 2, index + 1);
      if (this.r(COMMON_Q_MSIX, 2) !== index + 1) throw new Error('MSI-X vector refused');
    }
    this.w(COMMON_Q_ENABLE, 2, 1);
    this.queues[index] = q;
    return q;
  }

  writeQueueAddrs(desc: number, avail: number, used: number): void {
    const pairs: Array<[number, number, number]> = [
      [COMMON_Q_DESCLO, COMMON_Q_DESCHI, desc],
      [COMMON_Q_AVAILLO, COMMON_Q_AVAILHI, avail],
      [COMMON_Q_USEDLO, COMMON_Q_USEDHI, used],
    ];
    for (const [lo, hi, v] of pairs) {
      this.w(lo, 4, v % 0x1_0000_0000);
      this.w(hi, 4, Math.floor(v / 0x1_0000_0000));
    }
  }

  /** The whole Linux probe sequence for a device with `queues` queues. */
  start(queues: number, wanted?: bigint): GuestQueue[] {
    if (!this.negotiate(wanted)) throw new Error('FEATURES_OK refused');
    if (this.opts.msix) {
      this.enableMsix(queues + 1);
      this.w(COMMON_MSIX, 2, 0);
    }
    for (let i = 0; i < queues; i++) this.setupQueue(i);
    this.setStatus(1 | 2 | 8 | 4);
    return this.queues;
  }
}
