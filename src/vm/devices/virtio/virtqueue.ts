// A split virtqueue as the device side sees it (virtio 1.2 §2.7): descriptor table, driver
// (available) ring and device (used) ring in guest memory, with indirect descriptors
// (§2.7.5.3) and VIRTIO_F_EVENT_IDX notification suppression (§2.7.7, §2.7.10).
//
// Everything read from guest memory is hostile. A ring address, a descriptor, an index
// becomes trusted only after the checks marked "checked:" below; a violation throws a
// VirtqueueError, which the transport turns into DEVICE_NEEDS_RESET (§2.1.2). Guest
// memory is never touched outside what GuestMemory.isRam accepted first, so a
// GuestMemoryError out of this file means a bug here, not a bad guest.
//
// Leaves out: packed virtqueues (§2.8), VIRTIO_F_IN_ORDER, VIRTIO_F_NOTIFICATION_DATA.

import type { GuestMemory } from '../../memory.js';

// virtio 1.2 §2.7.5
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
// §2.7.6, §2.7.8
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_USED_ELEM_SIZE = 8;
/** §4.1.4.3 / §2.7: the largest queue a split ring can describe. */
export const VIRTQ_MAX_SIZE = 32768;
/**
 * Entries an indirect table may hold. §2.7.5.3.1 bounds chains by the queue size, but
 * Linux sizes indirect tables by the device's segment limit (virtio-blk seg_max + 2), not
 * by the queue size the driver picked, and QEMU accepts up to 1024 (VIRTQUEUE_MAX_SIZE):
 * a real virtio_blk driver on a 128-entry queue sends 256-entry tables. The same bound
 * here keeps such drivers working and still caps what one chain can make us walk.
 */
export const VIRTQ_MAX_INDIRECT_ENTRIES = 1024;

/** A guest broke the virtqueue rules; the device must be reset by the driver. */
export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
}

/** One checked buffer of a chain: [addr, addr+len) lies inside guest RAM. */
export interface DescriptorBuffer {
  readonly addr: number;
  readonly len: number;
}

/**
 * A popped descriptor chain: the driver-readable buffers, then the device-writable ones
 * (§2.7.4.2 requires that order). Every buffer has been checked against guest RAM.
 */
export class DescriptorChain {
  readonly readable: DescriptorBuffer[] = [];
  readonly writable: DescriptorBuffer[] = [];
  readableBytes = 0;
  writableBytes = 0;

  constructor(
    private readonly mem: GuestMemory,
    /** Head descriptor index, returned in the used element. */
    readonly head: number,
  ) {}

  /** Copies up to dst.length readable bytes starting at `offset` into dst; returns the count. */
  readInto(offset: number, dst: Uint8Array): number {
    return gather(this.mem, this.readable, offset, dst);
  }

  /** Copies src into the writable buffers starting at `offset`; returns the count written. */
  writeFrom(offset: number, src: Uint8Array): number {
    return scatter(this.mem, this.writable, offset, src);
  }

  /** Live views of writable bytes [offset, offset+len) (len clipped to what exists). */
  writableViews(offset: number, len: number): Uint8Array[] {
    return views(this.mem, this.writable, offset, len);
  }

  /** Live views of readable bytes [offset, offset+len). */
  readableViews(offset: number, len: number): Uint8Array[] {
    return views(this.mem, this.readable, offset, len);
  }
}

function views(mem: GuestMemory, bufs: DescriptorBuffer[], offset: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = len;
  for (const b of bufs) {
    if (left <= 0) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const n = Math.min(b.len - skip, left);
    out.push(mem.slice(b.addr + skip, n));
    left -= n;
    skip = 0;
  }
  return out;
}

function gather(mem: GuestMemory, bufs: DescriptorBuffer[], offset: number, dst: Uint8Array): number {
  let done = 0;
  for (const v of views(mem, bufs, offset, dst.length)) {
    dst.set(v, done);
    done += v.length;
  }
  return done;
}

function scatter(mem: GuestMemory, bufs: DescriptorBuffer[], offset: number, src: Uint8Array): number {
  let done = 0;
  for (const v of views(mem, bufs, offset, src.length)) {
    v.set(src.subarray(done, done + v.length));
    done += v.length;
  }
  return done;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Converts a guest 64-bit address to a number, or -1 when it cannot be RAM. */
function toGpa(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

export class Virtqueue {
  /** Driver-chosen size (queue_size register); starts at the device maximum. */
  size: number;
  descAddr = 0n;
  driverAddr = 0n;
  deviceAddr = 0n;
  /** MSI-X vector for this queue (VIRTIO_MSI_NO_VECTOR when none). */
  msixVector = 0xffff;
  enabled = false;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx = false;

  // Checked copies of the ring addresses, valid while enabled.
  private desc = 0;
  private avail = 0;
  private used = 0;
  private lastAvail = 0;
  private usedIdx = 0;
  /** The used index when the driver was last signalled (for §2.7.10's vring_need_event). */
  private signalledUsed = 0;
  /** Descriptor scratch: which entries the chain being walked has visited. */
  private visited: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly mem: GuestMemory,
    readonly index: number,
    readonly maxSize: number,
  ) {
    if (!isPowerOfTwo(maxSize) || maxSize > VIRTQ_MAX_SIZE) throw new RangeError(`bad virtqueue max size ${maxSize}`);
    this.size = maxSize;
  }

  /** §4.1.4.3.2: back to the state after device reset. */
  reset(): void {
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0n;
    this.msixVector = 0xffff;
    this.enabled = false;
    this.eventIdx = false;
    this.desc = this.avail = this.used = 0;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
  }

  /**
   * The driver wrote queue_enable = 1. Checks size and ring placement (§2.7: alignment
   * 16/2/4, sizes 16*N, 6+2*N, 6+8*N) before the addresses are ever dereferenced.
   */
  enable(): void {
    const n = this.size;
    if (!isPowerOfTwo(n) || n > this.maxSize) throw new VirtqueueError(`queue ${this.index}: size ${n} is not a power of two <= ${this.maxSize}`);
    const desc = toGpa(this.descAddr);
    const avail = toGpa(this.driverAddr);
    const used = toGpa(this.deviceAddr);
    if (desc % 16 !== 0 || !this.mem.isRam(desc, VIRTQ_DESC_SIZE * n)) {
      throw new VirtqueueError(`queue ${this.index}: descriptor table 0x${this.descAddr.toString(16)} is misaligned or outside RAM`);
    }
    if (avail % 2 !== 0 || !this.mem.isRam(avail, 6 + 2 * n)) {
      throw new VirtqueueError(`queue ${this.index}: driver ring 0x${this.driverAddr.toString(16)} is misaligned or outside RAM`);
    }
    if (used % 4 !== 0 || !this.mem.isRam(used, 6 + VIRTQ_USED_ELEM_SIZE * n)) {
      throw new VirtqueueError(`queue ${this.index}: device ring 0x${this.deviceAddr.toString(16)} is misaligned or outside RAM`);
    }
    // checked: the three rings lie inside RAM; offsets below stay within the sizes tested.
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.visited = new Uint8Array(n);
    // §2.7.6, §2.7.8: both rings' indices start at 0 when a queue is set up.
    this.lastAvail = 0;
    this.usedIdx = 0;
    this.signalledUsed = 0;
    this.enabled = true;
  }

  /** The next avail ring index the device will read (vhost-user's GET_VRING_BASE, debugging). */
  get availIndex(): number {
    return this.lastAvail;
  }

  /** The next used ring index the device will write. */
  get usedIndex(): number {
    return this.usedIdx;
  }

  /**
   * Continues a ring another device instance was serving (vhost-user SET_VRING_BASE, a
   * restored snapshot) instead of starting both indices at 0. Call after enable().
   */
  resume(availIndex: number, usedIndex: number): void {
    this.lastAvail = availIndex & 0xffff;
    this.usedIdx = usedIndex & 0xffff;
    this.signalledUsed = this.usedIdx;
  }

  /** Chains the driver made available and the device has not taken yet. */
  pending(): number {
    if (!this.enabled) return 0;
    const availIdx = this.mem.read16(this.avail + 2);
    const n = (availIdx - this.lastAvail) & 0xffff;
    // §2.7.13.3: the driver never has more than queue-size chains outstanding.
    if (n > this.size) throw new VirtqueueError(`queue ${this.index}: avail index moved from ${this.lastAvail} to ${availIdx}`);
    return n;
  }

  /** Takes the next available chain, or null when there is none. */
  pop(): DescriptorChain | null {
    if (this.pending() === 0) return null;
    const head = this.mem.read16(this.avail + 4 + 2 * (this.lastAvail % this.size));
    if (head >= this.size) throw new VirtqueueError(`queue ${this.index}: head descriptor ${head} >= queue size ${this.size}`);
    const chain = this.walk(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIdx) {
      // §2.7.10: avail_event tells the driver which index to notify us at next.
      this.mem.write16(this.used + 4 + VIRTQ_USED_ELEM_SIZE * this.size, this.lastAvail);
    }
    return chain;
  }

  /** Gives the last popped chain back (the device could not use it yet). */
  unpop(): void {
    this.lastAvail = (this.lastAvail - 1) & 0xffff;
  }

  /** Returns a chain to the driver with `len` bytes written into its writable buffers. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const slot = this.used + 4 + VIRTQ_USED_ELEM_SIZE * (this.usedIdx % this.size);
    this.mem.write32(slot, chain.head);
    this.mem.write32(slot + 4, Math.min(len, chain.writableBytes) >>> 0);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    // The element is in place before the index that publishes it (§2.7.8.2).
    this.mem.write16(this.used + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for what was pushed since the last signal
   * (§2.7.7.2 without EVENT_IDX, §2.7.10 with it). Calling it consumes the decision.
   */
  shouldSignal(): boolean {
    if (!this.enabled) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    if (old === now) return false;
    this.signalledUsed = now;
    if (this.eventIdx) {
      const usedEvent = this.mem.read16(this.avail + 4 + 2 * this.size);
      // vring_need_event(event, new, old): event in [old, new) modulo 2^16.
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.mem.read16(this.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Follows a chain from `head` (§2.7.5), through at most one indirect table
   * (§2.7.5.3.1), checking every descriptor before it is trusted.
   */
  private walk(head: number): DescriptorChain {
    const mem = this.mem;
    const chain = new DescriptorChain(mem, head);
    const visited = this.visited;
    visited.fill(0);
    let table = this.desc;
    let tableSize = this.size;
    let index = head;
    let indirect = false;
    let count = 0;
    let indirectVisited: Uint8Array | null = null;
    for (;;) {
      const d = table + VIRTQ_DESC_SIZE * index;
      // checked: index < tableSize and the table lies in RAM, so d..d+16 is RAM.
      const addr = toGpa(mem.read64(d));
      const len = mem.read32(d + 8);
      const flags = mem.read16(d + 12);
      const next = mem.read16(d + 14);
      const seen = indirect ? indirectVisited! : visited;
      if (seen[index]) throw new VirtqueueError(`queue ${this.index}: descriptor loop at ${index}`);
      seen[index] = 1;
      // §2.7.5.3.1: the direct part is never longer than the queue; an indirect table's
      // entries are bounded by its own size (checked below) and each is visited once.
      if (!indirect && ++count > this.size) throw new VirtqueueError(`queue ${this.index}: chain from ${head} is longer than the queue`);

      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (indirect) throw new VirtqueueError(`queue ${this.index}: nested indirect descriptor`);
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError(`queue ${this.index}: indirect descriptor with NEXT`);
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) throw new VirtqueueError(`queue ${this.index}: indirect table length ${len}`);
        const entries = len / VIRTQ_DESC_SIZE;
        if (entries > VIRTQ_MAX_INDIRECT_ENTRIES) throw new VirtqueueError(`queue ${this.index}: indirect table of ${entries} entries`);
        if (addr < 0 || !mem.isRam(addr, len)) throw new VirtqueueError(`queue ${this.index}: indirect table outside RAM`);
        // checked: the indirect table lies in RAM and has `entries` descriptors.
        table = addr;
        tableSize = entries;
        indirect = true;
        indirectVisited = new Uint8Array(entries);
        index = 0;
        continue;
      }

      if (addr < 0 || !mem.isRam(addr, len)) {
        throw new VirtqueueError(`queue ${this.index}: buffer 0x${addr.toString(16)}+${len} outside RAM`);
      }
      // checked: [addr, addr+len) is RAM.
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ addr, len });
        chain.writableBytes += len;
      } else {
        // §2.7.4.2: readable buffers come before writable ones.
        if (chain.writable.length > 0) throw new VirtqueueError(`queue ${this.index}: readable descriptor after a writable one`);
        chain.readable.push({ addr, len });
        chain.readableBytes += len;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= tableSize) throw new VirtqueueError(`queue ${this.index}: next descriptor ${next} >= ${tableSize}`);
      index = next;
    }
  }
}
