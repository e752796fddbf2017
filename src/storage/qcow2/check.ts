// Consistency check of a qcow2 image (what `qemu-img check` does for qcow2, QEMU
// block/qcow2-refcount.c qcow2_check_refcounts): recount every reference (header, L1,
// L2 tables, data and compressed clusters, refcount table and blocks) and compare with the
// stored refcounts. Stored < counted is a corruption (a cluster could be handed out
// twice); stored > counted is a leak (wasted space only). Also checks the COPIED flags,
// alignment, and that nothing points past the end of the file. Repair: `leaks` lowers
// leaked counts; `all` also raises counts that are too low (where a refcount block
// exists), fixes COPIED flags and clears the dirty bit.
//
// Memory and time follow the metadata the image has, not its virtual size or the length
// of its file (a sparse file can be 16 TiB long and hold 2 MiB of tables): the counts are
// sorted cluster ranges (counted-references.ts), the L1 table is read in bounded pieces,
// the COPIED flags are checked in a second walk of the tables (as QEMU's
// check_oflag_copied does) instead of from a list of every entry, and the comparison
// visits only clusters that are referenced or lie in a refcount block with nonzero counts.
// Leaves out: images with internal snapshots or persistent bitmaps ("not supported yet").
import { TsvirtError } from '../../lib/errors.js';
import { ImageFile } from '../image-file.js';
import { ImageLock } from '../image-lock.js';
import { ClusterKind, QCOW_OFLAG_COPIED_HI, classify, entryOffset } from './cluster-map.js';
import { compressedHostRange, decodeCompressed } from './compressed.js';
import { CountedReferences } from './counted-references.js';
import { AUTOCLEAR_BITMAPS, INCOMPAT_DIRTY, OFF_INCOMPATIBLE_FEATURES, parseHeader } from './header.js';
import { Refcounts } from './refcount.js';

export type RepairMode = 'leaks' | 'all';

export interface Qcow2CheckResult {
  corruptions: number;
  leaks: number;
  checkErrors: number;
  corruptionsFixed: number;
  leaksFixed: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  imageEndOffset: number;
  /** One line per problem, as qemu-img prints them ("Leaked cluster 5 refcount=1 reference=0"). */
  messages: string[];
}

interface CopiedFix { tableOffset: number; index: number; wantCopied: boolean }

// Reserved bits of L1 entries (0-8, 56-62) and of standard L2 cluster descriptors (1-8,
// 56-61), as the high and low 32-bit halves of the big-endian entry.
const L1E_RESERVED_HI = 0x7f000000;
const L1E_RESERVED_LO = 0x000001ff;
const L2E_STD_RESERVED_HI = 0x3f000000;
const L2E_STD_RESERVED_LO = 0x000001fe;

/** The L1 table is read in pieces of this size (header.ts caps the whole at 32 MiB). */
const L1_PIECE_BYTES = 1 << 20;
/**
 * Problem lines kept for the report. A hostile image can have an error in each of
 * millions of table entries; the counts stay exact, the list stops growing here.
 */
export const MAX_CHECK_MESSAGES = 10000;

function hex64(hi: number, lo: number): string {
  return `${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

export function checkQcow2(path: string, opts: { repair?: RepairMode; forceShare?: boolean } = {}): Qcow2CheckResult {
  const first = runCheck(path, opts.repair, opts.forceShare ?? false);
  if (!opts.repair || (first.leaksFixed === 0 && first.corruptionsFixed === 0)) return first;
  // Like qemu-img: report what was fixed, and the state of the image after the fix.
  const after = runCheck(path, undefined, false);
  return { ...after, leaksFixed: first.leaksFixed, corruptionsFixed: first.corruptionsFixed, messages: [...first.messages, ...after.messages] };
}

function runCheck(path: string, repair: RepairMode | undefined, forceShare: boolean): Qcow2CheckResult {
  const file = ImageFile.open(path, repair === undefined);
  let lock: ImageLock | undefined;
  try {
    if (!forceShare) lock = ImageLock.acquire(file.fd, path, repair ? 'exclusive' : 'shared');
    const head = new Uint8Array(Math.min(file.sizeBytes, 2 * 1024 * 1024));
    file.readAt(head, 0);
    // parseHeader has checked the L1 table against the file and QCOW_MAX_L1_SIZE and the
    // refcount table against QCOW_MAX_REFTABLE_SIZE: the only tables read whole below.
    const h = parseHeader(head, file.sizeBytes, path);
    if (h.nbSnapshots > 0) throw new TsvirtError(`${path}: checking qcow2 images with internal snapshots is not supported yet`, 'use qemu-img check');
    if (h.autoclearFeatures & AUTOCLEAR_BITMAPS) throw new TsvirtError(`${path}: checking qcow2 images with persistent bitmaps is not supported yet`, 'use qemu-img check');
    const cs = 2 ** h.clusterBits;
    const fileClusters = Math.ceil(file.sizeBytes / cs);
    const counted = new CountedReferences();
    const r: Qcow2CheckResult = {
      corruptions: 0, leaks: 0, checkErrors: 0, corruptionsFixed: 0, leaksFixed: 0,
      totalClusters: Math.ceil(h.size / cs), allocatedClusters: 0, fragmentedClusters: 0, compressedClusters: 0, imageEndOffset: 0, messages: [],
    };
    let unlisted = 0;
    const note = (msg: string): void => {
      if (r.messages.length < MAX_CHECK_MESSAGES) r.messages.push(msg);
      else unlisted++;
    };
    const error = (msg: string): void => {
      r.corruptions++;
      note(`ERROR ${msg}`);
    };
    const reference = (offset: number, len: number, what: string): void => {
      const firstC = Math.floor(offset / cs);
      const lastC = Math.floor((offset + len - 1) / cs);
      // Clusters inside the file are counted; the first one past its end is the error.
      const inFile = Math.min(lastC, fileClusters - 1) - firstC + 1;
      if (inFile > 0) counted.add(firstC, inFile);
      if (lastC >= fileClusters) error(`${what} at offset ${offset} lies beyond the end of the file (${file.sizeBytes} bytes)`);
    };

    reference(0, cs, 'header');
    if (h.l1Size > 0) reference(h.l1TableOffset, h.l1Size * 8, 'L1 table');
    reference(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table');
    const refcounts = new Refcounts(file, path, h.clusterBits, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters, 64);
    const validBlocks = new Set<number>();
    const validBlockList: number[] = []; // ascending
    for (let i = 0; i < refcounts.tableLength; i++) {
      const off = refcounts.blockOffset(i);
      // qcow2.txt "refcount table entry": bits 0-8 are reserved. Like QEMU (check_refblocks),
      // report the entry and do not count the block as referenced, but read counts through it.
      if (refcounts.tableEntryReservedBits(i) !== 0) {
        error(`refcount table entry ${i} has reserved bits set`);
        if (off !== 0 && off % cs === 0 && off + cs <= file.sizeBytes) { validBlocks.add(i); validBlockList.push(i); }
        continue;
      }
      if (off === 0) continue;
      if (off % cs !== 0) error(`refcount block ${i} has unaligned offset ${off}`);
      else if (off + cs > file.sizeBytes) error(`refcount block ${i} at offset ${off} is outside the image`);
      else {
        validBlocks.add(i);
        validBlockList.push(i);
        reference(off, cs, `refcount block ${i}`);
      }
    }

    const l1Piece = Buffer.alloc(Math.min(h.l1Size * 8, L1_PIECE_BYTES));
    const l1View = new DataView(l1Piece.buffer, l1Piece.byteOffset, l1Piece.byteLength);
    const walkL1 = (visit: (i: number, hi: number, lo: number) => void): void => {
      const perPiece = l1Piece.length / 8;
      for (let start = 0; start < h.l1Size; start += perPiece) {
        const n = Math.min(perPiece, h.l1Size - start);
        file.readAt(l1Piece.subarray(0, n * 8), h.l1TableOffset + start * 8);
        for (let k = 0; k < n; k++) visit(start + k, l1View.getUint32(k * 8), l1View.getUint32(k * 8 + 4));
      }
    };
    /** Offset of the L2 table an L1 entry points at, if the walk follows it (checked in the first walk). */
    const followedL2 = (hi: number, lo: number): number => {
      const l2Off = entryOffset(hi, lo);
      return l2Off !== 0 && l2Off % cs === 0 && l2Off + cs <= file.sizeBytes ? l2Off : 0;
    };

    // First walk of L1 and L2: references, entry errors, allocation figures.
    const l2 = Buffer.alloc(cs);
    const l2View = new DataView(l2.buffer, l2.byteOffset, l2.byteLength); // big-endian reads, without Buffer's argument checks
    const l2Entries = cs / 8;
    walkL1((i, hi, lo) => {
      const l2Off = entryOffset(hi, lo);
      // qcow2.txt "L1 table entry": bits 0-8 and 56-62 are reserved and must be zero.
      if ((hi & L1E_RESERVED_HI) !== 0 || (lo & L1E_RESERVED_LO) !== 0) error(`L1 entry ${i} has reserved bits set (0x${hex64(hi, lo)})`);
      if (l2Off === 0) return;
      if (l2Off % cs !== 0) {
        error(`L2 table of L1 entry ${i} has unaligned offset ${l2Off}`);
        return;
      }
      if (l2Off + cs > file.sizeBytes) {
        error(`L2 table of L1 entry ${i} at offset ${l2Off} lies beyond the end of the file`);
        return;
      }
      reference(l2Off, cs, `L2 table ${i}`);
      file.readAt(l2, l2Off);
      let nextContiguous = -1; // QEMU counts fragmentation within each L2 table
      for (let j = 0; j < l2Entries; j++) {
        const eh = l2View.getUint32(j * 8);
        const el = l2View.getUint32(j * 8 + 4);
        if (eh === 0 && el === 0) continue; // unallocated: nothing to count or check
        const kind = classify(eh, el, h.version);
        // qcow2.txt "Standard Cluster Descriptor": bits 1-8 and 56-61 are reserved.
        if (kind !== ClusterKind.Compressed && ((eh & L2E_STD_RESERVED_HI) !== 0 || (el & L2E_STD_RESERVED_LO) !== 0)) {
          error(`L2 entry l1_index=${i} l2_index=${j} has reserved bits set (0x${hex64(eh, el)})`);
        }
        if (kind === ClusterKind.Compressed) {
          r.allocatedClusters++;
          r.compressedClusters++;
          if (eh & QCOW_OFLAG_COPIED_HI) error(`compressed cluster at l1_index=${i} l2_index=${j} has OFLAG_COPIED set`);
          const range = compressedHostRange(decodeCompressed(eh, el, h.clusterBits));
          reference(range.start, range.len, `compressed cluster l1_index=${i} l2_index=${j}`);
        } else if (kind === ClusterKind.Normal || kind === ClusterKind.ZeroAllocated) {
          const off = entryOffset(eh, el);
          r.allocatedClusters++;
          if (off % cs !== 0) {
            error(`data cluster at l1_index=${i} l2_index=${j} has unaligned offset ${off}`);
            continue;
          }
          if (nextContiguous >= 0 && off !== nextContiguous) r.fragmentedClusters++;
          nextContiguous = off + cs;
          // reference(), without building its message for each of millions of entries.
          if (off < file.sizeBytes) counted.add(off / cs, 1);
          else error(`data cluster l1_index=${i} l2_index=${j} at offset ${off} lies beyond the end of the file (${file.sizeBytes} bytes)`);
        }
      }
    });

    // The stored count; the last block used is kept, as data clusters mostly come in order.
    let storedIndex = -1;
    let storedBlock: Buffer | undefined;
    const stored = (c: number): number => {
      const b = Math.floor(c / refcounts.entriesPerBlock);
      if (b !== storedIndex) {
        storedIndex = b;
        storedBlock = validBlocks.has(b) ? refcounts.cache.get(refcounts.blockOffset(b)) : undefined;
      }
      return storedBlock ? refcounts.readEntry(storedBlock, c - b * refcounts.entriesPerBlock) : 0;
    };
    // Second walk: COPIED must be set exactly when the refcount is 1 (qcow2.txt "L1/L2
    // table entries"). A repair sets refcounts to the counted values first, so the flag
    // must match those.
    const copiedFixes: CopiedFix[] = [];
    /** j < 0: the L1 entry i (its L2 table's cluster); else the data cluster of L2 entry j. */
    const checkCopied = (cluster: number, copied: boolean, tableOffset: number, i: number, j: number): void => {
      const have = stored(cluster);
      const want = have === 1;
      if (want !== copied) {
        const what = j < 0 ? `OFLAG_COPIED L2 cluster: l1_index=${i}` : `OFLAG_COPIED data cluster: l1_index=${i} l2_index=${j}`;
        error(`${what} refcount=${have} (COPIED flag ${copied ? 'set' : 'clear'})`);
      }
      if (repair !== 'all') return;
      const afterRepair = cluster < fileClusters && counted.countAt(cluster) === 1;
      if (afterRepair !== copied) copiedFixes.push({ tableOffset, index: j < 0 ? i : j, wantCopied: afterRepair });
      else if (want !== copied) {
        // The refcount repair alone makes this flag right.
        r.corruptionsFixed++;
        r.corruptions--;
      }
    };
    walkL1((i, hi, lo) => {
      const l2Off = followedL2(hi, lo);
      if (l2Off === 0) return;
      checkCopied(l2Off / cs, (hi & QCOW_OFLAG_COPIED_HI) !== 0, h.l1TableOffset, i, -1);
      file.readAt(l2, l2Off);
      for (let j = 0; j < l2Entries; j++) {
        const eh = l2View.getUint32(j * 8);
        const el = l2View.getUint32(j * 8 + 4);
        if (eh === 0 && el === 0) continue;
        const kind = classify(eh, el, h.version);
        if (kind !== ClusterKind.Normal && kind !== ClusterKind.ZeroAllocated) continue;
        const off = entryOffset(eh, el);
        if (off % cs !== 0) continue;
        checkCopied(off / cs, (eh & QCOW_OFLAG_COPIED_HI) !== 0, l2Off, i, j);
      }
    });

    // Compare counted with stored references, in cluster order, block by block. Only two
    // kinds of cluster can differ: referenced ones, and those a valid refcount block
    // gives a count; every other cluster of the file has 0 on both sides.
    let highest = -1;
    const fixes: Array<{ cluster: number; value: number; leak: boolean }> = [];
    const compare = (c: number, want: number, have: number): void => {
      if (want > 0 || have > 0) highest = c; // qemu-img's "image end offset" counts leaks too
      if (have === want) return;
      if (have < want) {
        error(`cluster ${c} refcount=${have} reference=${want}`);
        if (repair === 'all' && validBlocks.has(Math.floor(c / refcounts.entriesPerBlock))) fixes.push({ cluster: c, value: want, leak: false });
      } else {
        r.leaks++;
        note(`Leaked cluster ${c} refcount=${have} reference=${want}`);
        if (repair) fixes.push({ cluster: c, value: want, leak: true });
      }
    };
    const epb = refcounts.entriesPerBlock;
    const ranges = counted.length;
    const zeroBlock = Buffer.alloc(cs);
    let vb = 0; // next entry of validBlockList
    let seg = 0; // first counted range that ends after the current block's start
    for (let b = -1; ;) {
      const nextStart = (b + 1) * epb;
      while (seg < ranges && counted.end(seg) <= nextStart) seg++;
      const fromBlocks = vb < validBlockList.length ? validBlockList[vb] : Infinity;
      const fromCounts = seg < ranges ? Math.floor(Math.max(counted.start(seg), nextStart) / epb) : Infinity;
      b = Math.min(fromBlocks, fromCounts);
      if (b === Infinity || b * epb >= fileClusters) break;
      const lo = b * epb;
      const hi = Math.min(lo + epb, fileClusters);
      let block: Buffer | undefined;
      if (fromBlocks === b) {
        vb++;
        block = refcounts.cache.get(refcounts.blockOffset(b));
        if (block.equals(zeroBlock)) block = undefined; // a block of zeros: only referenced clusters can differ
      }
      if (block) {
        let s = seg;
        for (let c = lo; c < hi; c++) {
          while (s < ranges && counted.end(s) <= c) s++;
          compare(c, s < ranges && counted.start(s) <= c ? counted.count(s) : 0, refcounts.readEntry(block, c - lo));
        }
      } else {
        for (let s = seg; s < ranges && counted.start(s) < hi; s++) {
          const end = Math.min(hi, counted.end(s));
          for (let c = Math.max(lo, counted.start(s)); c < end; c++) compare(c, counted.count(s), 0);
        }
      }
    }
    r.imageEndOffset = (highest + 1) * cs;

    if (repair) {
      for (const f of fixes) {
        refcounts.set(f.cluster, f.value);
        if (f.leak) { r.leaksFixed++; r.leaks--; } else { r.corruptionsFixed++; r.corruptions--; }
      }
      refcounts.flush();
      file.sync();
      if (repair === 'all') {
        for (const f of copiedFixes) {
          const b = Buffer.alloc(4);
          file.readAt(b, f.tableOffset + f.index * 8);
          const hi = f.wantCopied ? (b.readUInt32BE(0) | QCOW_OFLAG_COPIED_HI) >>> 0 : (b.readUInt32BE(0) & ~QCOW_OFLAG_COPIED_HI) >>> 0;
          b.writeUInt32BE(hi, 0);
          file.writeAt(b, f.tableOffset + f.index * 8);
          r.corruptionsFixed++;
          r.corruptions--;
        }
        file.sync();
        if (r.corruptions === 0 && h.incompatibleFeatures & INCOMPAT_DIRTY) {
          const b = Buffer.alloc(8);
          b.writeBigUInt64BE(h.incompatibleFeatures & ~INCOMPAT_DIRTY);
          file.writeAt(b, OFF_INCOMPATIBLE_FEATURES);
          file.sync();
        }
      }
    }
    if (unlisted > 0) r.messages.push(`(${unlisted} more problems not listed)`);
    return r;
  } finally {
    lock?.release();
    file.close();
  }
}
