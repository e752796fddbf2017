// The qcow2 image header and its header extensions (QEMU docs/interop/qcow2.txt,
// "Header" and "Header extensions"), versions 2 and 3. parseHeader treats the bytes as
// hostile: every field is checked against the spec's limits and the file size before
// anything uses it. Leaves out: encryption (refused), external data files and extended L2
// entries (refused as "not supported yet"), zstd compression (refused).
import { TsvirtError } from '../../lib/errors.js';

export const QCOW_MAGIC = 0x514649fb; // 'Q' 'F' 'I' 0xfb
export const QCOW2_V2_HEADER_LENGTH = 72;
export const QCOW2_V3_HEADER_LENGTH = 104; // qemu writes 112 (compression_type + padding)
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
// QEMU's implementation limits (block/qcow2.h), which images in the wild respect.
export const QCOW_MAX_L1_SIZE = 32 * 1024 * 1024; // bytes
export const QCOW_MAX_REFTABLE_SIZE = 8 * 1024 * 1024; // bytes
export const QCOW_MAX_SNAPSHOTS = 65536;
export const MAX_BACKING_FILE_NAME = 1023;

// Feature bits (qcow2.txt "incompatible_features", "compatible_features", "autoclear_features").
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_DATA_FILE = 1n << 2n;
export const INCOMPAT_COMPRESSION = 1n << 3n;
export const INCOMPAT_EXTL2 = 1n << 4n;
export const COMPAT_LAZY_REFCOUNTS = 1n << 0n;
export const AUTOCLEAR_BITMAPS = 1n << 0n;
export const AUTOCLEAR_DATA_FILE_RAW = 1n << 1n;
const KNOWN_INCOMPAT = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

// Header extension types.
export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAME_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_FULL_DISK_ENCRYPTION = 0x0537be77;
export const EXT_EXTERNAL_DATA_FILE = 0x44415441;

// Byte offsets of the fields tsvirt rewrites in place.
export const OFF_SIZE = 24;
export const OFF_L1_SIZE = 36; // followed by l1_table_offset at 40: one 12-byte write
export const OFF_REFCOUNT_TABLE_OFFSET = 48; // followed by refcount_table_clusters at 56
export const OFF_INCOMPATIBLE_FEATURES = 72;
export const OFF_AUTOCLEAR_FEATURES = 88;

export interface HeaderExtension { type: number; data: Uint8Array }

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile?: string;
  backingFormat?: string;
  /** Extensions other than backing format and feature names, kept verbatim. */
  otherExtensions: HeaderExtension[];
  /** (type, bit) -> name, from the feature name table. */
  featureNames: Map<string, string>;
}

export function corrupt(path: string, what: string): TsvirtError {
  return new TsvirtError(`${path}: invalid qcow2 image: ${what}`, 'the image is damaged or not a qcow2 image; try `tsvirt img check`');
}

function u64(view: DataView, at: number, path: string, name: string): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(path, `${name} ${v} is out of range`);
  return Number(v);
}

/** Number of L1 entries a virtual size needs (qcow2.txt "Host cluster management"). */
export function l1EntriesFor(sizeBytes: number, clusterBits: number): number {
  const bytesPerL2 = 2 ** (clusterBits * 2 - 3); // cluster_size * (cluster_size / 8)
  return Math.ceil(sizeBytes / bytesPerL2);
}

/**
 * Parses and validates the header. `head` holds the file's first bytes (at least the
 * first cluster, or the whole file if shorter); fileSize is the file's length.
 */
export function parseHeader(head: Uint8Array, fileSize: number, path: string): Qcow2Header {
  if (fileSize < QCOW2_V2_HEADER_LENGTH || head.length < QCOW2_V2_HEADER_LENGTH) {
    throw corrupt(path, `truncated header (file is ${fileSize} bytes, a header needs at least ${QCOW2_V2_HEADER_LENGTH})`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0);
  if (magic !== QCOW_MAGIC) throw new TsvirtError(`${path}: not a qcow2 image (wrong magic 0x${magic.toString(16).padStart(8, '0')})`, 'give the right format with -f, or the right file');
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) throw new TsvirtError(`${path}: unsupported qcow2 version ${version}`, 'tsvirt reads qcow2 versions 2 and 3');
  const clusterBits = view.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw corrupt(path, `cluster_bits ${clusterBits} outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const clusterSize = 2 ** clusterBits;
  const h: Qcow2Header = {
    version: version as 2 | 3,
    backingFileOffset: u64(view, 8, path, 'backing_file_offset'),
    backingFileSize: view.getUint32(16),
    clusterBits,
    size: u64(view, 24, path, 'size'),
    cryptMethod: view.getUint32(32),
    l1Size: view.getUint32(36),
    l1TableOffset: u64(view, 40, path, 'l1_table_offset'),
    refcountTableOffset: u64(view, 48, path, 'refcount_table_offset'),
    refcountTableClusters: view.getUint32(56),
    nbSnapshots: view.getUint32(60),
    snapshotsOffset: u64(view, 64, path, 'snapshots_offset'),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: QCOW2_V2_HEADER_LENGTH,
    compressionType: 0,
    otherExtensions: [],
    featureNames: new Map(),
  };
  if (version === 3) {
    if (fileSize < QCOW2_V3_HEADER_LENGTH || head.length < QCOW2_V3_HEADER_LENGTH) throw corrupt(path, 'truncated version 3 header');
    h.incompatibleFeatures = view.getBigUint64(72);
    h.compatibleFeatures = view.getBigUint64(80);
    h.autoclearFeatures = view.getBigUint64(88);
    h.refcountOrder = view.getUint32(96);
    h.headerLength = view.getUint32(100);
    if (h.headerLength < QCOW2_V3_HEADER_LENGTH || h.headerLength % 8 !== 0 || h.headerLength > clusterSize || h.headerLength > fileSize) {
      throw corrupt(path, `header_length ${h.headerLength} is invalid`);
    }
    if (h.headerLength > 104) h.compressionType = head[104];
  }
  if (h.refcountOrder > 6) throw corrupt(path, `refcount_order ${h.refcountOrder} is larger than 6`);
  if (h.cryptMethod !== 0) throw new TsvirtError(`${path}: encrypted qcow2 images are not supported`, 'decrypt it with qemu-img convert first');

  // Header extensions follow the header, up to the end of the first cluster.
  const extLimit = Math.min(clusterSize, head.length, fileSize);
  let at = version === 3 ? h.headerLength : QCOW2_V2_HEADER_LENGTH;
  while (at + 8 <= extLimit) {
    const type = view.getUint32(at);
    const len = view.getUint32(at + 4);
    if (type === EXT_END) break;
    if (at + 8 + len > extLimit) throw corrupt(path, `header extension 0x${type.toString(16)} runs past the first cluster`);
    const data = head.subarray(at + 8, at + 8 + len);
    if (type === EXT_BACKING_FORMAT) {
      h.backingFormat = new TextDecoder().decode(data);
    } else if (type === EXT_FEATURE_NAME_TABLE) {
      for (let i = 0; i + 48 <= data.length; i += 48) {
        const name = new TextDecoder().decode(data.subarray(i + 2, i + 48)).replace(/\0.*$/s, '');
        h.featureNames.set(`${data[i]}:${data[i + 1]}`, name);
      }
    } else {
      h.otherExtensions.push({ type, data: Uint8Array.from(data) });
    }
    at += 8 + Math.ceil(len / 8) * 8;
  }

  // Incompatible features: refuse what we do not understand (qcow2.txt: "must fail to open").
  const unknown = h.incompatibleFeatures & ~KNOWN_INCOMPAT;
  if (unknown !== 0n) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if (unknown & (1n << BigInt(bit))) names.push(h.featureNames.get(`0:${bit}`) ?? `bit ${bit}`);
    }
    throw new TsvirtError(`${path}: qcow2 image uses unknown incompatible features: ${names.join(', ')}`, 'it was written by a newer tool; convert it with that tool first');
  }
  if (h.incompatibleFeatures & INCOMPAT_DATA_FILE) throw new TsvirtError(`${path}: qcow2 external data files are not supported yet`, 'convert the image to a self-contained qcow2 with qemu-img convert');
  if (h.incompatibleFeatures & INCOMPAT_EXTL2) throw new TsvirtError(`${path}: qcow2 extended L2 entries (subclusters) are not supported yet`, 'convert it with qemu-img convert -o extended_l2=off');
  // Fields that contradict each other, refused as QEMU refuses them at open (qcow2.txt
  // "autoclear_features" bit 1, "compression_type", "Full disk encryption header pointer").
  if (h.autoclearFeatures & AUTOCLEAR_DATA_FILE_RAW) throw corrupt(path, 'the raw external data bit is set but the image has no external data file');
  if (h.incompatibleFeatures & INCOMPAT_COMPRESSION && h.compressionType === 0) throw corrupt(path, 'the compression type feature bit is set for the default (zlib) compression type');
  if (h.otherExtensions.some((e) => e.type === EXT_FULL_DISK_ENCRYPTION)) throw corrupt(path, 'it has a full disk encryption header extension but is not encrypted');
  if (h.compressionType !== 0) {
    if (h.compressionType === 1) throw new TsvirtError(`${path}: zstd-compressed qcow2 images are not supported yet`, 'convert it with qemu-img convert -o compression_type=zlib');
    throw corrupt(path, `unknown compression_type ${h.compressionType}`);
  }

  // Sizes and tables against the spec's limits and the file.
  if (h.size > 2 ** 53 - clusterSize) throw corrupt(path, `virtual size ${h.size} is too large`);
  const neededL1 = l1EntriesFor(h.size, clusterBits);
  if (h.l1Size * 8 > QCOW_MAX_L1_SIZE) throw corrupt(path, `L1 table of ${h.l1Size} entries exceeds the ${QCOW_MAX_L1_SIZE}-byte limit`);
  if (h.l1Size < neededL1) throw corrupt(path, `L1 table of ${h.l1Size} entries is too small for a virtual size of ${h.size} bytes`);
  const clusterBytes = (n: number): number => Math.ceil(n / clusterSize) * clusterSize;
  if (h.l1Size > 0) {
    if (h.l1TableOffset === 0 || h.l1TableOffset % clusterSize !== 0) throw corrupt(path, `L1 table offset ${h.l1TableOffset} is not cluster-aligned`);
    if (h.l1TableOffset + h.l1Size * 8 > fileSize) {
      throw corrupt(path, `L1 table at offset ${h.l1TableOffset} (${h.l1Size * 8} bytes) lies beyond the end of the file (${fileSize} bytes)`);
    }
  }
  if (h.refcountTableClusters === 0 || h.refcountTableClusters * clusterSize > QCOW_MAX_REFTABLE_SIZE) {
    throw corrupt(path, `refcount table of ${h.refcountTableClusters} clusters is outside 1..${QCOW_MAX_REFTABLE_SIZE / clusterSize}`);
  }
  if (h.refcountTableOffset === 0 || h.refcountTableOffset % clusterSize !== 0) throw corrupt(path, `refcount table offset ${h.refcountTableOffset} is not cluster-aligned`);
  if (h.refcountTableOffset >= fileSize) throw corrupt(path, `refcount table at offset ${h.refcountTableOffset} lies beyond the end of the file (${fileSize} bytes)`);
  if (h.nbSnapshots > QCOW_MAX_SNAPSHOTS) throw corrupt(path, `${h.nbSnapshots} snapshots exceed the limit of ${QCOW_MAX_SNAPSHOTS}`);
  // qcow2.txt: the snapshot table offset "must be aligned to a cluster boundary", with or
  // without snapshots; QEMU refuses the image otherwise.
  if (h.snapshotsOffset % clusterSize !== 0) throw corrupt(path, `snapshot table offset ${h.snapshotsOffset} is not cluster-aligned`);
  if (h.nbSnapshots > 0 && (h.snapshotsOffset === 0 || h.snapshotsOffset >= fileSize)) {
    throw corrupt(path, `snapshot table offset ${h.snapshotsOffset} is invalid`);
  }
  // The fixed structures must not overlap each other (a hostile image could make a
  // refcount update overwrite the header or the L1 table).
  const regions: Array<[string, number, number]> = [
    ['header', 0, clusterSize],
    ['refcount table', h.refcountTableOffset, h.refcountTableClusters * clusterSize],
  ];
  if (h.l1Size > 0) regions.push(['L1 table', h.l1TableOffset, clusterBytes(h.l1Size * 8)]);
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const [an, a0, alen] = regions[i];
      const [bn, b0, blen] = regions[j];
      if (a0 < b0 + blen && b0 < a0 + alen) throw corrupt(path, `the ${bn} overlaps the ${an}`);
    }
  }
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > MAX_BACKING_FILE_NAME) throw corrupt(path, `backing file name length ${h.backingFileSize} is more than ${MAX_BACKING_FILE_NAME}`);
    if (h.backingFileOffset + h.backingFileSize > extLimit) throw corrupt(path, 'backing file name lies outside the first cluster');
    // An empty name is no backing file, as QEMU reads it (bs->backing_file is "").
    if (h.backingFileSize > 0) h.backingFile = new TextDecoder().decode(head.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize));
  }
  return h;
}

/** qcow2.txt "Feature name table": the names qemu writes, so qemu-img can name our bits. */
function featureNameTable(): Uint8Array {
  const entries: Array<[number, number, string]> = [
    [0, 0, 'dirty bit'], [0, 1, 'corrupt bit'], [0, 2, 'external data file'], [0, 3, 'compression type'],
    [0, 4, 'extended L2 entries'], [1, 0, 'lazy refcounts'], [2, 0, 'bitmaps'], [2, 1, 'raw external data'],
  ];
  const out = new Uint8Array(entries.length * 48);
  entries.forEach(([type, bit, name], i) => {
    out[i * 48] = type;
    out[i * 48 + 1] = bit;
    out.set(new TextEncoder().encode(name), i * 48 + 2);
  });
  return out;
}

/**
 * Serializes a version 3 header with its extensions and the backing file name into the
 * first cluster (qemu's layout: header, extensions, end marker, backing file name).
 */
export function serializeHeader(h: Qcow2Header): Uint8Array {
  const clusterSize = 2 ** h.clusterBits;
  const buf = new Uint8Array(clusterSize);
  const view = new DataView(buf.buffer);
  const headerLength = 112;
  view.setUint32(0, QCOW_MAGIC);
  view.setUint32(4, 3);
  view.setUint32(20, h.clusterBits);
  view.setBigUint64(24, BigInt(h.size));
  view.setUint32(32, 0);
  view.setUint32(36, h.l1Size);
  view.setBigUint64(40, BigInt(h.l1TableOffset));
  view.setBigUint64(48, BigInt(h.refcountTableOffset));
  view.setUint32(56, h.refcountTableClusters);
  view.setUint32(60, 0);
  view.setBigUint64(64, 0n);
  view.setBigUint64(72, h.incompatibleFeatures);
  view.setBigUint64(80, h.compatibleFeatures);
  view.setBigUint64(88, h.autoclearFeatures);
  view.setUint32(96, h.refcountOrder);
  view.setUint32(100, headerLength);
  buf[104] = 0; // compression_type zlib
  let at = headerLength;
  const put = (type: number, data: Uint8Array): void => {
    const padded = Math.ceil(data.length / 8) * 8;
    if (at + 8 + padded > clusterSize) throw new TsvirtError('qcow2 header extensions do not fit in one cluster', 'use a larger cluster size or a shorter backing file name');
    view.setUint32(at, type);
    view.setUint32(at + 4, data.length);
    buf.set(data, at + 8);
    at += 8 + padded;
  };
  if (h.backingFormat) put(EXT_BACKING_FORMAT, new TextEncoder().encode(h.backingFormat));
  put(EXT_FEATURE_NAME_TABLE, featureNameTable());
  at += 8; // end marker (zeros)
  if (h.backingFile) {
    const name = new TextEncoder().encode(h.backingFile);
    if (name.length > MAX_BACKING_FILE_NAME || at + name.length > clusterSize) {
      throw new TsvirtError(`backing file name '${h.backingFile}' is too long`, `it may have at most ${MAX_BACKING_FILE_NAME} bytes`);
    }
    buf.set(name, at);
    view.setBigUint64(8, BigInt(at));
    view.setUint32(16, name.length);
    at += name.length;
  }
  return buf.subarray(0, at);
}
