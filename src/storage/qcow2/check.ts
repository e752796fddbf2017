// Consistency check of a qcow2 image (what `qemu-img check` does for qcow2, QEMU
// block/qcow2-refcount.c qcow2_check_refcounts): recount every reference (header, L1,
// L2 tables, data and compressed clusters, refcount table and blocks) and compare with the
// stored refcounts. Stored < counted is a corruption (a cluster could be handed out
// twice); stored > counted is a leak (wasted space only). Also checks the COPIED flags,
// alignment, and that nothing points past the end of the file. Repair: `leaks` lowers
// leaked counts; `all` also raises counts that are too low (where a refcount block
// exists), fixes COPIED flags and clears the dirty bit.
// Leaves out: images with internal snapshots or persistent bitmaps ("not supported yet").
import { TsvirtError } from '../../lib/errors.js';
import { ImageFile } from '../image-file.js';
import { ImageLock } from '../image-lock.js';
import { ClusterKind, QCOW_OFLAG_COPIED_HI, classify, entryOffset } from './cluster-map.js';
import { compressedHostRange, decodeCompressed } from './compressed.js';
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
    const h = parseHeader(head, file.sizeBytes, path);
    if (h.nbSnapshots > 0) throw new TsvirtError(`${path}: checking qcow2 images with internal snapshots is not supported yet`, 'use qemu-img check');
    if (h.autoclearFeatures & AUTOCLEAR_BITMAPS) throw new TsvirtError(`${path}: checking qcow2 images with persistent bitmaps is not supported yet`, 'use qemu-img check');
    const cs = 2 ** h.clusterBits;
    const fileClusters = Math.ceil(file.sizeBytes / cs);
    const counted = new Float64Array(fileClusters);
    const r: Qcow2CheckResult = {
      corruptions: 0, leaks: 0, checkErrors: 0, corruptionsFixed: 0, leaksFixed: 0,
      totalClusters: Math.ceil(h.size / cs), allocatedClusters: 0, fragmentedClusters: 0, compressedClusters: 0, imageEndOffset: 0, messages: [],
    };
    const error = (msg: string): void => {
      r.corruptions++;
      r.messages.push(`ERROR ${msg}`);
    };
    const reference = (offset: number, len: number, what: string): void => {
      const firstC = Math.floor(offset / cs);
      const lastC = Math.floor((offset + len - 1) / cs);
      for (let c = firstC; c <= lastC; c++) {
        if (c >= fileClusters) {
          error(`${what} at offset ${offset} lies beyond the end of the file (${file.sizeBytes} bytes)`);
          return;
        }
        counted[c]++;
      }
    };

    reference(0, cs, 'header');
    if (h.l1Size > 0) reference(h.l1TableOffset, h.l1Size * 8, 'L1 table');
    reference(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table');
    const refcounts = new Refcounts(file, path, h.clusterBits, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters, 64);
    const validBlocks = new Set<number>();
    for (let i = 0; i < refcounts.tableLength; i++) {
      const off = refcounts.blockOffset(i);
      if (off === 0) continue;
      if (off % cs !== 0) error(`refcount block ${i} has unaligned offset ${off}`);
      else if (off + cs > file.sizeBytes) error(`refcount block ${i} at offset ${off} is outside the image`);
      else {
        validBlocks.add(i);
        reference(off, cs, `refcount block ${i}`);
      }
    }

    // Walk L1 and L2.
    const l1 = Buffer.alloc(h.l1Size * 8);
    file.readAt(l1, h.l1TableOffset);
    const l2 = Buffer.alloc(cs);
    const l2Entries = cs / 8;
    const copiedChecks: Array<{ cluster: number; copied: boolean; fix: CopiedFix; what: string }> = [];
    let nextContiguous = -1;
    for (let i = 0; i < h.l1Size; i++) {
      const hi = l1.readUInt32BE(i * 8);
      const lo = l1.readUInt32BE(i * 8 + 4);
      const l2Off = entryOffset(hi, lo);
      // qcow2.txt "L1 table entry": bits 0-8 and 56-62 are reserved and must be zero.
      if ((hi & L1E_RESERVED_HI) !== 0 || (lo & L1E_RESERVED_LO) !== 0) error(`L1 entry ${i} has reserved bits set (0x${hex64(hi, lo)})`);
      if (l2Off === 0) continue;
      if (l2Off % cs !== 0) {
        error(`L2 table of L1 entry ${i} has unaligned offset ${l2Off}`);
        continue;
      }
      if (l2Off + cs > file.sizeBytes) {
        error(`L2 table of L1 entry ${i} at offset ${l2Off} lies beyond the end of the file`);
        continue;
      }
      reference(l2Off, cs, `L2 table ${i}`);
      copiedChecks.push({ cluster: l2Off / cs, copied: (hi & QCOW_OFLAG_COPIED_HI) !== 0, fix: { tableOffset: h.l1TableOffset, index: i, wantCopied: false }, what: `OFLAG_COPIED L2 cluster: l1_index=${i}` });
      file.readAt(l2, l2Off);
      nextContiguous = -1; // QEMU counts fragmentation within each L2 table
      for (let j = 0; j < l2Entries; j++) {
        const eh = l2.readUInt32BE(j * 8);
        const el = l2.readUInt32BE(j * 8 + 4);
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
          reference(off, cs, `data cluster l1_index=${i} l2_index=${j}`);
          copiedChecks.push({ cluster: off / cs, copied: (eh & QCOW_OFLAG_COPIED_HI) !== 0, fix: { tableOffset: l2Off, index: j, wantCopied: false }, what: `OFLAG_COPIED data cluster: l1_index=${i} l2_index=${j}` });
        }
      }
    }

    const stored = (c: number): number => {
      const b = Math.floor(c / refcounts.entriesPerBlock);
      return validBlocks.has(b) ? refcounts.get(c) : 0;
    };
    // COPIED must be set exactly when the refcount is 1 (qcow2.txt "L1/L2 table entries").
    // A repair sets refcounts to the counted values first, so the flag must match those.
    const copiedFixes: CopiedFix[] = [];
    for (const cc of copiedChecks) {
      const want = stored(cc.cluster) === 1;
      if (want !== cc.copied) error(`${cc.what} refcount=${stored(cc.cluster)} (COPIED flag ${cc.copied ? 'set' : 'clear'})`);
      const afterRepair = cc.cluster < fileClusters && counted[cc.cluster] === 1;
      if (repair === 'all' && afterRepair !== cc.copied) copiedFixes.push({ ...cc.fix, wantCopied: afterRepair });
      else if (repair === 'all' && want !== cc.copied) {
        // The refcount repair alone makes this flag right.
        r.corruptionsFixed++;
        r.corruptions--;
      }
    }

    // Compare counted with stored references.
    let highest = -1;
    const fixes: Array<{ cluster: number; value: number; leak: boolean }> = [];
    for (let c = 0; c < fileClusters; c++) {
      const want = counted[c];
      const have = stored(c);
      if (want > 0 || have > 0) highest = c; // qemu-img's "image end offset" counts leaks too
      if (have === want) continue;
      if (have < want) {
        error(`cluster ${c} refcount=${have} reference=${want}`);
        if (repair === 'all' && validBlocks.has(Math.floor(c / refcounts.entriesPerBlock))) fixes.push({ cluster: c, value: want, leak: false });
      } else {
        r.leaks++;
        r.messages.push(`Leaked cluster ${c} refcount=${have} reference=${want}`);
        if (repair) fixes.push({ cluster: c, value: want, leak: true });
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
    return r;
  } finally {
    lock?.release();
    file.close();
  }
}
