// Guest-to-host cluster mapping (qcow2.txt "Cluster mapping"): the L1 table (kept in
// memory, dirty entries written on flush) and L2 tables (through a write-back cache).
// Every L1/L2 entry read from the image is checked (alignment, inside the file) before
// it is followed. Ordering: a new L2 table is written (zeros) before any L1 entry points
// at it; dirty L2 tables are written only after the refcounts they depend on (the cache's
// beforeWriteback); dirty L1 entries only after the L2 tables.
// Leaves out: extended L2 entries (subclusters) and shared (non-COPIED) L2 tables, which
// only internal snapshots create: writing through one is "not supported yet".
import { TsvirtError } from '../../lib/errors.js';
import type { ImageFile } from '../image-file.js';
import { OFF_L1_SIZE, QCOW_MAX_L1_SIZE, corrupt } from './header.js';
import type { Refcounts } from './refcount.js';
import { TableCache } from './table-cache.js';

// L1/L2 entry bits, split into the high and low 32-bit words.
export const QCOW_OFLAG_COPIED_HI = 0x80000000; // bit 63
export const QCOW_OFLAG_COMPRESSED_HI = 0x40000000; // bit 62
export const QCOW_OFLAG_ZERO_LO = 0x1; // bit 0 (version 3)
const OFFSET_MASK_HI = 0x00ffffff; // bits 32..55
const OFFSET_MASK_LO = 0xfffffe00; // bits 9..31

export const enum ClusterKind { Unallocated, Zero, ZeroAllocated, Normal, Compressed }

export function entryOffset(hi: number, lo: number): number {
  return (hi & OFFSET_MASK_HI) * 2 ** 32 + ((lo & OFFSET_MASK_LO) >>> 0);
}

export function classify(hi: number, lo: number, version: number): ClusterKind {
  if (hi & QCOW_OFLAG_COMPRESSED_HI) return ClusterKind.Compressed;
  const off = entryOffset(hi, lo);
  if (version >= 3 && lo & QCOW_OFLAG_ZERO_LO) return off === 0 ? ClusterKind.Zero : ClusterKind.ZeroAllocated;
  return off === 0 ? ClusterKind.Unallocated : ClusterKind.Normal;
}

export class ClusterMap {
  readonly l2Entries: number;
  readonly cache: TableCache;
  l1: Buffer;
  l1Size: number;
  l1Offset: number;
  private readonly clusterSize: number;
  private dirtyL1Lo = Infinity;
  private dirtyL1Hi = -1;

  constructor(
    private readonly file: ImageFile,
    private readonly path: string,
    private readonly clusterBits: number,
    l1Offset: number,
    l1Size: number,
    private readonly refcounts: Refcounts | undefined,
    cacheTables: number,
    beforeL2Writeback: () => void,
    /** Hostile-image guard: throws if [off, off+len) overlaps the header, L1 or refcount table. */
    private readonly overlapCheck: (off: number, len: number, what: string) => void = () => {},
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.l1Size = l1Size;
    this.l1Offset = l1Offset;
    this.l1 = Buffer.alloc(l1Size * 8);
    if (l1Size > 0) file.readAt(this.l1, l1Offset);
    this.cache = new TableCache(file, this.clusterSize, cacheTables, beforeL2Writeback, (off) => this.checkL2Offset(off));
  }

  private checkL2Offset(off: number): void {
    if (off % this.clusterSize !== 0) throw corrupt(this.path, `L2 table offset ${off} is not cluster-aligned`);
    if (off >= this.file.sizeBytes) throw corrupt(this.path, `L2 table at offset ${off} lies beyond the end of the file (${this.file.sizeBytes} bytes)`);
    this.overlapCheck(off, this.clusterSize, 'an L2 table');
  }

  /** Host offset of the L2 table for L1 index i (0 if none) and whether it is COPIED. */
  l2Offset(i: number): number {
    if (i >= this.l1Size) return 0;
    return entryOffset(this.l1.readUInt32BE(i * 8), this.l1.readUInt32BE(i * 8 + 4));
  }

  private l1Copied(i: number): boolean {
    return (this.l1.readUInt32BE(i * 8) & QCOW_OFLAG_COPIED_HI) !== 0;
  }

  /** The L2 table holding guest cluster gc, or undefined if it has none. */
  tableFor(gc: number): Buffer | undefined {
    const off = this.l2Offset(Math.floor(gc / this.l2Entries));
    return off === 0 ? undefined : this.cache.get(off);
  }

  /** Ensures guest cluster gc has an L2 table it may modify; returns the table's offset. */
  ensureL2(gc: number): number {
    const i = Math.floor(gc / this.l2Entries);
    if (i >= this.l1Size) throw new RangeError(`guest cluster ${gc} is beyond the L1 table`);
    const existing = this.l2Offset(i);
    if (existing !== 0) {
      if (!this.l1Copied(i)) throw new TsvirtError(`${this.path}: writing to an L2 table shared with an internal snapshot is not supported yet`, 'delete the snapshots or convert the image');
      return existing;
    }
    if (!this.refcounts) throw new Error('qcow2: allocation on a read-only image');
    const off = this.refcounts.allocate(1);
    const table = Buffer.alloc(this.clusterSize);
    // The table's contents reach the file before any L1 entry can point at it.
    this.file.writeAt(table, off);
    this.cache.install(off, table, false);
    this.l1.writeUInt32BE((QCOW_OFLAG_COPIED_HI | Math.floor(off / 2 ** 32)) >>> 0, i * 8);
    this.l1.writeUInt32BE(off % 2 ** 32, i * 8 + 4);
    this.dirtyL1Lo = Math.min(this.dirtyL1Lo, i);
    this.dirtyL1Hi = Math.max(this.dirtyL1Hi, i);
    return off;
  }

  get l1Dirty(): boolean {
    return this.dirtyL1Hi >= 0;
  }

  /** Writes the dirty L1 entries (the caller has written the L2 tables and synced). */
  flushL1(): boolean {
    if (this.dirtyL1Hi < 0) return false;
    const lo = this.dirtyL1Lo * 8;
    const hi = (this.dirtyL1Hi + 1) * 8;
    this.file.writeAt(this.l1.subarray(lo, hi), this.l1Offset + lo);
    this.dirtyL1Lo = Infinity;
    this.dirtyL1Hi = -1;
    return true;
  }

  /**
   * Grows the L1 table to `entries`: the new table is written in full, then the header is
   * switched to it (one 12-byte write of l1_size and l1_table_offset), then the old one
   * freed. `flushMetadata` writes everything the current L1 depends on first.
   */
  grow(entries: number, flushMetadata: () => void): void {
    if (entries <= this.l1Size) return;
    if (entries * 8 > QCOW_MAX_L1_SIZE) throw new TsvirtError(`${this.path}: the L1 table would exceed ${QCOW_MAX_L1_SIZE} bytes`, 'use a larger cluster size for an image this large');
    if (!this.refcounts) throw new Error('qcow2: growing a read-only image');
    flushMetadata();
    this.flushL1();
    const clusters = Math.ceil((entries * 8) / this.clusterSize);
    const newOffset = this.refcounts.allocate(clusters);
    if (this.refcounts.flush()) this.file.sync();
    const table = Buffer.alloc(clusters * this.clusterSize);
    this.l1.copy(table);
    this.file.writeAt(table, newOffset);
    this.file.sync();
    const hdr = Buffer.alloc(12);
    hdr.writeUInt32BE(entries, 0);
    hdr.writeBigUInt64BE(BigInt(newOffset), 4);
    this.file.writeAt(hdr, OFF_L1_SIZE);
    this.file.sync();
    const oldOffset = this.l1Offset;
    const oldClusters = Math.ceil((this.l1Size * 8) / this.clusterSize);
    this.l1 = table.subarray(0, entries * 8);
    this.l1Size = entries;
    this.l1Offset = newOffset;
    for (let c = 0; c < oldClusters; c++) this.refcounts.decrement(oldOffset / this.clusterSize + c);
  }
}
