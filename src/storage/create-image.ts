// Creating raw and qcow2 images (qemu-img create). A qcow2 image is born as qemu lays it
// out: header in cluster 0, a one-cluster refcount table in cluster 1, the first
// refcount block in cluster 2, then the L1 table, which the same code that resizes
// images allocates (so creation and growth share one tested path). The file is locked
// while it is written, and a file this call created is removed again if creation fails.
// Leaves out: encryption, compat=0.10 (version 2) creation, extended L2, external data.
import fs from 'node:fs';
import nodePath from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import { ImageLock } from './image-lock.js';
import { type ImageFormat, openImage } from './open-image.js';
import { preallocate } from './preallocate.js';
import { backingPathOf, checkBackingFormat } from './qcow2/backing.js';
import { COMPAT_LAZY_REFCOUNTS, MAX_CLUSTER_BITS, MIN_CLUSTER_BITS, type Qcow2Header, serializeHeader } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { parseSize } from './size.js';

export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

export interface CreateImageOptions {
  path: string;
  format: ImageFormat;
  /** Virtual size; may be omitted when a backing file gives it. */
  sizeBytes?: number;
  backingFile?: string;
  backingFormat?: ImageFormat;
  /** Where the backing file's own backing files may be, besides its directory (open-image.ts). */
  allowBacking?: readonly string[];
  clusterSizeBytes?: number;
  preallocation?: Preallocation;
  lazyRefcounts?: boolean;
  refcountBits?: number;
  /** Replace an existing file (qemu-img create does); otherwise an existing file is an error. */
  overwrite?: boolean;
}

export interface CreatedImage {
  path: string;
  format: ImageFormat;
  sizeBytes: number;
  /** True when the file did not exist before this call. */
  createdFile: boolean;
  /** Identity of the file this call produced (device, inode, birth time in ns). */
  identity: string;
}

/** Device, inode and birth time: an inode number alone is reused when a file is replaced. */
export function fileIdentityOf(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
}

/** `-o key=value,...` of qemu-img create, as a partial CreateImageOptions. */
export function parseCreateOptions(text: string | undefined): Partial<CreateImageOptions> {
  const out: Partial<CreateImageOptions> = {};
  if (!text) return out;
  for (const part of text.split(',').filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const onOff = (): boolean => {
      if (value === 'on' || value === 'true') return true;
      if (value === 'off' || value === 'false') return false;
      throw new TsvirtError(`invalid value '${value}' for option ${key}`, 'use on or off');
    };
    switch (key) {
      case 'cluster_size': out.clusterSizeBytes = parseSize(value, 'cluster_size'); break;
      case 'preallocation':
        if (!['off', 'metadata', 'falloc', 'full'].includes(value)) throw new TsvirtError(`invalid preallocation '${value}'`, 'use off, metadata, falloc or full');
        out.preallocation = value as Preallocation;
        break;
      case 'lazy_refcounts': out.lazyRefcounts = onOff(); break;
      case 'refcount_bits': out.refcountBits = Number(value); break;
      case 'backing_file': out.backingFile = value; break;
      case 'backing_fmt': out.backingFormat = value as ImageFormat; break;
      case 'size': out.sizeBytes = parseSize(value); break;
      case 'compat':
        if (value !== '1.1' && value !== 'v3') throw new TsvirtError(`compat=${value} is not supported yet`, 'tsvirt creates qcow2 version 3 (compat=1.1) images');
        break;
      default:
        throw new TsvirtError(`unknown image option '${key}'`, 'supported: cluster_size, preallocation, lazy_refcounts, refcount_bits, backing_file, backing_fmt, compat, size');
    }
  }
  return out;
}

function validate(o: CreateImageOptions): { clusterBits: number; refcountOrder: number } {
  if (o.format !== 'raw' && o.format !== 'qcow2') throw new TsvirtError(`unknown image format '${String(o.format)}'`, 'use raw or qcow2');
  const prealloc = o.preallocation ?? 'off';
  if (o.format === 'raw') {
    if (o.backingFile) throw new TsvirtError('raw images cannot have a backing file', 'use -f qcow2');
    if (prealloc === 'metadata') throw new TsvirtError('preallocation=metadata is only for qcow2', 'use off, falloc or full for raw images');
    if (o.clusterSizeBytes !== undefined || o.lazyRefcounts !== undefined || o.refcountBits !== undefined) {
      throw new TsvirtError('cluster_size, lazy_refcounts and refcount_bits are qcow2 options', 'drop them or use -f qcow2');
    }
  }
  if (prealloc !== 'off' && o.backingFile) throw new TsvirtError('preallocation is not allowed with a backing file', 'drop -o preallocation');
  const cs = o.clusterSizeBytes ?? 65536;
  const clusterBits = Math.log2(cs);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new TsvirtError(`invalid cluster_size ${cs}`, 'use a power of two from 512 to 2M');
  }
  const bits = o.refcountBits ?? 16;
  const refcountOrder = Math.log2(bits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw new TsvirtError(`invalid refcount_bits ${o.refcountBits}`, 'use a power of two from 1 to 64');
  }
  return { clusterBits, refcountOrder };
}

/** Sets a raw image's length; a size the file system cannot hold is the user's error. */
function truncateTo(fd: number, path: string, sizeBytes: number): void {
  try {
    fs.ftruncateSync(fd, sizeBytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EFBIG' || code === 'EINVAL') {
      throw new TsvirtError(`${path}: the file system cannot hold a file of ${sizeBytes} bytes (${code})`, 'use a smaller size, qcow2, or another file system', { cause: err });
    }
    throw err;
  }
}

/** Opens the destination: exclusively new, or (overwrite) an existing file locked then emptied. */
function openDestination(path: string, overwrite: boolean): { fd: number; createdFile: boolean } {
  try {
    return { fd: fs.openSync(path, 'wx+', 0o644), createdFile: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && overwrite) return { fd: fs.openSync(path, 'r+'), createdFile: false };
    if (code === 'EEXIST') throw new TsvirtError(`${path} already exists`, 'choose another path, or remove the file first');
    if (code === 'ENOENT') throw new TsvirtError(`cannot create ${path}: directory ${nodePath.dirname(path)} does not exist`, 'create the directory first');
    throw new TsvirtError(`cannot create ${path} (${code ?? (err as Error).message})`, 'check the directory permissions', { cause: err });
  }
}

export function createImage(o: CreateImageOptions): CreatedImage {
  const { clusterBits, refcountOrder } = validate(o);
  let sizeBytes = o.sizeBytes;
  let backingFormat = o.backingFormat;
  if (o.backingFile) {
    // The backing chain must open (formats, cycles, depth) before anything is written.
    // The user names this backing file, so it may be anywhere; what it names in turn is
    // held to the rule of qcow2/backing.ts.
    const backingPath = backingPathOf(o.path, o.backingFile);
    if (!fs.existsSync(backingPath)) throw new TsvirtError(`backing file ${backingPath} does not exist`, 'a relative backing path is resolved against the new image\'s directory');
    const backing = openImage(backingPath, { readOnly: true, format: checkBackingFormat(o.path, backingFormat), allowBacking: o.allowBacking });
    try {
      backingFormat = backing.format;
      sizeBytes ??= backing.size;
    } finally {
      backing.close();
    }
  }
  if (sizeBytes === undefined) throw new TsvirtError('image size is missing', 'give a size (e.g. 20G) or a backing file');
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new TsvirtError(`invalid image size ${sizeBytes}`, 'give a size in bytes with an optional suffix');
  if (sizeBytes % 512 !== 0) sizeBytes = Math.ceil(sizeBytes / 512) * 512; // qemu-img create rounds up to sectors too

  const { fd, createdFile } = openDestination(o.path, o.overwrite ?? false);
  let lock: ImageLock | undefined;
  let ok = false;
  try {
    lock = ImageLock.acquire(fd, o.path, 'exclusive');
    fs.ftruncateSync(fd, 0);
    const prealloc = o.preallocation ?? 'off';
    if (o.format === 'raw') {
      truncateTo(fd, o.path, sizeBytes);
      if (prealloc === 'falloc' || prealloc === 'full') preallocate(fd, 0, sizeBytes, prealloc);
    } else {
      writeQcow2Bootstrap(fd, clusterBits, refcountOrder, o.lazyRefcounts ?? false, o.backingFile, backingFormat);
    }
    fs.fsyncSync(fd);
    lock.release();
    lock = undefined;
    if (o.format === 'qcow2') finishQcow2(o.path, sizeBytes, prealloc);
    ok = true;
    return { path: o.path, format: o.format, sizeBytes, createdFile, identity: fileIdentityOf(fs.fstatSync(fd, { bigint: true })) };
  } finally {
    lock?.release();
    fs.closeSync(fd);
    if (!ok && createdFile) fs.rmSync(o.path, { force: true });
  }
}

/** Header, refcount table and the first refcount block (counting clusters 0..2); no L1 yet. */
function writeQcow2Bootstrap(fd: number, clusterBits: number, refcountOrder: number, lazy: boolean, backingFile: string | undefined, backingFormat: string | undefined): void {
  const cs = 2 ** clusterBits;
  const h: Qcow2Header = {
    version: 3, backingFileOffset: 0, backingFileSize: 0, clusterBits, size: 0, cryptMethod: 0,
    l1Size: 0, l1TableOffset: 0, refcountTableOffset: cs, refcountTableClusters: 1, nbSnapshots: 0, snapshotsOffset: 0,
    incompatibleFeatures: 0n, compatibleFeatures: lazy ? COMPAT_LAZY_REFCOUNTS : 0n, autoclearFeatures: 0n,
    refcountOrder, headerLength: 112, compressionType: 0, backingFile, backingFormat, otherExtensions: [], featureNames: new Map(),
  };
  const image = Buffer.alloc(3 * cs);
  Buffer.from(serializeHeader(h)).copy(image, 0);
  image.writeBigUInt64BE(BigInt(2 * cs), cs); // refcount table[0] -> block at cluster 2
  const bits = 2 ** refcountOrder;
  const block = image.subarray(2 * cs);
  for (let c = 0; c < 3; c++) {
    // Big-endian count of 1 in a bits-wide field; narrower fields pack LSB-first.
    if (bits < 8) block[Math.floor((c * bits) / 8)] |= 1 << ((c * bits) % 8);
    else block[(c + 1) * (bits / 8) - 1] = 1;
  }
  fs.writeSync(fd, image, 0, image.length, 0);
}

function finishQcow2(path: string, sizeBytes: number, prealloc: Preallocation): void {
  const img = Qcow2Image.open(path, { readOnly: false });
  try {
    img.resize(sizeBytes);
    if (prealloc !== 'off') {
      const runs = img.preallocateMetadata();
      if (prealloc === 'falloc' || prealloc === 'full') for (const r of runs) preallocate(img.file.fd, r.hostOffset, r.len, prealloc);
    }
    img.flush();
  } finally {
    img.close();
  }
}
