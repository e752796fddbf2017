// Hostile qcow2 images for the probe suite (test/storage/hostile-qcow2-probe.test.ts):
// valid base images made by the real qemu-img and qemu-io, a layout read back from their
// bytes (with a parser of its own, so a bug in src/storage/qcow2/header.ts cannot hide
// itself), and deterministic mutations of every structure qcow2.txt defines: each header
// field, header extensions, the backing file name, L1 and L2 entries, compressed cluster
// descriptors, the refcount table and blocks, the snapshot table, truncations and seeded
// random byte flips. A mutation is a pure function of the base's bytes, so a failing case
// replays from its id alone.
import fs from 'node:fs';
import { qemuImg, qemuIo, randomBytes, rng } from '../helpers.js';

// qcow2.txt "Header": field offsets.
const H_VERSION = 4;
const H_BACKING_OFFSET = 8;
const H_BACKING_SIZE = 16;
const H_CLUSTER_BITS = 20;
const H_SIZE = 24;
const H_CRYPT = 32;
const H_L1_SIZE = 36;
const H_L1_OFFSET = 40;
const H_REFT_OFFSET = 48;
const H_REFT_CLUSTERS = 56;
const H_NB_SNAPSHOTS = 60;
const H_SNAPSHOTS_OFFSET = 64;
const H_INCOMPAT = 72;
const H_COMPAT = 80;
const H_AUTOCLEAR = 88;
const H_REFCOUNT_ORDER = 96;
const H_HEADER_LENGTH = 100;
const H_COMPRESSION_TYPE = 104;

const COPIED = 1n << 63n;
const COMPRESSED = 1n << 62n;
const OFFSET_MASK = 0x00fffffffffffe00n;
const U64 = (1n << 64n) - 1n;

// Header extension types (qcow2.txt "Header extensions").
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_TABLE = 0x6803f857;
const EXT_BITMAPS = 0x23852875;
const EXT_ENCRYPTION = 0x0537be77;
const EXT_DATA_FILE = 0x44415441;

export interface Extension { at: number; type: number; len: number }
export interface L2Entry { at: number; l1Index: number; l2Index: number; entry: bigint }

/** What a mutation needs to know about a base image, read from its bytes. */
export interface Layout {
  fileSize: number;
  version: number;
  clusterBits: number;
  clusterSize: number;
  size: bigint;
  l1Size: number;
  l1Offset: number;
  reftOffset: number;
  reftClusters: number;
  refcountOrder: number;
  headerLength: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  backingOffset: number;
  backingSize: number;
  extensions: Extension[];
  /** L1 entries that point at an L2 table: [l1 index, L2 table offset]. */
  l2Tables: Array<[number, number]>;
  /** Nonzero L2 entries, in file order. */
  l2Entries: L2Entry[];
  /** Nonzero refcount table entries: [index, refcount block offset]. */
  refBlocks: Array<[number, number]>;
}

function u32(b: Buffer, at: number): number {
  return b.readUInt32BE(at);
}
function u64(b: Buffer, at: number): bigint {
  return b.readBigUInt64BE(at);
}

export function readLayout(b: Buffer): Layout {
  const version = u32(b, H_VERSION);
  const clusterBits = u32(b, H_CLUSTER_BITS);
  const clusterSize = 2 ** clusterBits;
  const headerLength = version >= 3 ? u32(b, H_HEADER_LENGTH) : 72;
  const extensions: Extension[] = [];
  for (let at = headerLength; at + 8 <= clusterSize;) {
    const type = u32(b, at);
    const len = u32(b, at + 4);
    if (type === 0) break;
    extensions.push({ at, type, len });
    at += 8 + Math.ceil(len / 8) * 8;
  }
  const l1Size = u32(b, H_L1_SIZE);
  const l1Offset = Number(u64(b, H_L1_OFFSET));
  const l2Tables: Array<[number, number]> = [];
  const l2Entries: L2Entry[] = [];
  for (let i = 0; i < l1Size; i++) {
    const off = Number(u64(b, l1Offset + i * 8) & OFFSET_MASK);
    if (off === 0) continue;
    l2Tables.push([i, off]);
    for (let j = 0; j < clusterSize / 8; j++) {
      const entry = u64(b, off + j * 8);
      if (entry !== 0n) l2Entries.push({ at: off + j * 8, l1Index: i, l2Index: j, entry });
    }
  }
  const reftOffset = Number(u64(b, H_REFT_OFFSET));
  const reftClusters = u32(b, H_REFT_CLUSTERS);
  const refBlocks: Array<[number, number]> = [];
  for (let i = 0; i < (reftClusters * clusterSize) / 8; i++) {
    const off = Number(u64(b, reftOffset + i * 8));
    if (off !== 0) refBlocks.push([i, off]);
  }
  return {
    fileSize: b.length, version, clusterBits, clusterSize, size: u64(b, H_SIZE), l1Size, l1Offset, reftOffset, reftClusters,
    refcountOrder: version >= 3 ? u32(b, H_REFCOUNT_ORDER) : 4, headerLength,
    nbSnapshots: u32(b, H_NB_SNAPSHOTS), snapshotsOffset: Number(u64(b, H_SNAPSHOTS_OFFSET)),
    backingOffset: Number(u64(b, H_BACKING_OFFSET)), backingSize: u32(b, H_BACKING_SIZE),
    extensions, l2Tables, l2Entries, refBlocks,
  };
}

export type Family = 'header' | 'extension' | 'backing' | 'l1' | 'l2' | 'compressed' | 'refcount' | 'snapshot' | 'truncate' | 'flip';

export interface HostileCase {
  /** `<base>/<family>/<what>`: stable, so a failure names the exact mutation. */
  id: string;
  base: string;
  family: Family;
  /** The file name the image must have (a backing file name that refers to the image itself). */
  fileName?: string;
  /** The mutated file's bytes. */
  bytes: () => Buffer;
}

export interface BaseImage {
  name: string;
  path: string;
  bytes: Buffer;
  layout: Layout;
  /** Which mutation groups apply (a base without compressed clusters has no compressed cases). */
  groups: ReadonlySet<string>;
  flips: number;
  pick?: (family: Family, what: string) => boolean;
}

interface BaseSpec {
  name: string;
  groups: string[];
  /** Seeded random byte-flip cases. */
  flips: number;
  /** Narrows the groups' cases to those that tell something new on this base. */
  pick?: (family: Family, what: string) => boolean;
  /** Builds the image at `path` (in `dir`, next to any backing file it needs). */
  make: (path: string, dir: string) => void;
}

// The bases: every cluster size the issue names, data, zero clusters, a backing file,
// compressed clusters, internal snapshots, a version 2 image and 64-bit refcounts.
const BASES: BaseSpec[] = [
  {
    name: 'c64k', groups: ['header-all', 'ext', 'truncate'], flips: 8,
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', p, '64M');
      qemuIo(p, ['write -P 0x11 0 1M', 'write -P 0x22 5M 128k', 'write -z 10M 64k', 'write -P 0x33 40M 64k']);
    },
  },
  {
    name: 'c4k', groups: ['l2'], flips: 3,
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '16M');
      qemuIo(p, ['write -P 0x44 0 256k', 'write -P 0x55 3M 40k', 'write -z 8M 8k', 'write -P 0x66 15M 4k']);
    },
  },
  {
    name: 'c512', groups: ['header-core', 'l1', 'refcount'], flips: 3,
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', p, '4M');
      qemuIo(p, ['write -P 0x77 0 160k', 'write -P 0x78 1M 3k', 'write -P 0x79 4095k 1k']);
    },
  },
  {
    name: 'zlib', groups: ['compressed'], flips: 2,
    make: (p, dir) => {
      // Compressible text with an incompressible stretch, so both kinds of cluster appear.
      const raw = `${dir}/zlib-src.raw`;
      const text = Buffer.alloc(1 << 20, 'hostile qcow2 probe compresses this line. ');
      randomBytes(rng(7), 64 << 10).copy(text, 512 << 10);
      fs.writeFileSync(raw, text);
      fs.truncateSync(raw, 2 << 20);
      qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, p);
      fs.rmSync(raw);
    },
  },
  {
    // The descriptor's field widths depend on the cluster size: the extremes, 512 bytes
    // (one sector-count bit) and 2 MiB (thirteen), with the cases that probe those widths.
    name: 'zlib512', groups: ['compressed'], flips: 0,
    pick: (_f, what) => /maximum sector count|offset bits all ones|0 extra sectors|share one stream/.test(what),
    make: (p, dir) => compressedImage(p, dir, 512, 64 << 10),
  },
  {
    name: 'zlib2m', groups: ['compressed'], flips: 0,
    pick: (_f, what) => /maximum sector count|offset bits all ones|0 extra sectors|share one stream/.test(what),
    make: (p, dir) => compressedImage(p, dir, 2 << 20, 4 << 20),
  },
  {
    name: 'backed', groups: ['backing'], flips: 2,
    make: (p, dir) => {
      const backing = `${dir}/backing.qcow2`;
      qemuImg('create', '-q', '-f', 'qcow2', backing, '8M');
      qemuIo(backing, ['write -P 0xaa 0 2M']);
      qemuImg('create', '-q', '-f', 'qcow2', '-b', 'backing.qcow2', '-F', 'qcow2', p);
      qemuIo(p, ['write -P 0xbb 1M 64k', 'write -z 1536k 64k']);
    },
  },
  {
    name: 'v2', groups: ['header-core', 'l2'], flips: 2,
    // What version 2 changes: no zero flag, no feature bits; the other L2 cases run on c4k.
    pick: (family, what) => family !== 'l2' || /zero flag|reserved|COPIED/.test(what),
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', p, '8M');
      qemuIo(p, ['write -P 0x5a 0 64k', 'write -P 0x5b 6M 4k']);
    },
  },
  {
    name: 'snap', groups: ['snapshot'], flips: 2,
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', p, '16M');
      qemuIo(p, ['write -P 0x61 0 256k']);
      qemuImg('snapshot', '-c', 's1', p);
      qemuIo(p, ['write -P 0x62 64k 64k', 'write -P 0x63 8M 64k']);
    },
  },
  {
    name: 'rc64', groups: ['refcount'], flips: 0,
    // 64-bit counts change how a count is read, not how the table is: only the block's values.
    pick: (family, what) => /^refcount (of|block|beyond)/.test(what),
    make: (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,refcount_bits=64', p, '8M');
      qemuIo(p, ['write -P 0x64 0 64k']);
    },
  },
];

/** An image of compressible text written compressed by qemu-img convert -c. */
function compressedImage(path: string, dir: string, clusterSize: number, sizeBytes: number): void {
  const raw = `${dir}/compress-src-${clusterSize}.raw`;
  fs.writeFileSync(raw, Buffer.alloc(sizeBytes, 'hostile qcow2 probe compresses this line. '));
  qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`, raw, path);
  fs.rmSync(raw);
}

export function makeBaseImages(dir: string): BaseImage[] {
  return BASES.map((s) => {
    const path = `${dir}/${s.name}.qcow2`;
    s.make(path, dir);
    const bytes = fs.readFileSync(path);
    return { name: s.name, path, bytes, layout: readLayout(bytes), groups: new Set(s.groups), flips: s.flips, pick: s.pick };
  });
}

// ---- byte-level edits on a copy ----

type Edit = (b: Buffer, l: Layout) => Buffer;

function set32(at: number, v: number): Edit {
  return (b) => {
    b.writeUInt32BE(v >>> 0, at);
    return b;
  };
}
function set64(at: number | ((l: Layout) => number), v: bigint | ((l: Layout, b: Buffer) => bigint)): Edit {
  return (b, l) => {
    const where = typeof at === 'number' ? at : at(l);
    b.writeBigUInt64BE(BigInt.asUintN(64, typeof v === 'bigint' ? v : v(l, b)), where);
    return b;
  };
}
function all(...edits: Edit[]): Edit {
  return (b, l) => edits.reduce((acc, e) => e(acc, l), b);
}
function truncateTo(len: (l: Layout) => number): Edit {
  return (b, l) => Buffer.from(b.subarray(0, Math.max(0, Math.min(b.length, len(l)))));
}
function appendBytes(n: number, fill: number): Edit {
  return (b) => Buffer.concat([b, Buffer.alloc(n, fill)]);
}
/** Rewrites the header extensions (and the backing file name after them, as qemu lays it out). */
function withExtensions(make: (l: Layout, b: Buffer) => Array<{ type: number; data: Buffer }>): Edit {
  return (b, l) => {
    const exts = make(l, b);
    const name = l.backingOffset ? Buffer.from(b.subarray(l.backingOffset, l.backingOffset + l.backingSize)) : undefined;
    b.fill(0, l.headerLength, l.clusterSize);
    let at = l.headerLength;
    for (const e of exts) {
      b.writeUInt32BE(e.type >>> 0, at);
      b.writeUInt32BE(e.data.length, at + 4);
      e.data.copy(b, at + 8);
      at += 8 + Math.ceil(e.data.length / 8) * 8;
    }
    at += 8; // end marker
    if (name) {
      name.copy(b, at);
      b.writeBigUInt64BE(BigInt(at), H_BACKING_OFFSET);
    }
    return b;
  };
}
function existingExts(l: Layout, b: Buffer): Array<{ type: number; data: Buffer }> {
  return l.extensions.map((e) => ({ type: e.type, data: Buffer.from(b.subarray(e.at + 8, e.at + 8 + e.len)) }));
}

function l2Where(pick: (l: Layout) => L2Entry | undefined): (l: Layout) => number {
  return (l) => {
    const e = pick(l);
    if (!e) throw new Error('base image has no such L2 entry');
    return e.at;
  };
}
const firstData = (l: Layout): L2Entry | undefined => l.l2Entries.find((e) => !(e.entry & COMPRESSED) && (e.entry & OFFSET_MASK) !== 0n && !(e.entry & 1n));
const secondData = (l: Layout): L2Entry | undefined => l.l2Entries.filter((e) => !(e.entry & COMPRESSED) && (e.entry & OFFSET_MASK) !== 0n && !(e.entry & 1n))[1];
const lastData = (l: Layout): L2Entry | undefined => l.l2Entries.filter((e) => !(e.entry & COMPRESSED) && (e.entry & OFFSET_MASK) !== 0n).at(-1);
const zeroEntry = (l: Layout): L2Entry | undefined => l.l2Entries.find((e) => !(e.entry & COMPRESSED) && (e.entry & 1n) !== 0n);
const firstCompressed = (l: Layout): L2Entry | undefined => l.l2Entries.find((e) => (e.entry & COMPRESSED) !== 0n);
const lastCompressed = (l: Layout): L2Entry | undefined => l.l2Entries.filter((e) => (e.entry & COMPRESSED) !== 0n).at(-1);
const dataOffset = (l: Layout): bigint => firstData(l)!.entry & OFFSET_MASK;
const l1At = (l: Layout): number => l.l1Offset + l.l2Tables[0][0] * 8;
const reftAt = (i: number) => (l: Layout): number => l.reftOffset + i * 8;
const block0 = (l: Layout): number => l.refBlocks[0][1];
/** The end of the file rounded up to a cluster: the first offset nothing can be at. */
const eof = (l: Layout): bigint => BigInt(Math.ceil(l.fileSize / l.clusterSize) * l.clusterSize);
const neededL1 = (l: Layout): number => Number((l.size + BigInt(2 ** (2 * l.clusterBits - 3)) - 1n) / BigInt(2 ** (2 * l.clusterBits - 3)));
const l1Capacity = (l: Layout): bigint => BigInt(l.l1Size) * BigInt(2 ** (2 * l.clusterBits - 3));

/** Compressed descriptor fields (qcow2.txt "Compressed Clusters Descriptor"). */
function compressedParts(l: Layout, entry: bigint): { offset: bigint; sectors: bigint; x: bigint } {
  const x = BigInt(62 - (l.clusterBits - 8));
  return { offset: entry & ((1n << x) - 1n), sectors: (entry >> x) & ((1n << (62n - x)) - 1n), x };
}
function compressedEntry(l: Layout, offset: bigint, extraSectors: bigint): bigint {
  const x = BigInt(62 - (l.clusterBits - 8));
  return COMPRESSED | (extraSectors << x) | (offset & ((1n << x) - 1n));
}

/** Sets the stored refcount of host cluster `cluster`, in whichever refcount block holds it. */
function setRefcount(cluster: (l: Layout) => number, value: bigint): Edit {
  return (b, l) => {
    const bits = 2 ** l.refcountOrder;
    const perBlock = (l.clusterSize * 8) / bits;
    const c = cluster(l);
    const found = l.refBlocks.find(([i]) => i === Math.floor(c / perBlock));
    if (!found) throw new Error(`base image has no refcount block for cluster ${c}`);
    const block = found[1];
    const i = c % perBlock;
    if (bits >= 8) {
      const bytes = bits / 8;
      const at = block + i * bytes;
      for (let k = 0; k < bytes; k++) b[at + k] = Number((value >> BigInt(8 * (bytes - 1 - k))) & 0xffn);
    } else {
      const at = block + Math.floor((i * bits) / 8);
      const shift = (i * bits) % 8;
      const mask = (2 ** bits - 1) << shift;
      b[at] = (b[at] & ~mask) | ((Number(value) << shift) & mask);
    }
    return b;
  };
}

// ---- the catalogue ----

type Entry = [string, Edit];

function headerAll(): Array<[Family, string, Edit]> {
  const h: Entry[] = [
    ['magic=QFI\\0', set32(0, 0x51464900)],
    ['version=0', set32(H_VERSION, 0)],
    ['version=1', set32(H_VERSION, 1)],
    ['version=4', set32(H_VERSION, 4)],
    ['version=0xffffffff', set32(H_VERSION, 0xffffffff)],
    ['version 2<->3', (b, l) => set32(H_VERSION, 5 - l.version)(b, l)],
    ['cluster_bits=0', set32(H_CLUSTER_BITS, 0)],
    ['cluster_bits=8', set32(H_CLUSTER_BITS, 8)],
    ['cluster_bits=22', set32(H_CLUSTER_BITS, 22)],
    ['cluster_bits=0xffffffff', set32(H_CLUSTER_BITS, 0xffffffff)],
    ['cluster_bits-1', (b, l) => set32(H_CLUSTER_BITS, l.clusterBits - 1)(b, l)],
    ['cluster_bits+1', (b, l) => set32(H_CLUSTER_BITS, l.clusterBits + 1)(b, l)],
    ['size=0', set64(H_SIZE, 0n)],
    ['size=511', set64(H_SIZE, 511n)],
    ['size+1', set64(H_SIZE, (l) => l.size + 1n)],
    ['size=L1 capacity', set64(H_SIZE, (l) => l1Capacity(l))],
    ['size=L1 capacity+1', set64(H_SIZE, (l) => l1Capacity(l) + 1n)],
    ['size=2^53', set64(H_SIZE, 1n << 53n)],
    ['size=2^63', set64(H_SIZE, 1n << 63n)],
    ['size=2^64-1', set64(H_SIZE, U64)],
    // A large but valid virtual size: the L1 table is stretched over its whole cluster.
    ['size and l1_size fill the L1 cluster', (b, l) => {
      const entries = l.clusterSize / 8;
      b.writeUInt32BE(entries, H_L1_SIZE);
      b.writeBigUInt64BE(BigInt(entries) * BigInt(2 ** (2 * l.clusterBits - 3)), H_SIZE);
      return b;
    }],
    ['crypt_method=1', set32(H_CRYPT, 1)],
    ['crypt_method=2', set32(H_CRYPT, 2)],
    ['crypt_method=0xffffffff', set32(H_CRYPT, 0xffffffff)],
    ['l1_size=0', set32(H_L1_SIZE, 0)],
    ['l1_size=needed-1', (b, l) => set32(H_L1_SIZE, neededL1(l) - 1)(b, l)],
    ['l1_size+1', (b, l) => set32(H_L1_SIZE, l.l1Size + 1)(b, l)],
    ['l1_size=one cluster+1', (b, l) => set32(H_L1_SIZE, l.clusterSize / 8 + 1)(b, l)],
    ['l1_size=4Mi', set32(H_L1_SIZE, 4 << 20)],
    ['l1_size=4Mi+1', set32(H_L1_SIZE, (4 << 20) + 1)],
    ['l1_size=0x7fffffff', set32(H_L1_SIZE, 0x7fffffff)],
    ['l1_size=0xffffffff', set32(H_L1_SIZE, 0xffffffff)],
    ['l1_table_offset=0', set64(H_L1_OFFSET, 0n)],
    ['l1_table_offset+8 (unaligned)', set64(H_L1_OFFSET, (l) => BigInt(l.l1Offset + 8))],
    ['l1_table_offset=refcount table', set64(H_L1_OFFSET, (l) => BigInt(l.reftOffset))],
    ['l1_table_offset=refcount block', set64(H_L1_OFFSET, (l) => BigInt(block0(l)))],
    ['l1_table_offset=L2 table', set64(H_L1_OFFSET, (l) => BigInt(l.l2Tables[0][1]))],
    ['l1_table_offset=data cluster', set64(H_L1_OFFSET, (l) => dataOffset(l))],
    ['l1_table_offset=EOF', set64(H_L1_OFFSET, (l) => eof(l))],
    ['l1_table_offset=2^56', set64(H_L1_OFFSET, 1n << 56n)],
    ['l1_table_offset=2^63', set64(H_L1_OFFSET, 1n << 63n)],
    ['l1_table_offset=2^64-cluster', set64(H_L1_OFFSET, (l) => U64 - BigInt(l.clusterSize) + 1n)],
    ['refcount_table_offset=0', set64(H_REFT_OFFSET, 0n)],
    ['refcount_table_offset=8', set64(H_REFT_OFFSET, 8n)],
    ['refcount_table_offset=L1 table', set64(H_REFT_OFFSET, (l) => BigInt(l.l1Offset))],
    ['refcount_table_offset=L2 table', set64(H_REFT_OFFSET, (l) => BigInt(l.l2Tables[0][1]))],
    ['refcount_table_offset=refcount block', set64(H_REFT_OFFSET, (l) => BigInt(block0(l)))],
    ['refcount_table_offset=data cluster', set64(H_REFT_OFFSET, (l) => dataOffset(l))],
    ['refcount_table_offset=EOF', set64(H_REFT_OFFSET, (l) => eof(l))],
    ['refcount_table_offset=2^62', set64(H_REFT_OFFSET, 1n << 62n)],
    ['refcount_table_clusters=0', set32(H_REFT_CLUSTERS, 0)],
    ['refcount_table_clusters+1', (b, l) => set32(H_REFT_CLUSTERS, l.reftClusters + 1)(b, l)],
    ['refcount_table_clusters=8MiB', (b, l) => set32(H_REFT_CLUSTERS, (8 << 20) / l.clusterSize)(b, l)],
    ['refcount_table_clusters=8MiB+1', (b, l) => set32(H_REFT_CLUSTERS, (8 << 20) / l.clusterSize + 1)(b, l)],
    ['refcount_table_clusters=0xffffffff', set32(H_REFT_CLUSTERS, 0xffffffff)],
    ['nb_snapshots=1 snapshots_offset=0', set32(H_NB_SNAPSHOTS, 1)],
    ['nb_snapshots=1 snapshots_offset=L1 table', all(set32(H_NB_SNAPSHOTS, 1), set64(H_SNAPSHOTS_OFFSET, (l) => BigInt(l.l1Offset)))],
    ['nb_snapshots=1 snapshots_offset=EOF', all(set32(H_NB_SNAPSHOTS, 1), set64(H_SNAPSHOTS_OFFSET, (l) => eof(l)))],
    ['nb_snapshots=65536 snapshots_offset=data cluster', all(set32(H_NB_SNAPSHOTS, 65536), set64(H_SNAPSHOTS_OFFSET, (l) => dataOffset(l)))],
    ['nb_snapshots=65537', all(set32(H_NB_SNAPSHOTS, 65537), set64(H_SNAPSHOTS_OFFSET, (l) => dataOffset(l)))],
    ['nb_snapshots=0xffffffff', all(set32(H_NB_SNAPSHOTS, 0xffffffff), set64(H_SNAPSHOTS_OFFSET, (l) => dataOffset(l)))],
    ['snapshots_offset unaligned, no snapshots', set64(H_SNAPSHOTS_OFFSET, 0xdeadbeefn)],
    ['incompatible=dirty', set64(H_INCOMPAT, 1n)],
    ['incompatible=corrupt', set64(H_INCOMPAT, 2n)],
    ['incompatible=external data file', set64(H_INCOMPAT, 4n)],
    ['incompatible=compression type (zlib)', set64(H_INCOMPAT, 8n)],
    ['incompatible=extended L2', set64(H_INCOMPAT, 16n)],
    ['incompatible=bit 5', set64(H_INCOMPAT, 32n)],
    ['incompatible=bit 63', set64(H_INCOMPAT, 1n << 63n)],
    ['incompatible=all ones', set64(H_INCOMPAT, U64)],
    ['compatible=lazy refcounts', set64(H_COMPAT, 1n)],
    ['compatible=unknown bits', set64(H_COMPAT, U64 - 1n)],
    ['autoclear=bitmaps without extension', set64(H_AUTOCLEAR, 1n)],
    ['autoclear=raw data without data file', set64(H_AUTOCLEAR, 2n)],
    ['autoclear=unknown bits', set64(H_AUTOCLEAR, U64 - 3n)],
    ['refcount_order=0', set32(H_REFCOUNT_ORDER, 0)],
    ['refcount_order=3', set32(H_REFCOUNT_ORDER, 3)],
    ['refcount_order=5', set32(H_REFCOUNT_ORDER, 5)],
    ['refcount_order=6', set32(H_REFCOUNT_ORDER, 6)],
    ['refcount_order=7', set32(H_REFCOUNT_ORDER, 7)],
    ['refcount_order=0xffffffff', set32(H_REFCOUNT_ORDER, 0xffffffff)],
    ['header_length=0', set32(H_HEADER_LENGTH, 0)],
    ['header_length=72', set32(H_HEADER_LENGTH, 72)],
    ['header_length=100', set32(H_HEADER_LENGTH, 100)],
    ['header_length=104', set32(H_HEADER_LENGTH, 104)],
    ['header_length=108', set32(H_HEADER_LENGTH, 108)],
    ['header_length=120', set32(H_HEADER_LENGTH, 120)],
    ['header_length=cluster size', (b, l) => set32(H_HEADER_LENGTH, l.clusterSize)(b, l)],
    ['header_length=cluster size+8', (b, l) => set32(H_HEADER_LENGTH, l.clusterSize + 8)(b, l)],
    ['header_length=0xffffffff', set32(H_HEADER_LENGTH, 0xffffffff)],
    ['compression_type=zstd', (b) => { b[H_COMPRESSION_TYPE] = 1; return b; }],
    ['compression_type=zstd with its incompatible bit', all((b) => { b[H_COMPRESSION_TYPE] = 1; return b; }, set64(H_INCOMPAT, 8n))],
    ['compression_type=2 with its incompatible bit', all((b) => { b[H_COMPRESSION_TYPE] = 2; return b; }, set64(H_INCOMPAT, 8n))],
    ['compression_type=0xff', (b) => { b[H_COMPRESSION_TYPE] = 0xff; return b; }],
    ['backing_file_offset=header, size 8', all(set64(H_BACKING_OFFSET, 8n), set32(H_BACKING_SIZE, 8))],
    ['backing_file_offset=cluster size', (b, l) => all(set64(H_BACKING_OFFSET, BigInt(l.clusterSize)), set32(H_BACKING_SIZE, 16))(b, l)],
    ['backing_file_offset=2^63', all(set64(H_BACKING_OFFSET, 1n << 63n), set32(H_BACKING_SIZE, 16))],
    ['backing_file_size=0xffffffff', all(set64(H_BACKING_OFFSET, 512n - 64n), set32(H_BACKING_SIZE, 0xffffffff))],
  ];
  return h.map(([what, e]) => ['header', what, e]);
}

/** The header fields most likely to interact with a base's own shape (cluster size, version, backing). */
const HEADER_CORE = new Set([
  'version 2<->3', 'cluster_bits+1', 'size=L1 capacity+1', 'size and l1_size fill the L1 cluster', 'l1_size=needed-1',
  'l1_table_offset=L2 table', 'refcount_table_offset=refcount block', 'refcount_table_clusters+1', 'refcount_order=3', 'incompatible=dirty',
]);

function extensions(): Array<[Family, string, Edit]> {
  const first = (l: Layout): Extension => {
    if (!l.extensions[0]) throw new Error('base image has no header extension');
    return l.extensions[0];
  };
  const e: Entry[] = [
    ['first extension length=0xffffffff', (b, l) => set32(first(l).at + 4, 0xffffffff)(b, l)],
    ['first extension length=cluster size', (b, l) => set32(first(l).at + 4, l.clusterSize)(b, l)],
    ['first extension length-1', (b, l) => set32(first(l).at + 4, first(l).len - 1)(b, l)],
    ['first extension length+8', (b, l) => set32(first(l).at + 4, first(l).len + 8)(b, l)],
    ['first extension type unknown', (b, l) => set32(first(l).at, 0x12345678)(b, l)],
    ['no end marker, garbage after the extensions', (b, l) => {
      const last = l.extensions.at(-1)!;
      const end = last.at + 8 + Math.ceil(last.len / 8) * 8;
      const limit = l.backingOffset ? l.backingOffset : l.clusterSize;
      b.fill(0xa5, end, limit);
      return b;
    }],
    ['unknown extensions of length 0 fill the cluster', (b, l) => {
      for (let at = l.headerLength; at + 8 <= l.clusterSize; at += 8) {
        b.writeUInt32BE(0x0badf00d, at);
        b.writeUInt32BE(0, at + 4);
      }
      b.writeBigUInt64BE(0n, H_BACKING_OFFSET);
      b.writeUInt32BE(0, H_BACKING_SIZE);
      return b;
    }],
    ['two backing format extensions', withExtensions((l, b) => [{ type: EXT_BACKING_FORMAT, data: Buffer.from('raw') }, ...existingExts(l, b)])],
    ['feature table of 47 bytes', withExtensions((l, b) => [...existingExts(l, b).filter((x) => x.type !== EXT_FEATURE_TABLE), { type: EXT_FEATURE_TABLE, data: Buffer.alloc(47, 0x41) }])],
    ['bitmaps extension of garbage with the autoclear bit', all(set64(H_AUTOCLEAR, 1n), withExtensions((l, b) => [
      ...existingExts(l, b), { type: EXT_BITMAPS, data: Buffer.from('ffffffff00000000ffffffffffffffffffffffffffffff00', 'hex') }]))],
    ['bitmaps extension of garbage without the autoclear bit', withExtensions((l, b) => [
      ...existingExts(l, b), { type: EXT_BITMAPS, data: Buffer.from('ffffffff00000000ffffffffffffffffffffffffffffff00', 'hex') }])],
    ['external data file extension without the incompatible bit', withExtensions((l, b) => [...existingExts(l, b), { type: EXT_DATA_FILE, data: Buffer.from('/nonexistent/data.raw') }])],
    ['full disk encryption extension, not encrypted', withExtensions((l, b) => [...existingExts(l, b), { type: EXT_ENCRYPTION, data: Buffer.from('00000000000100000000000000100000', 'hex') }])],
  ];
  return e.map(([what, f]) => ['extension', what, f]);
}

/** The file name of the case whose backing file is itself (the runner names it so). */
const SELF_NAME = 'self-backed.qcow2';

function replaceFormat(format: string): Edit {
  return withExtensions((l, b) => [...existingExts(l, b).filter((x) => x.type !== EXT_BACKING_FORMAT), { type: EXT_BACKING_FORMAT, data: Buffer.from(format) }]);
}

function backing(): Array<[Family, string, Edit]> {
  const name = (s: string): Edit => (b, l) => {
    b.fill(0, l.backingOffset, l.clusterSize);
    Buffer.from(s).copy(b, l.backingOffset);
    b.writeUInt32BE(Buffer.byteLength(s), H_BACKING_SIZE);
    return b;
  };
  const e: Entry[] = [
    ['backing_file_offset=0 (size kept)', set64(H_BACKING_OFFSET, 0n)],
    ['backing_file_size=0', set32(H_BACKING_SIZE, 0)],
    ['backing_file_size=1', set32(H_BACKING_SIZE, 1)],
    ['backing_file_size+8 (trailing NULs)', (b, l) => set32(H_BACKING_SIZE, l.backingSize + 8)(b, l)],
    ['backing_file_size=1023', set32(H_BACKING_SIZE, 1023)],
    ['backing_file_size=1024', set32(H_BACKING_SIZE, 1024)],
    ['backing_file_offset=EOF', set64(H_BACKING_OFFSET, (l) => eof(l))],
    ['backing_file_offset runs past the first cluster', (b, l) => set64(H_BACKING_OFFSET, BigInt(l.clusterSize - 4))(b, l)],
    ['backing file names itself', name(SELF_NAME)],
    ['backing file is a directory', name('.')],
    ['backing file is /dev/null', name('/dev/null')],
    ['backing file is missing', name('no-such-backing.qcow2')],
    ['backing file with a protocol prefix', name('nbd+unix:///x?socket=/nonexistent/sock')],
    ['backing format=vmdk', replaceFormat('vmdk')],
    ['backing format empty', replaceFormat('')],
    ['backing format=qcow2\\0junk', replaceFormat('qcow2\0junk')],
    ['backing format=raw for a qcow2 backing file', replaceFormat('raw')],
  ];
  return e.map(([what, f]) => ['backing', what, f]);
}

function l1Entries(): Array<[Family, string, Edit]> {
  const put = (v: (l: Layout, b: Buffer) => bigint): Edit => set64(l1At, v);
  const cur = (l: Layout, b: Buffer): bigint => b.readBigUInt64BE(l1At(l));
  const e: Entry[] = [
    ['L1 entry -> EOF', put((l) => COPIED | eof(l))],
    ['L1 entry -> 2^55', put(() => COPIED | (1n << 55n))],
    ['L1 entry unaligned (+512)', put((l, b) => cur(l, b) + 512n)],
    ['L1 entry -> the L1 table', put((l) => COPIED | BigInt(l.l1Offset))],
    ['L1 entry -> the refcount table', put((l) => COPIED | BigInt(l.reftOffset))],
    ['L1 entry -> a refcount block', put((l) => COPIED | BigInt(block0(l)))],
    ['L1 entry -> a data cluster', put((l) => COPIED | dataOffset(l))],
    ['L1 entry COPIED cleared', put((l, b) => cur(l, b) & ~COPIED)],
    ['L1 entry reserved bit 0', put((l, b) => cur(l, b) | 1n)],
    ['L1 entry reserved bit 62', put((l, b) => cur(l, b) | (1n << 62n))],
    ['L1 entry all ones', put(() => U64)],
    ['L1 entry zero, COPIED set', put(() => COPIED)],
    ['L1 entry shared by the next index', (b, l) => {
      const at = l1At(l);
      b.writeBigUInt64BE(b.readBigUInt64BE(at), at + 8 < l.l1Offset + l.l1Size * 8 ? at + 8 : at - 8);
      return b;
    }],
    ['last L1 entry -> garbage', (b, l) => {
      b.writeBigUInt64BE(COPIED | BigInt(l.clusterSize * 3 + 512), l.l1Offset + (l.l1Size - 1) * 8);
      return b;
    }],
  ];
  return e.map(([what, f]) => ['l1', what, f]);
}

function l2Entries(): Array<[Family, string, Edit]> {
  const at = l2Where(firstData);
  const put = (v: (l: Layout, b: Buffer) => bigint): Edit => set64(at, v);
  const cur = (l: Layout, b: Buffer): bigint => b.readBigUInt64BE(at(l));
  const e: Entry[] = [
    ['data entry -> EOF', put((l) => COPIED | eof(l))],
    ['data entry -> 2^55', put(() => COPIED | (1n << 55n))],
    ['data entry unaligned (+512)', put((l, b) => cur(l, b) + 512n)],
    ['data entry -> the header (unaligned into cluster 0)', put(() => COPIED | 512n)],
    ['data entry -> the L1 table', put((l) => COPIED | BigInt(l.l1Offset))],
    ['data entry -> the refcount table', put((l) => COPIED | BigInt(l.reftOffset))],
    ['data entry -> a refcount block', put((l) => COPIED | BigInt(block0(l)))],
    ['data entry -> its own L2 table', put((l) => COPIED | BigInt(l.l2Tables[0][1]))],
    ['data entry -> the same cluster as the next one', (b, l) => {
      const a = firstData(l)!;
      const n = secondData(l)!;
      b.writeBigUInt64BE(b.readBigUInt64BE(n.at), a.at);
      return b;
    }],
    ['data entry COPIED cleared', put((l, b) => cur(l, b) & ~COPIED)],
    ['data entry reserved bit 1', put((l, b) => cur(l, b) | 2n)],
    ['data entry reserved bit 8', put((l, b) => cur(l, b) | 256n)],
    ['data entry reserved bit 56', put((l, b) => cur(l, b) | (1n << 56n))],
    ['data entry reserved bit 61', put((l, b) => cur(l, b) | (1n << 61n))],
    ['data entry gets the zero flag', put((l, b) => cur(l, b) | 1n)],
    ['data entry gets the zero flag and an unaligned offset', put((l, b) => cur(l, b) | 1n | 512n)],
    ['data entry gets the compressed flag', put((l, b) => cur(l, b) | COMPRESSED)],
    ['data entry all ones', put(() => U64)],
    ['last data entry -> EOF', set64(l2Where(lastData), (l) => COPIED | eof(l))],
    ['zero entry -> EOF with the zero flag', set64(l2Where((l) => zeroEntry(l) ?? lastData(l)), (l) => COPIED | eof(l) | 1n)],
    ['zero entry -> the L1 table with the zero flag', set64(l2Where((l) => zeroEntry(l) ?? lastData(l)), (l) => COPIED | BigInt(l.l1Offset) | 1n)],
    ['L2 table filled with pointers to one cluster', (b, l) => {
      const t = l.l2Tables[0][1];
      const v = COPIED | dataOffset(l);
      for (let i = 0; i < l.clusterSize / 8; i++) b.writeBigUInt64BE(v, t + i * 8);
      return b;
    }],
  ];
  return e.map(([what, f]) => ['l2', what, f]);
}

function compressed(): Array<[Family, string, Edit]> {
  const at = l2Where(firstCompressed);
  const put = (v: (l: Layout, b: Buffer) => bigint): Edit => set64(at, v);
  const parts = (l: Layout, b: Buffer): ReturnType<typeof compressedParts> => compressedParts(l, b.readBigUInt64BE(at(l)));
  const e: Entry[] = [
    ['descriptor -> EOF', put((l) => compressedEntry(l, eof(l), 0n))],
    ['descriptor -> EOF-100, 0 extra sectors', put((l) => compressedEntry(l, BigInt(l.fileSize - 100), 0n))],
    ['descriptor -> offset 0 (the header)', put((l, b) => compressedEntry(l, 0n, parts(l, b).sectors))],
    ['descriptor -> the L1 table', put((l, b) => compressedEntry(l, BigInt(l.l1Offset), parts(l, b).sectors))],
    ['descriptor -> the refcount table', put((l, b) => compressedEntry(l, BigInt(l.reftOffset), parts(l, b).sectors))],
    ['descriptor -> the middle of its own stream', put((l, b) => compressedEntry(l, parts(l, b).offset + 37n, parts(l, b).sectors))],
    ['descriptor with the maximum sector count', put((l, b) => compressedEntry(l, parts(l, b).offset, (1n << (62n - parts(l, b).x)) - 1n))],
    ['descriptor with 0 extra sectors', put((l, b) => compressedEntry(l, parts(l, b).offset, 0n))],
    ['descriptor with COPIED set', put((l, b) => b.readBigUInt64BE(at(l)) | COPIED)],
    ['descriptor offset bits all ones', put((l, b) => compressedEntry(l, (1n << parts(l, b).x) - 1n, parts(l, b).sectors))],
    ['two descriptors share one stream', (b, l) => {
      const c = l.l2Entries.filter((x) => (x.entry & COMPRESSED) !== 0n);
      b.writeBigUInt64BE(c[0].entry, c[1].at);
      return b;
    }],
    ['stream bytes garbled', (b, l) => {
      const p = compressedParts(l, firstCompressed(l)!.entry);
      b.fill(0xff, Number(p.offset) + 2, Number(p.offset) + 40);
      return b;
    }],
    ['stream zeroed', (b, l) => {
      const p = compressedParts(l, firstCompressed(l)!.entry);
      b.fill(0, Number(p.offset), Number(p.offset) + 64);
      return b;
    }],
    ['last stream cut by truncation', truncateTo((l) => Number(compressedParts(l, lastCompressed(l)!.entry).offset) + 20)],
    ['data cluster entry -> a stream with the compressed flag kept off', put((l, b) => COPIED | (parts(l, b).offset & ~BigInt(l.clusterSize - 1)))],
  ];
  return e.map(([what, f]) => ['compressed', what, f]);
}

function refcounts(): Array<[Family, string, Edit]> {
  const e: Entry[] = [
    ['refcount table entry 0 = 0', set64(reftAt(0), 0n)],
    ['refcount table entry 0 -> EOF', set64(reftAt(0), (l) => eof(l))],
    ['refcount table entry 0 unaligned', set64(reftAt(0), (l) => BigInt(block0(l) + 512))],
    ['refcount table entry 0 reserved bits', set64(reftAt(0), (l) => BigInt(block0(l)) | 0x1ffn)],
    ['refcount table entry 0 -> the L1 table', set64(reftAt(0), (l) => BigInt(l.l1Offset))],
    ['refcount table entry 0 -> the refcount table', set64(reftAt(0), (l) => BigInt(l.reftOffset))],
    ['refcount table entry 0 -> an L2 table', set64(reftAt(0), (l) => BigInt(l.l2Tables[0][1]))],
    ['refcount table entry 0 -> a data cluster', set64(reftAt(0), (l) => dataOffset(l))],
    ['refcount table entry 1 -> refcount block 0', set64(reftAt(1), (l) => BigInt(block0(l)))],
    ['refcount table entry 1 -> 2^62', set64(reftAt(1), 1n << 62n)],
    ['refcount block zeroed', (b, l) => b.fill(0, block0(l), block0(l) + l.clusterSize)],
    ['refcount block all ones', (b, l) => b.fill(0xff, block0(l), block0(l) + l.clusterSize)],
    ['refcount of the refcount block = 0', setRefcount((l) => block0(l) / l.clusterSize, 0n)],
    ['refcount of the L1 table = 0', setRefcount((l) => l.l1Offset / l.clusterSize, 0n)],
    ['refcount of the header = 0', setRefcount(() => 0, 0n)],
    ['refcount of a data cluster = 2', setRefcount((l) => Number(dataOffset(l)) / l.clusterSize, 2n)],
    ['refcount of a data cluster = max', (b, l) => setRefcount((x) => Number(dataOffset(x)) / x.clusterSize, (1n << BigInt(2 ** l.refcountOrder)) - 1n)(b, l)],
    ['refcount beyond EOF = 1', setRefcount((l) => Math.ceil(l.fileSize / l.clusterSize) + 3, 1n)],
  ];
  return e.map(([what, f]) => ['refcount', what, f]);
}

function snapshots(): Array<[Family, string, Edit]> {
  // qcow2.txt "Snapshot table": l1_table_offset(8) l1_size(4) id_str_size(2) name_size(2)
  // date_sec(4) date_nsec(4) vm_clock_nsec(8) vm_state_size(4) extra_data_size(4).
  const snap = (l: Layout): number => l.snapshotsOffset;
  const e: Entry[] = [
    ['nb_snapshots=0 (snapshot table leaked)', set32(H_NB_SNAPSHOTS, 0)],
    ['nb_snapshots+1', (b, l) => set32(H_NB_SNAPSHOTS, l.nbSnapshots + 1)(b, l)],
    ['snapshots_offset=L1 table', set64(H_SNAPSHOTS_OFFSET, (l) => BigInt(l.l1Offset))],
    ['snapshots_offset=EOF', set64(H_SNAPSHOTS_OFFSET, (l) => eof(l))],
    ['snapshots_offset unaligned', set64(H_SNAPSHOTS_OFFSET, (l) => BigInt(l.snapshotsOffset + 8))],
    ['snapshot L1 offset -> EOF', set64(snap, (l) => eof(l))],
    ['snapshot L1 offset unaligned', set64(snap, (l, b) => b.readBigUInt64BE(l.snapshotsOffset) + 8n)],
    ['snapshot l1_size=0x7fffffff', (b, l) => set32(snap(l) + 8, 0x7fffffff)(b, l)],
    ['snapshot id and name sizes 0xffff', (b, l) => b.fill(0xff, snap(l) + 12, snap(l) + 16)],
    ['snapshot extra_data_size=0xffffffff', (b, l) => set32(snap(l) + 36, 0xffffffff)(b, l)],
    ['snapshot L1 table entry -> EOF', (b, l) => set64(Number(b.readBigUInt64BE(snap(l))), (x) => COPIED | eof(x))(b, l)],
    // Guest cluster 0 was written before the snapshot and not since: its refcount is 2.
    ['L2 entry of a shared cluster gets COPIED', set64(l2Where(firstData), (l, b) => b.readBigUInt64BE(firstData(l)!.at) | COPIED)],
  ];
  return e.map(([what, f]) => ['snapshot', what, f]);
}

function truncations(): Array<[Family, string, Edit]> {
  const e: Entry[] = [
    ['truncated to 0', truncateTo(() => 0)],
    ['truncated to 4', truncateTo(() => 4)],
    ['truncated to 71', truncateTo(() => 71)],
    ['truncated to 72', truncateTo(() => 72)],
    ['truncated to 103', truncateTo(() => 103)],
    ['truncated inside the extensions', truncateTo((l) => l.headerLength + 12)],
    ['truncated to one cluster', truncateTo((l) => l.clusterSize)],
    ['truncated inside the L1 table', truncateTo((l) => l.l1Offset + 4)],
    ['truncated at the refcount table', truncateTo((l) => l.reftOffset)],
    ['truncated at the first L2 table', truncateTo((l) => l.l2Tables[0][1])],
    ['truncated inside the last data cluster', truncateTo((l) => Number(lastData(l)!.entry & OFFSET_MASK) + 100)],
    ['one byte short', truncateTo((l) => l.fileSize - 1)],
    ['one cluster short', truncateTo((l) => l.fileSize - l.clusterSize)],
    ['one byte appended', appendBytes(1, 0x5a)],
    ['eight garbage clusters appended', (b, l) => appendBytes(8 * l.clusterSize, 0xa5)(b, l)],
  ];
  return e.map(([what, f]) => ['truncate', what, f]);
}

/** Seeded byte flips, aimed mostly at metadata (where a flip changes what a reader does). */
function flips(base: BaseImage, count: number, seed: number): Array<[Family, string, Edit]> {
  const l = base.layout;
  const rand = rng(seed);
  const regions: Array<[string, number, number]> = [
    ['header', 0, Math.min(l.headerLength, 112)],
    ['extensions', l.headerLength, Math.min(l.clusterSize, l.headerLength + 512)],
    ['L1', l.l1Offset, l.l1Offset + Math.max(8, l.l1Size * 8)],
    ['L2', l.l2Tables[0]?.[1] ?? 0, (l.l2Tables[0]?.[1] ?? 0) + l.clusterSize],
    ['reftable', l.reftOffset, l.reftOffset + 64],
    ['refblock', l.refBlocks[0][1], l.refBlocks[0][1] + 256],
    ['anywhere', 0, l.fileSize],
  ];
  const out: Array<[Family, string, Edit]> = [];
  for (let i = 0; i < count; i++) {
    const [name, start, end] = regions[Math.floor(rand() * regions.length)];
    const n = 1 + Math.floor(rand() * 4);
    const picks: Array<[number, number]> = [];
    for (let k = 0; k < n; k++) picks.push([start + Math.floor(rand() * (end - start)), 1 + Math.floor(rand() * 255)]);
    const what = `${name} ${picks.map(([o, x]) => `${o}^0x${x.toString(16)}`).join(' ')}`;
    out.push(['flip', what, (b) => {
      for (const [o, x] of picks) if (o < b.length) b[o] ^= x;
      return b;
    }]);
  }
  return out;
}

/** Every case for every base, in a fixed order. */
export function hostileCases(bases: BaseImage[]): HostileCase[] {
  const cases: HostileCase[] = [];
  bases.forEach((base, bi) => {
    const g = base.groups;
    const list: Array<[Family, string, Edit]> = [];
    if (g.has('header-all')) list.push(...headerAll());
    else if (g.has('header-core')) list.push(...headerAll().filter(([, what]) => HEADER_CORE.has(what)));
    if (g.has('ext')) list.push(...extensions());
    if (g.has('ext') && base.layout.backingOffset === 0) {
      list.push(['extension', 'backing format extension on an image without backing file',
        withExtensions((l, b) => [{ type: EXT_BACKING_FORMAT, data: Buffer.from('qcow2') }, ...existingExts(l, b)])]);
    }
    if (g.has('backing')) list.push(...backing());
    if (g.has('l1')) list.push(...l1Entries());
    if (g.has('l2')) list.push(...l2Entries().filter(([, what]) => !what.includes('next one') || secondData(base.layout)));
    if (g.has('compressed')) list.push(...compressed());
    if (g.has('refcount')) list.push(...refcounts());
    if (g.has('snapshot')) list.push(...snapshots());
    if (g.has('truncate')) list.push(...truncations());
    list.push(...flips(base, base.flips, 0x9c0 + bi));
    for (const [family, what, edit] of list.filter(([f, w]) => !base.pick || base.pick(f, w))) {
      cases.push({
        id: `${base.name}/${family}/${what}`,
        base: base.name,
        family,
        fileName: what === 'backing file names itself' ? SELF_NAME : undefined,
        bytes: () => edit(Buffer.from(base.bytes), base.layout),
      });
    }
  });
  return cases;
}
