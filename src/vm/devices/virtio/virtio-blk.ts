// virtio-blk (virtio 1.2 §5.2) on a storage BlockDevice: one request queue; IN, OUT,
// FLUSH, GET_ID, DISCARD and WRITE_ZEROES; VIRTIO_BLK_F_RO for read-only disks; the
// disk's cache mode decides when writes reach stable storage (writeback: on FLUSH only;
// none/directsync/writethrough: after each write, as QEMU promises durability once the
// write completes for those; unsafe: never, FLUSH included, as QEMU's cache=unsafe).
//
// Requests are parsed without assuming how the driver split them into descriptors
// (§2.6.4): the 16-byte header and discard segments are gathered from the readable
// bytes, the status is the last writable byte.
//
// Leaves out: multiqueue (VIRTIO_BLK_F_MQ), SECURE_ERASE, GET_LIFETIME, zoned devices,
// VIRTIO_BLK_F_CONFIG_WCE (the cache mode is fixed by the host), topology hints.

import type { BlockDevice } from '../../../storage/block-device.js';
import { readLe, VIRTIO_ID_BLOCK, type VirtioContext, type VirtioDevice } from './virtio-device.js';
import { VirtqueueError, type DescriptorChain } from './virtqueue.js';

// §5.2.3 feature bits
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n;

// §5.2.6 request types and status values
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

export const VIRTIO_BLK_SECTOR_SIZE = 512;
export const VIRTIO_BLK_ID_BYTES = 20;
const HEADER_BYTES = 16;
const SEGMENT_BYTES = 16;
export const VIRTIO_BLK_QUEUE_SIZE = 256;

// §5.2.4 config layout (offsets)
export const BLK_CFG_CAPACITY = 0x00;
export const BLK_CFG_SEG_MAX = 0x0c;
export const BLK_CFG_BLK_SIZE = 0x14;
export const BLK_CFG_MAX_DISCARD_SECTORS = 0x24;
export const BLK_CFG_MAX_DISCARD_SEG = 0x28;
export const BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 0x2c;
export const BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 0x30;
export const BLK_CFG_MAX_WRITE_ZEROES_SEG = 0x34;
export const BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 0x38;
const BLK_CFG_SIZE = 0x3c;

/** Largest discard / write-zeroes request, in sectors, and segments per request. */
export const BLK_MAX_DISCARD_SECTORS = 0x3f_ffff; // 2 GiB - 512
export const BLK_MAX_DISCARD_SEG = 32;
/** Zero-writes go out in chunks of this size. */
const ZERO_CHUNK_BYTES = 1 << 20;

/** libvirt/QEMU cache modes (the --disk cache= values). */
export type BlkCacheMode = 'none' | 'directsync' | 'writethrough' | 'writeback' | 'unsafe';

export interface VirtioBlkOptions {
  device: BlockDevice;
  /** The --disk serial= (GET_ID); at most 20 bytes are reported. */
  serial?: string;
  cache?: BlkCacheMode;
  /** Read-only disk (readonly=on / perms=ro): VIRTIO_BLK_F_RO, writes fail. */
  readOnly?: boolean;
}

export interface VirtioBlkStats {
  reads: number;
  writes: number;
  flushes: number;
  ioErrors: number;
  unsupported: number;
}

export class VirtioBlk implements VirtioDevice {
  readonly name = 'virtio-blk';
  readonly deviceType = VIRTIO_ID_BLOCK;
  readonly queueSizes = [VIRTIO_BLK_QUEUE_SIZE];
  readonly features: bigint;
  readonly configSizeBytes = BLK_CFG_SIZE;
  readonly pciClass = 0x018000; // mass storage, other
  readonly readOnly: boolean;
  readonly stats: VirtioBlkStats = { reads: 0, writes: 0, flushes: 0, ioErrors: 0, unsupported: 0 };
  private readonly disk: BlockDevice;
  private readonly config = new Uint8Array(BLK_CFG_SIZE);
  private readonly id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  private readonly flushEachWrite: boolean;
  private readonly ignoreFlush: boolean;
  private readonly capacitySectors: number;
  private ctx: VirtioContext | null = null;
  private zeros: Uint8Array | null = null;

  constructor(opts: VirtioBlkOptions) {
    this.disk = opts.device;
    this.readOnly = opts.readOnly === true || opts.device.readOnly;
    const cache = opts.cache ?? 'writeback';
    this.flushEachWrite = cache === 'none' || cache === 'directsync' || cache === 'writethrough';
    this.ignoreFlush = cache === 'unsafe';
    // A partial last sector is not addressable, as with QEMU.
    this.capacitySectors = Math.floor(opts.device.size / VIRTIO_BLK_SECTOR_SIZE);
    let features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
    if (this.readOnly) features |= VIRTIO_BLK_F_RO;
    else features |= VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    this.features = features;

    const c = new DataView(this.config.buffer);
    c.setBigUint64(BLK_CFG_CAPACITY, BigInt(this.capacitySectors), true);
    c.setUint32(BLK_CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2, true); // header and status take two
    c.setUint32(BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE, true);
    c.setUint32(BLK_CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS, true);
    c.setUint32(BLK_CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG, true);
    c.setUint32(BLK_CFG_DISCARD_SECTOR_ALIGNMENT, 1, true);
    c.setUint32(BLK_CFG_MAX_WRITE_ZEROES_SECTORS, BLK_MAX_DISCARD_SECTORS, true);
    c.setUint32(BLK_CFG_MAX_WRITE_ZEROES_SEG, BLK_MAX_DISCARD_SEG, true);
    c.setUint8(BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 1);
    this.id.set(new TextEncoder().encode(opts.serial ?? '').subarray(0, VIRTIO_BLK_ID_BYTES));
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return readLe(this.config, offset, size);
  }

  writeConfig(): void {
    // Nothing is writable without VIRTIO_BLK_F_CONFIG_WCE.
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  reset(): void {
    this.ctx = null;
  }

  /** The device owns its BlockDevice: closing it closes the image (and its lock). */
  close(): void {
    this.ctx = null;
    this.disk.close();
  }

  processQueue(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queues[index];
    if (!ctx || !q || index !== 0) return;
    let done = 0;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      q.pushUsed(chain, this.serve(chain));
      // Signal in batches so a long queue does not raise one interrupt per request.
      if (++done % 32 === 0) ctx.signalQueue(index);
    }
    ctx.signalQueue(index);
  }

  /** Serves one request; returns the bytes written into the chain (data + status). */
  private serve(chain: DescriptorChain): number {
    // §5.2.6: a request without its header or status byte is a broken driver.
    if (chain.readableBytes < HEADER_BYTES || chain.writableBytes < 1) {
      throw new VirtqueueError(`virtio-blk: request without header or status byte (head ${chain.head})`);
    }
    const header = new Uint8Array(HEADER_BYTES);
    chain.readInto(0, header);
    const h = new DataView(header.buffer);
    const type = h.getUint32(0, true);
    const sector = h.getBigUint64(8, true);
    const statusAt = chain.writableBytes - 1;
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    switch (type) {
      case VIRTIO_BLK_T_IN:
        written = statusAt;
        status = this.transfer(chain, sector, false);
        break;
      case VIRTIO_BLK_T_OUT:
        status = this.transfer(chain, sector, true);
        break;
      case VIRTIO_BLK_T_FLUSH:
        status = this.io(() => {
          this.stats.flushes++;
          if (!this.ignoreFlush) this.disk.flush();
        });
        break;
      case VIRTIO_BLK_T_GET_ID: {
        // §5.2.6.1: up to 20 bytes, NUL-padded, not necessarily terminated.
        const n = Math.min(statusAt, VIRTIO_BLK_ID_BYTES);
        chain.writeFrom(0, this.id.subarray(0, n));
        written = n;
        break;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        status = this.readOnly ? VIRTIO_BLK_S_IOERR : this.discardOrZero(chain, type === VIRTIO_BLK_T_WRITE_ZEROES);
        break;
      default:
        this.stats.unsupported++;
        status = VIRTIO_BLK_S_UNSUPP;
    }
    if (status === VIRTIO_BLK_S_IOERR) this.stats.ioErrors++;
    chain.writeFrom(statusAt, Uint8Array.of(status));
    return written + 1;
  }

  /** Runs BlockDevice work; its exceptions are the disk's I/O errors, not the guest's. */
  private io(work: () => void): number {
    try {
      work();
      return VIRTIO_BLK_S_OK;
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
  }

  /** Byte range of [sector, sector+len/512) when it lies on the disk, else null. */
  private range(sector: bigint, lenBytes: number): number | null {
    if (lenBytes % VIRTIO_BLK_SECTOR_SIZE !== 0) return null;
    const sectors = BigInt(lenBytes / VIRTIO_BLK_SECTOR_SIZE);
    // checked: the request stays inside the disk (§5.2.6.2: IOERR otherwise).
    if (sector > BigInt(this.capacitySectors) || sector + sectors > BigInt(this.capacitySectors)) return null;
    return Number(sector) * VIRTIO_BLK_SECTOR_SIZE;
  }

  private transfer(chain: DescriptorChain, sector: bigint, write: boolean): number {
    if (write && this.readOnly) return VIRTIO_BLK_S_IOERR; // §5.2.6.2: and no data is written
    const len = write ? chain.readableBytes - HEADER_BYTES : chain.writableBytes - 1;
    const offset = this.range(sector, len);
    if (offset === null) return VIRTIO_BLK_S_IOERR;
    const parts = write ? chain.readableViews(HEADER_BYTES, len) : chain.writableViews(0, len);
    return this.io(() => {
      let at = offset;
      for (const p of parts) {
        if (write) this.disk.write(at, p);
        else this.disk.read(at, p);
        at += p.length;
      }
      if (write) {
        this.stats.writes++;
        if (this.flushEachWrite) this.disk.flush();
      } else this.stats.reads++;
    });
  }

  /** §5.2.6: DISCARD and WRITE_ZEROES carry virtio_blk_discard_write_zeroes segments. */
  private discardOrZero(chain: DescriptorChain, zero: boolean): number {
    const bytes = chain.readableBytes - HEADER_BYTES;
    if (bytes === 0 || bytes % SEGMENT_BYTES !== 0 || bytes / SEGMENT_BYTES > BLK_MAX_DISCARD_SEG) return VIRTIO_BLK_S_UNSUPP;
    const segs = new Uint8Array(bytes);
    chain.readInto(HEADER_BYTES, segs);
    const v = new DataView(segs.buffer);
    const ranges: Array<[number, number, boolean]> = [];
    for (let i = 0; i < bytes; i += SEGMENT_BYTES) {
      const sector = v.getBigUint64(i, true);
      const sectors = v.getUint32(i + 8, true);
      const flags = v.getUint32(i + 12, true);
      // §5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP; too large is IOERR.
      if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP || (!zero && flags !== 0)) return VIRTIO_BLK_S_UNSUPP;
      if (sectors > BLK_MAX_DISCARD_SECTORS) return VIRTIO_BLK_S_IOERR;
      const offset = this.range(sector, sectors * VIRTIO_BLK_SECTOR_SIZE);
      if (offset === null) return VIRTIO_BLK_S_IOERR;
      ranges.push([offset, sectors * VIRTIO_BLK_SECTOR_SIZE, (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0]);
    }
    return this.io(() => {
      for (const [offset, len, unmap] of ranges) {
        // BlockDevice.discard guarantees zeros on read, so it serves both commands
        // when the driver allows unmapping.
        if (!zero || unmap) this.disk.discard(offset, len);
        else this.writeZeros(offset, len);
      }
      this.stats.writes++;
      if (this.flushEachWrite) this.disk.flush();
    });
  }

  private writeZeros(offset: number, len: number): void {
    this.zeros ??= new Uint8Array(ZERO_CHUNK_BYTES);
    for (let done = 0; done < len; done += ZERO_CHUNK_BYTES) {
      this.disk.write(offset + done, this.zeros.subarray(0, Math.min(ZERO_CHUNK_BYTES, len - done)));
    }
  }
}
