// A qcow2 image as a BlockDevice (qcow2.txt; ARCHITECTURE.md "Storage contracts"):
// reads through L1/L2 to data, zero and compressed clusters and the backing chain;
// writes allocate clusters (copy-on-write from the backing file, zero clusters and
// compressed clusters), discard frees them. Metadata is cached write-back and written in
// crash-safe order on flush(): refcount blocks, fdatasync, L2 tables, fdatasync, L1
// entries, fdatasync, then the decrements for clusters no longer referenced. A process
// killed at any point leaves an image whose only damage is leaked clusters.
// Leaves out: writing compressed clusters, internal snapshots (read-only use is fine,
// writing is refused), lazy refcounts (refcounts are always written, so tsvirt never
// sets the dirty bit; an image QEMU left dirty gets its refcounts rebuilt on a writable
// open, as QEMU does).
import { TsvirtError } from '../../lib/errors.js';
import type { BlockDevice, BlockStatusRun } from '../block-device.js';
import { ImageFile } from '../image-file.js';
import { ImageLock } from '../image-lock.js';
import { checkRange } from '../range-check.js';
import { ClusterKind, ClusterMap, QCOW_OFLAG_COPIED_HI, QCOW_OFLAG_ZERO_LO, classify, entryOffset } from './cluster-map.js';
import { compressedHostRange, decodeCompressed, readCompressedCluster } from './compressed.js';
import {
  INCOMPAT_CORRUPT, INCOMPAT_DIRTY, OFF_AUTOCLEAR_FEATURES, OFF_SIZE, type Qcow2Header,
  corrupt, l1EntriesFor, parseHeader,
} from './header.js';
import { checkQcow2 } from './check.js';
import { Refcounts } from './refcount.js';

/** Metadata cache budgets, in bytes (QEMU's defaults are of the same order). */
const L2_CACHE_BYTES = 32 * 1024 * 1024;
const REFCOUNT_CACHE_BYTES = 4 * 1024 * 1024;

export interface Qcow2OpenOptions {
  readOnly: boolean;
  noLock?: boolean;
  /** Opens the backing file of this image; supplied by openImage (keeps the chain logic there). */
  openBacking?: (image: Qcow2Image) => BlockDevice | undefined;
}

export class Qcow2Image implements BlockDevice {
  readonly format = 'qcow2';
  readonly header: Qcow2Header;
  readonly clusterSize: number;
  readonly map: ClusterMap;
  readonly refcounts: Refcounts | undefined;
  backing: BlockDevice | undefined;
  private sizeBytes: number;
  private readonly clusterBits: number;
  private pendingFrees: number[] = [];
  private closed = false;
  private lastCompressed = { hostOffset: -1, data: new Uint8Array(0) };

  private constructor(readonly file: ImageFile, readonly path: string, header: Qcow2Header, private readonly lock: ImageLock | undefined) {
    this.header = header;
    this.clusterBits = header.clusterBits;
    this.clusterSize = 2 ** header.clusterBits;
    this.sizeBytes = header.size;
    const tables = (bytes: number): number => Math.max(16, Math.floor(bytes / this.clusterSize));
    if (!file.readOnly) {
      this.refcounts = new Refcounts(file, path, header.clusterBits, header.refcountOrder, header.refcountTableOffset, header.refcountTableClusters, tables(REFCOUNT_CACHE_BYTES),
        (off, len, what) => this.checkOverlap(off, len, what));
    }
    this.map = new ClusterMap(file, path, header.clusterBits, header.l1TableOffset, header.l1Size, this.refcounts, tables(L2_CACHE_BYTES), () => {
      // An L2 table may point at clusters whose refcounts are still only in memory.
      if (this.refcounts?.flush()) this.file.sync();
    }, (off, len, what) => this.checkOverlap(off, len, what));
  }

  /**
   * Like QEMU's metadata overlap checks (qcow2_check_metadata_overlap, the cheap part): a
   * cluster an image points at for data or tables must not be the header, the L1 table or
   * the refcount table, or a write through it would overwrite them.
   */
  checkOverlap(off: number, len: number, what: string): void {
    const cs = this.clusterSize;
    const l1Bytes = Math.ceil((this.map ? this.map.l1Size * 8 : this.header.l1Size * 8) / cs) * cs;
    const l1Off = this.map ? this.map.l1Offset : this.header.l1TableOffset;
    const reftOff = this.refcounts ? this.refcounts.tableOffset : this.header.refcountTableOffset;
    const reftBytes = (this.refcounts ? this.refcounts.tableClusters : this.header.refcountTableClusters) * cs;
    const hit = (a: number, alen: number): boolean => alen > 0 && off < a + alen && a < off + len;
    const region = hit(0, cs) ? 'the header' : hit(l1Off, l1Bytes) ? 'the L1 table' : hit(reftOff, reftBytes) ? 'the refcount table' : undefined;
    if (region) throw corrupt(this.path, `${what} at offset ${off} overlaps ${region}`);
  }

  static open(path: string, opts: Qcow2OpenOptions, repaired = false): Qcow2Image {
    const file = ImageFile.open(path, opts.readOnly);
    let img: Qcow2Image | undefined;
    let lock: ImageLock | undefined;
    try {
      lock = opts.noLock ? undefined : ImageLock.acquire(file.fd, path, opts.readOnly ? 'shared' : 'exclusive');
      const head = new Uint8Array(Math.min(file.sizeBytes, 2 * 1024 * 1024));
      file.readAt(head, 0);
      const header = parseHeader(head, file.sizeBytes, path);
      if (!opts.readOnly && header.incompatibleFeatures & INCOMPAT_DIRTY && !repaired) {
        // Left dirty by a writer using lazy refcounts: rebuild the refcounts first, as
        // QEMU does when it opens such an image for writing (qcow2.txt "dirty bit").
        lock?.release();
        file.close();
        lock = undefined;
        checkQcow2(path, { repair: 'all' });
        return Qcow2Image.open(path, opts, true);
      }
      if (!opts.readOnly) Qcow2Image.checkWritable(path, header);
      img = new Qcow2Image(file, path, header, lock);
      if (!opts.readOnly) img.clearAutoclear();
      img.backing = opts.openBacking?.(img);
      return img;
    } catch (err) {
      lock?.release();
      file.close();
      throw err;
    }
  }

  private static checkWritable(path: string, h: Qcow2Header): void {
    if (h.incompatibleFeatures & INCOMPAT_CORRUPT) throw new TsvirtError(`${path}: qcow2 image is marked corrupt and can only be opened read-only`, 'repair it with `qemu-img check -r all` or copy the data out with `tsvirt img convert`');
    if (h.incompatibleFeatures & INCOMPAT_DIRTY) throw new TsvirtError(`${path}: qcow2 image still has the dirty flag set after repairing its refcounts`, 'run `tsvirt img check -r all` to see what is wrong');
    if (h.nbSnapshots > 0) throw new TsvirtError(`${path}: writing to qcow2 images with internal snapshots is not supported yet`, 'open it read-only, or delete the snapshots with qemu-img snapshot -d');
    if (h.version === 2 && h.refcountOrder !== 4) throw corrupt(path, 'version 2 images must use 16-bit refcounts');
  }

  /** qcow2.txt autoclear_features: a writer that does not maintain these bits clears them. */
  private clearAutoclear(): void {
    if (this.header.version < 3 || this.header.autoclearFeatures === 0n) return;
    const b = Buffer.alloc(8);
    this.file.writeAt(b, OFF_AUTOCLEAR_FEATURES);
    this.file.sync();
    this.header.autoclearFeatures = 0n;
  }

  get size(): number {
    return this.sizeBytes;
  }

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  get version(): number {
    return this.header.version;
  }

  /** The L2 entry for guest cluster gc as [hi, lo] words (0,0 when the L1 entry is empty). */
  private entry(gc: number): [number, number] {
    const t = this.map.tableFor(gc);
    if (!t) return [0, 0];
    const i = (gc % this.map.l2Entries) * 8;
    return [t.readUInt32BE(i), t.readUInt32BE(i + 4)];
  }

  /**
   * The kind of guest cluster gc's entry, refusing what qemu refuses on read: the zero flag
   * in a version 2 image (the bit is reserved there) and a zero cluster whose kept host
   * offset is not cluster-aligned.
   */
  private kindOf(hi: number, lo: number, gc: number): ClusterKind {
    if (this.header.version < 3 && lo & QCOW_OFLAG_ZERO_LO) throw corrupt(this.path, `L2 entry of guest cluster ${gc} has the zero flag, which a version 2 image may not use`);
    const kind = classify(hi, lo, this.header.version);
    if (kind === ClusterKind.ZeroAllocated && entryOffset(hi, lo) % this.clusterSize !== 0) {
      throw corrupt(this.path, `L2 entry of guest cluster ${gc} has unaligned offset ${entryOffset(hi, lo)}`);
    }
    return kind;
  }

  /** Hostile: a data cluster offset is checked before it is read or written. */
  private dataOffset(hi: number, lo: number, gc: number): number {
    const off = entryOffset(hi, lo);
    if (off % this.clusterSize !== 0) throw corrupt(this.path, `L2 entry of guest cluster ${gc} has unaligned offset ${off}`);
    if (off >= this.file.sizeBytes) throw corrupt(this.path, `guest cluster ${gc} maps to offset ${off}, beyond the end of the file (${this.file.sizeBytes} bytes)`);
    this.checkOverlap(off, this.clusterSize, `the data cluster of guest cluster ${gc}`);
    return off;
  }

  read(offset: number, buf: Uint8Array): void {
    this.assertOpen();
    checkRange('read', offset, buf.length, this.sizeBytes);
    const cs = this.clusterSize;
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const gc = Math.floor(pos / cs);
      const inCluster = pos - gc * cs;
      const [hi, lo] = this.entry(gc);
      const kind = this.kindOf(hi, lo, gc);
      let len = Math.min(cs - inCluster, buf.length - done);
      switch (kind) {
        case ClusterKind.Normal: {
          const host = this.dataOffset(hi, lo, gc);
          // Extend over following clusters that are contiguous in the file.
          let next = gc + 1;
          while (done + len < buf.length) {
            const [nh, nl] = this.entry(next);
            if (classify(nh, nl, this.header.version) !== ClusterKind.Normal || entryOffset(nh, nl) !== host + (next - gc) * cs) break;
            this.dataOffset(nh, nl, next);
            len += Math.min(cs, buf.length - done - len);
            next++;
          }
          this.file.readAt(buf.subarray(done, done + len), host + inCluster);
          break;
        }
        case ClusterKind.Unallocated: {
          let next = gc + 1;
          while (done + len < buf.length) {
            const [nh, nl] = this.entry(next);
            if (this.kindOf(nh, nl, next) !== ClusterKind.Unallocated) break;
            len += Math.min(cs, buf.length - done - len);
            next++;
          }
          this.readBacking(pos, buf.subarray(done, done + len));
          break;
        }
        case ClusterKind.Zero:
        case ClusterKind.ZeroAllocated:
          buf.fill(0, done, done + len);
          break;
        case ClusterKind.Compressed:
          buf.set(this.compressedCluster(hi, lo).subarray(inCluster, inCluster + len), done);
          break;
      }
      done += len;
    }
  }

  private readBacking(pos: number, out: Uint8Array): void {
    const b = this.backing;
    const fromBacking = b ? Math.max(0, Math.min(out.length, b.size - pos)) : 0;
    if (fromBacking > 0) b!.read(pos, out.subarray(0, fromBacking));
    if (fromBacking < out.length) out.fill(0, fromBacking);
  }

  private compressedCluster(hi: number, lo: number): Uint8Array {
    const d = decodeCompressed(hi, lo, this.clusterBits);
    if (this.lastCompressed.hostOffset !== d.hostOffset) {
      const data = new Uint8Array(this.clusterSize);
      readCompressedCluster(this.file, this.path, d, data);
      this.lastCompressed = { hostOffset: d.hostOffset, data };
    }
    return this.lastCompressed.data;
  }

  /** The current contents of guest cluster gc (for copy-on-write of partial writes). */
  private readCluster(gc: number, out: Uint8Array): void {
    const start = gc * this.clusterSize;
    const len = Math.min(this.clusterSize, this.sizeBytes - start);
    if (len < this.clusterSize) out.fill(0, Math.max(0, len));
    if (len > 0) this.read(start, out.subarray(0, len));
  }

  /** Whether guest cluster gc currently reads as all zeros without looking at data. */
  private readsAsZeros(gc: number): boolean {
    const [hi, lo] = this.entry(gc);
    const k = classify(hi, lo, this.header.version);
    return k === ClusterKind.Zero || k === ClusterKind.ZeroAllocated || (k === ClusterKind.Unallocated && (!this.backing || gc * this.clusterSize >= this.backing.size));
  }

  /** Queues the host clusters an old L2 entry referenced; freed after the new entries are on disk. */
  private releaseEntry(hi: number, lo: number): void {
    const kind = classify(hi, lo, this.header.version);
    if (kind === ClusterKind.Normal || kind === ClusterKind.ZeroAllocated) {
      this.pendingFrees.push(entryOffset(hi, lo) / this.clusterSize);
    } else if (kind === ClusterKind.Compressed) {
      const r = compressedHostRange(decodeCompressed(hi, lo, this.clusterBits));
      const first = Math.floor(r.start / this.clusterSize);
      const last = Math.floor((r.start + r.len - 1) / this.clusterSize);
      for (let c = first; c <= last; c++) this.pendingFrees.push(c);
      this.lastCompressed.hostOffset = -1;
    }
  }

  write(offset: number, buf: Uint8Array): void {
    this.assertWritable();
    checkRange('write', offset, buf.length, this.sizeBytes);
    const cs = this.clusterSize;
    const version = this.header.version;
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const gc = Math.floor(pos / cs);
      const inCluster = pos - gc * cs;
      const l2Off = this.map.ensureL2(gc);
      const l2End = (Math.floor(gc / this.map.l2Entries) + 1) * this.map.l2Entries; // first cluster of the next L2 table
      const [hi, lo] = this.entry(gc);
      const kind = classify(hi, lo, version);
      const copied = (hi & QCOW_OFLAG_COPIED_HI) !== 0;
      if (kind === ClusterKind.Normal && copied) {
        // In place, extended over host-contiguous COPIED clusters.
        const host = this.dataOffset(hi, lo, gc);
        let len = Math.min(cs - inCluster, buf.length - done);
        let next = gc + 1;
        while (done + len < buf.length && next < l2End) {
          const [nh, nl] = this.entry(next);
          if (classify(nh, nl, version) !== ClusterKind.Normal || !(nh & QCOW_OFLAG_COPIED_HI) || entryOffset(nh, nl) !== host + (next - gc) * cs) break;
          this.dataOffset(nh, nl, next);
          len += Math.min(cs, buf.length - done - len);
          next++;
        }
        this.file.writeAt(buf.subarray(done, done + len), host + inCluster);
        done += len;
        continue;
      }
      if (kind === ClusterKind.ZeroAllocated && copied) {
        // The cluster is ours but reads as zeros: write it whole, then drop the zero flag.
        const host = this.dataOffset(hi, lo, gc);
        const len = Math.min(cs - inCluster, buf.length - done);
        if (len === cs) {
          this.file.writeAt(buf.subarray(done, done + len), host);
        } else {
          const whole = Buffer.alloc(cs);
          whole.set(buf.subarray(done, done + len), inCluster);
          this.file.writeAt(whole, host);
        }
        const t = this.map.cache.get(l2Off);
        t.writeUInt32BE((lo & ~QCOW_OFLAG_ZERO_LO) >>> 0, (gc % this.map.l2Entries) * 8 + 4);
        this.map.cache.markDirty(l2Off);
        done += len;
        continue;
      }
      // Allocate a run of new clusters for everything up to the next in-place cluster.
      let n = 1;
      while (n < l2End - gc && (gc + n) * cs < offset + buf.length) {
        const [nh, nl] = this.entry(gc + n);
        const nk = classify(nh, nl, version);
        if ((nk === ClusterKind.Normal || nk === ClusterKind.ZeroAllocated) && nh & QCOW_OFLAG_COPIED_HI) break;
        n++;
      }
      const runEnd = Math.min(offset + buf.length, (gc + n) * cs);
      const len = runEnd - pos;
      const host = this.refcounts!.allocate(n);
      const alignedStart = inCluster === 0;
      const alignedEnd = runEnd === (gc + n) * cs;
      if (alignedStart && alignedEnd) {
        this.file.writeAt(buf.subarray(done, done + len), host);
      } else if (host >= this.file.sizeBytes && (alignedStart || this.readsAsZeros(gc)) && (alignedEnd || this.readsAsZeros(gc + n - 1))) {
        // Fresh space past EOF already reads as zeros: extend the file instead of writing
        // the zero-filled head and tail (what QEMU does with write_zeroes).
        this.file.truncate(host + n * cs);
        this.file.writeAt(buf.subarray(done, done + len), host + inCluster);
      } else {
        const tmp = Buffer.allocUnsafe(n * cs);
        if (!alignedStart) this.readCluster(gc, tmp.subarray(0, cs));
        const lastStart = (n - 1) * cs;
        if (runEnd < (gc + n) * cs && (n > 1 || alignedStart)) this.readCluster(gc + n - 1, tmp.subarray(lastStart, lastStart + cs));
        tmp.set(buf.subarray(done, done + len), inCluster);
        this.file.writeAt(tmp, host);
      }
      const t = this.map.cache.get(l2Off);
      for (let i = 0; i < n; i++) {
        const at = ((gc + i) % this.map.l2Entries) * 8;
        const oh = t.readUInt32BE(at);
        const ol = t.readUInt32BE(at + 4);
        this.releaseEntry(oh, ol);
        const h = host + i * cs;
        t.writeUInt32BE((QCOW_OFLAG_COPIED_HI | Math.floor(h / 2 ** 32)) >>> 0, at);
        t.writeUInt32BE(h % 2 ** 32, at + 4);
      }
      this.map.cache.markDirty(l2Off);
      done += len;
    }
  }

  discard(offset: number, len: number): void {
    this.assertWritable();
    checkRange('discard', offset, len, this.sizeBytes);
    const cs = this.clusterSize;
    const end = offset + len;
    const firstFull = Math.ceil(offset / cs);
    const lastFull = Math.floor(end / cs); // exclusive
    if (firstFull >= lastFull) {
      this.writeZeros(offset, len);
      return;
    }
    if (offset < firstFull * cs) this.writeZeros(offset, firstFull * cs - offset);
    if (end > lastFull * cs) this.writeZeros(lastFull * cs, end - lastFull * cs);
    // With a backing file the cluster must read as zeros, not as the backing data: v3 has
    // the zero flag for that; v2 has not, so it gets zeros written.
    const needZeroFlag = this.backing !== undefined;
    if (needZeroFlag && this.header.version < 3) {
      this.writeZeros(firstFull * cs, (lastFull - firstFull) * cs);
      return;
    }
    for (let gc = firstFull; gc < lastFull; gc++) {
      const [hi, lo] = this.entry(gc);
      const kind = classify(hi, lo, this.header.version);
      if (kind === ClusterKind.Zero || (kind === ClusterKind.Unallocated && !needZeroFlag)) continue;
      const l2Off = this.map.ensureL2(gc);
      const t = this.map.cache.get(l2Off);
      const at = (gc % this.map.l2Entries) * 8;
      this.releaseEntry(hi, lo);
      t.writeUInt32BE(0, at);
      t.writeUInt32BE(needZeroFlag ? QCOW_OFLAG_ZERO_LO : 0, at + 4);
      this.map.cache.markDirty(l2Off);
    }
  }

  private writeZeros(offset: number, len: number): void {
    const zeros = new Uint8Array(Math.min(len, 1 << 20));
    for (let done = 0; done < len; done += zeros.length) {
      const n = Math.min(zeros.length, len - done);
      this.write(offset + done, n === zeros.length ? zeros : zeros.subarray(0, n));
    }
  }

  /** Writes the cached metadata in crash-safe order (see the file comment). */
  private flushMetadata(): void {
    if (this.refcounts?.flush()) this.file.sync();
    if (this.map.cache.flush()) this.file.sync();
    if (this.map.flushL1()) this.file.sync();
    if (this.pendingFrees.length > 0) {
      const frees = this.pendingFrees;
      this.pendingFrees = [];
      for (const c of frees) this.refcounts!.decrement(c);
      this.refcounts!.flush();
    }
  }

  flush(): void {
    this.assertOpen();
    if (this.readOnly) return;
    this.flushMetadata();
    this.file.sync();
  }

  /**
   * One run from `offset` (BlockDevice.blockStatus, QEMU's qcow2_co_block_status). An L1
   * entry without an L2 table is skipped whole, so an empty 1 PiB image answers in one
   * call that reads no table. Unallocated clusters are what the backing file says they
   * are (asked in turn, so a chain is walked through its allocated extents too), and
   * zeros past the backing file's end.
   */
  blockStatus(offset: number, len: number): BlockStatusRun {
    this.assertOpen();
    checkRange('blockStatus', offset, len, this.sizeBytes);
    const cs = this.clusterSize;
    const perTable = this.map.l2Entries;
    const end = offset + len;
    const status = (gc: number): 'data' | 'zero' | 'unallocated' => {
      const [hi, lo] = this.entry(gc);
      switch (this.kindOf(hi, lo, gc)) {
        case ClusterKind.Unallocated: return 'unallocated';
        case ClusterKind.Zero: case ClusterKind.ZeroAllocated: return 'zero';
        default: return 'data';
      }
    };
    let first: 'data' | 'zero' | 'unallocated' | undefined;
    let pos = offset;
    while (pos < end) {
      const gc = Math.floor(pos / cs);
      const table = Math.floor(gc / perTable);
      let here: typeof first;
      let next: number;
      if (this.map.l2Offset(table) === 0) {
        here = 'unallocated';
        next = (table + 1) * perTable * cs;
      } else {
        here = status(gc);
        next = (gc + 1) * cs;
      }
      if (first === undefined) first = here;
      else if (here !== first) break;
      pos = Math.min(next, end);
    }
    const runLen = pos - offset;
    if (first === undefined) return { offset, len: 0, kind: 'zero' }; // asked about 0 bytes
    if (first !== 'unallocated') return { offset, len: runLen, kind: first };
    const b = this.backing;
    if (!b || offset >= b.size) return { offset, len: runLen, kind: 'zero' };
    const fromBacking = Math.min(runLen, b.size - offset);
    return b.blockStatus ? b.blockStatus(offset, fromBacking) : { offset, len: fromBacking, kind: 'data' };
  }

  /** Grows the virtual size (qemu-img resize); shrinking is not supported yet. */
  resize(sizeBytes: number): void {
    this.assertWritable();
    if (sizeBytes < this.sizeBytes) throw new TsvirtError('shrinking qcow2 images is not supported yet', 'convert the data to a new, smaller image instead');
    if (sizeBytes === this.sizeBytes) return;
    this.map.grow(l1EntriesFor(sizeBytes, this.clusterBits), () => this.flushMetadata());
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(sizeBytes));
    this.file.writeAt(b, OFF_SIZE);
    this.file.sync();
    this.sizeBytes = sizeBytes;
    this.header.size = sizeBytes;
  }

  /**
   * preallocation=metadata (qemu-img create -o preallocation=metadata): every guest
   * cluster gets an L2 entry pointing at its own host cluster; the file is extended so
   * the clusters exist (as holes).
   */
  preallocateMetadata(): Array<{ hostOffset: number; len: number }> {
    this.assertWritable();
    const cs = this.clusterSize;
    const clusters = Math.ceil(this.sizeBytes / cs);
    const runs: Array<{ hostOffset: number; len: number }> = [];
    for (let gc = 0; gc < clusters;) {
      const l2Off = this.map.ensureL2(gc);
      const n = Math.min(this.map.l2Entries - (gc % this.map.l2Entries), clusters - gc);
      const host = this.refcounts!.allocate(n);
      runs.push({ hostOffset: host, len: n * cs });
      const t = this.map.cache.get(l2Off);
      for (let i = 0; i < n; i++) {
        const at = ((gc + i) % this.map.l2Entries) * 8;
        const h = host + i * cs;
        t.writeUInt32BE((QCOW_OFLAG_COPIED_HI | Math.floor(h / 2 ** 32)) >>> 0, at);
        t.writeUInt32BE(h % 2 ** 32, at + 4);
      }
      this.map.cache.markDirty(l2Off);
      gc += n;
    }
    this.flushMetadata();
    const end = this.endOfAllocations();
    if (end > this.file.sizeBytes) this.file.truncate(end);
    this.file.sync();
    return runs;
  }

  /** One past the last cluster with a nonzero refcount. */
  private endOfAllocations(): number {
    const r = this.refcounts!;
    let last = -1;
    const total = r.tableLength * r.entriesPerBlock;
    for (let b = r.tableLength - 1; b >= 0 && last < 0; b--) {
      if (r.blockOffset(b) === 0) continue;
      for (let c = Math.min(total, (b + 1) * r.entriesPerBlock) - 1; c >= b * r.entriesPerBlock; c--) {
        if (r.get(c) !== 0) {
          last = c;
          break;
        }
      }
    }
    return (last + 1) * this.clusterSize;
  }

  close(): void {
    if (this.closed) return;
    try {
      if (!this.readOnly) this.flush();
    } finally {
      this.closed = true;
      this.backing?.close();
      this.lock?.release();
      this.file.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('qcow2 image used after close()');
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly) throw new Error('qcow2 image is open read-only');
  }
}
