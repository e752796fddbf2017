// Host cluster reference counts (qcow2.txt "Host cluster management"): a refcount table
// of refcount block offsets, each block an array of refcount_bits-wide counts (any
// refcount_order 0..6; widths below a byte are packed least-significant first, as QEMU
// does). Allocation, refcount blocks and growth of the refcount table live here.
//
// Crash-safety ordering (what `qemu-img check` may call a leak but never corruption):
//  - a new refcount block is written, with the count that covers itself, before the
//    table entry that points at it; the table entry is written at once;
//  - increments for new clusters stay in the write-back cache and the owner flushes them
//    (and fdatasyncs) before any L2/L1 entry pointing at those clusters is written;
//  - the owner applies decrements only after the entries that referenced the cluster
//    are gone from the file;
//  - a grown table is written in full, then the header switched to it, then the old
//    table freed.
// Leaves out: refcount overflow handling beyond refusing (internal snapshots are what
// make counts exceed 1, and tsvirt does not create them).
import assert from 'node:assert/strict';
import type { ImageFile } from '../image-file.js';
import { TsvirtError } from '../../lib/errors.js';
import { OFF_REFCOUNT_TABLE_OFFSET, QCOW_MAX_REFTABLE_SIZE, corrupt } from './header.js';
import { TableCache } from './table-cache.js';

/** Mask for the offset bits of a refcount table entry (bits 9-63; 0-8 reserved). */
const REFT_OFFSET_MASK_LO = 0xfffffe00;

export class Refcounts {
  readonly bits: number;
  readonly entriesPerBlock: number;
  readonly maxValue: number;
  readonly cache: TableCache;
  private readonly clusterSize: number;
  private table: Buffer;
  private tableEntries: number;
  tableOffset: number;
  tableClusters: number;
  /** Lowest cluster index that may be free. */
  private freeHint = 0;
  /**
   * Ranges [start, end) claimed by allocations still setting their counts. Setting a count
   * can create refcount blocks and grow the table, which frees the old table's clusters and
   * so lowers the free hint below a claimed range: without this, a refcount block could be
   * placed inside a range whose counts are not set yet, and two owners would share it.
   */
  private readonly claimed: Array<[number, number]> = [];
  private deferTableWrites = false;
  private growing = false;

  constructor(
    private readonly file: ImageFile,
    private readonly path: string,
    private readonly clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
    cacheTables: number,
    /** Hostile-image guard: throws if [off, off+len) overlaps the header, L1 or refcount table. */
    private readonly overlapCheck: (off: number, len: number, what: string) => void = () => {},
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.bits = 2 ** refcountOrder;
    this.entriesPerBlock = (this.clusterSize * 8) / this.bits;
    this.maxValue = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.table = Buffer.alloc(tableClusters * this.clusterSize);
    file.readAt(this.table, tableOffset);
    this.tableEntries = this.table.length / 8;
    this.cache = new TableCache(file, this.clusterSize, cacheTables, () => {}, (off) => this.checkBlockOffset(off));
  }

  /** Host offset of refcount block `index`, 0 if none. Hostile: checked before use. */
  blockOffset(index: number): number {
    if (index >= this.tableEntries) return 0;
    const hi = this.table.readUInt32BE(index * 8);
    const lo = this.table.readUInt32BE(index * 8 + 4);
    return hi * 2 ** 32 + ((lo & REFT_OFFSET_MASK_LO) >>> 0);
  }

  /** Bits 0-8 of refcount table entry `index`, reserved by qcow2.txt (nonzero is damage). */
  tableEntryReservedBits(index: number): number {
    if (index >= this.tableEntries) return 0;
    return this.table.readUInt32BE(index * 8 + 4) & ~REFT_OFFSET_MASK_LO;
  }

  get tableLength(): number {
    return this.tableEntries;
  }

  private checkBlockOffset(off: number): void {
    if (off % this.clusterSize !== 0) throw corrupt(this.path, `refcount block offset ${off} is not cluster-aligned`);
    if (off + this.clusterSize > this.file.sizeBytes) throw corrupt(this.path, `refcount block at offset ${off} lies beyond the end of the file`);
    this.overlapCheck(off, this.clusterSize, 'a refcount block');
  }

  get(cluster: number): number {
    const off = this.blockOffset(Math.floor(cluster / this.entriesPerBlock));
    if (off === 0) return 0;
    return this.readEntry(this.cache.get(off), cluster % this.entriesPerBlock);
  }

  set(cluster: number, value: number): void {
    if (value > this.maxValue) throw new TsvirtError(`${this.path}: refcount of cluster ${cluster} would overflow ${this.bits} bits`, 'convert the image with a larger refcount_bits');
    const index = Math.floor(cluster / this.entriesPerBlock);
    const off = this.ensureBlock(index);
    this.writeEntry(this.cache.get(off), cluster % this.entriesPerBlock, value);
    this.cache.markDirty(off);
    if (value === 0 && cluster < this.freeHint) this.freeHint = cluster;
  }

  decrement(cluster: number): void {
    const v = this.get(cluster);
    if (v === 0) throw corrupt(this.path, `freeing cluster ${cluster} whose refcount is already 0`);
    this.set(cluster, v - 1);
  }

  /**
   * Finds `count` contiguous free clusters at or after the hint, without claiming them.
   * Also returns the first free cluster seen (below `start` when a smaller gap exists).
   */
  private findFree(count: number): { start: number; firstFree: number } {
    let start = this.freeHint;
    let firstFree = -1;
    for (let i = 0; i < count; i++) {
      const claim = this.claimed.find(([a, b]) => start + i >= a && start + i < b);
      if (claim) {
        start = claim[1];
        i = -1;
      } else if (this.get(start + i) !== 0) {
        start = start + i + 1;
        i = -1;
      } else if (firstFree < 0) {
        firstFree = start + i;
      }
    }
    return { start, firstFree: firstFree < 0 ? start : firstFree };
  }

  /** Allocates `count` contiguous clusters with refcount 1; returns the first's host offset. */
  allocate(count: number): number {
    const { start, firstFree } = this.findFree(count);
    if ((start + count) * this.clusterSize > Number.MAX_SAFE_INTEGER) throw new TsvirtError(`${this.path}: image file would grow beyond the supported size`, 'use a larger cluster size or a smaller image');
    // Claim the range before setting counts, so refcount blocks created while setting
    // them are placed outside it.
    this.freeHint = start + count;
    const claim: [number, number] = [start, start + count];
    this.claimed.push(claim);
    try {
      for (let i = 0; i < count; i++) this.set(start + i, 1);
    } finally {
      this.claimed.splice(this.claimed.indexOf(claim), 1);
    }
    if (firstFree < start && firstFree < this.freeHint) this.freeHint = firstFree;
    return start * this.clusterSize;
  }

  /** Returns the offset of refcount block `index`, creating it (and growing the table) if needed. */
  private ensureBlock(index: number): number {
    if (index >= this.tableEntries) this.growTable(index + 1);
    const existing = this.blockOffset(index);
    if (existing !== 0) return existing;
    const c = this.findFree(1).start;
    this.freeHint = Math.max(this.freeHint, c + 1);
    const buf = Buffer.alloc(this.clusterSize);
    if (Math.floor(c / this.entriesPerBlock) === index) {
      // The new block describes its own cluster.
      this.writeEntry(buf, c % this.entriesPerBlock, 1);
    } else {
      const claim: [number, number] = [c, c + 1];
      this.claimed.push(claim);
      try {
        this.set(c, 1);
      } finally {
        this.claimed.splice(this.claimed.indexOf(claim), 1);
      }
      // The count for the block's cluster must be in the file before anything points at it.
      this.cache.flush();
      this.file.sync();
    }
    this.file.writeAt(buf, c * this.clusterSize);
    this.cache.install(c * this.clusterSize, buf, false);
    this.setTableEntry(index, c * this.clusterSize);
    return c * this.clusterSize;
  }

  private setTableEntry(index: number, offset: number): void {
    this.table.writeUInt32BE(Math.floor(offset / 2 ** 32), index * 8);
    this.table.writeUInt32BE(offset % 2 ** 32, index * 8 + 4);
    if (this.deferTableWrites) return;
    this.file.sync();
    this.file.writeAt(this.table.subarray(index * 8, index * 8 + 8), this.tableOffset + index * 8);
  }

  private growTable(minEntries: number): void {
    // Setting the counts of the new table's clusters must never need a table growth of
    // its own: a nested growth would free the old table and switch the header while this
    // one still holds a stale copy, which it then writes and frees a second time.
    assert(!this.growing, 'refcount table growth re-entered');
    const wanted = Math.max(minEntries + 1, Math.ceil(this.tableEntries * 1.5));
    let newClusters = Math.ceil((wanted * 8) / this.clusterSize) + 1;
    // The new table goes where findFree puts it, which during a large allocation (the L1
    // table of a much larger disk) is past the whole claimed range: it must cover its own
    // clusters and the refcount blocks made for them, placed right after it. (A 512-byte
    // cluster image whose table covered just its 8 MiB, grown to 100 GiB, nested here.)
    for (;;) {
      const at = this.findFree(newClusters).start;
      const lastCluster = at + newClusters + Math.ceil(newClusters / this.entriesPerBlock) + 2;
      const covering = Math.ceil(((Math.floor(lastCluster / this.entriesPerBlock) + 1) * 8) / this.clusterSize);
      if (covering <= newClusters) break;
      newClusters = covering;
    }
    if (newClusters * this.clusterSize > QCOW_MAX_REFTABLE_SIZE) {
      throw new TsvirtError(`${this.path}: the refcount table would exceed ${QCOW_MAX_REFTABLE_SIZE} bytes`, 'use a larger cluster size for an image this large');
    }
    const oldOffset = this.tableOffset;
    const oldClusters = this.tableClusters;
    const newTable = Buffer.alloc(newClusters * this.clusterSize);
    this.table.copy(newTable);
    this.table = newTable;
    this.tableEntries = newTable.length / 8;
    this.deferTableWrites = true;
    this.growing = true;
    let newOffset: number;
    try {
      newOffset = this.allocate(newClusters);
    } finally {
      this.deferTableWrites = false;
      this.growing = false;
    }
    // New blocks and counts first, then the new table, then the header switches to it.
    this.cache.flush();
    this.file.sync();
    this.file.writeAt(newTable, newOffset);
    this.file.sync();
    const hdr = Buffer.alloc(12);
    hdr.writeBigUInt64BE(BigInt(newOffset), 0);
    hdr.writeUInt32BE(newClusters, 8);
    this.file.writeAt(hdr, OFF_REFCOUNT_TABLE_OFFSET);
    this.file.sync();
    this.tableOffset = newOffset;
    this.tableClusters = newClusters;
    for (let i = 0; i < oldClusters; i++) this.decrement(oldOffset / this.clusterSize + i);
  }

  flush(): boolean {
    return this.cache.flush();
  }

  readEntry(block: Buffer, i: number): number {
    switch (this.bits) {
      case 1: return (block[i >> 3] >> (i & 7)) & 1;
      case 2: return (block[i >> 2] >> (2 * (i & 3))) & 3;
      case 4: return (block[i >> 1] >> (4 * (i & 1))) & 15;
      case 8: return block[i];
      case 16: return block.readUInt16BE(i * 2);
      case 32: return block.readUInt32BE(i * 4);
      default: {
        const hi = block.readUInt32BE(i * 8);
        const lo = block.readUInt32BE(i * 8 + 4);
        // No image holds 2^53 references to a cluster: such a count is damage, read as the
        // largest exact value so that check reports it as a leak (what QEMU reports) and
        // a repair can lower it, instead of refusing the whole image.
        if (hi >= 2 ** 21) return Number.MAX_SAFE_INTEGER;
        return hi * 2 ** 32 + lo;
      }
    }
  }

  writeEntry(block: Buffer, i: number, v: number): void {
    switch (this.bits) {
      case 1: block[i >> 3] = (block[i >> 3] & ~(1 << (i & 7))) | (v << (i & 7)); break;
      case 2: block[i >> 2] = (block[i >> 2] & ~(3 << (2 * (i & 3)))) | (v << (2 * (i & 3))); break;
      case 4: block[i >> 1] = (block[i >> 1] & ~(15 << (4 * (i & 1)))) | (v << (4 * (i & 1))); break;
      case 8: block[i] = v; break;
      case 16: block.writeUInt16BE(v, i * 2); break;
      case 32: block.writeUInt32BE(v, i * 4); break;
      default:
        block.writeUInt32BE(Math.floor(v / 2 ** 32), i * 8);
        block.writeUInt32BE(v % 2 ** 32, i * 8 + 4);
    }
  }
}
