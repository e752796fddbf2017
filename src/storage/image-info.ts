// What `qemu-img info` reports, with its JSON key names (QEMU qapi ImageInfo): virtual-size,
// filename, cluster-size, format, actual-size, backing-filename(-format),
// full-backing-filename, dirty-flag, and for qcow2 format-specific {type, data {compat,
// compression-type, lazy-refcounts, refcount-bits, corrupt, extended-l2}}. Leaves out:
// snapshots lists and bitmaps.
import fs from 'node:fs';
import { TsvirtError } from '../lib/errors.js';
import { resolveBackingPath } from './qcow2/backing.js';
import { COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, INCOMPAT_EXTL2 } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { type ImageFormat, openImage } from './open-image.js';
import { formatSize } from './size.js';

export interface ImageInfo {
  'virtual-size': number;
  filename: string;
  'cluster-size'?: number;
  format: ImageFormat;
  'actual-size': number;
  'format-specific'?: {
    type: 'qcow2';
    data: { compat: string; 'compression-type': 'zlib'; 'lazy-refcounts': boolean; 'refcount-bits': number; corrupt: boolean; 'extended-l2': boolean };
  };
  'full-backing-filename'?: string;
  'backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag': boolean;
}

export function getImageInfo(path: string, opts: { format?: ImageFormat; forceShare?: boolean; allowBacking?: readonly string[] } = {}): ImageInfo {
  const img = openImage(path, { readOnly: true, format: opts.format, forceShare: opts.forceShare, allowBacking: opts.allowBacking });
  try {
    const actual = fs.statSync(path).blocks * 512;
    if (!(img instanceof Qcow2Image)) {
      return { 'virtual-size': img.size, filename: path, format: img.format, 'actual-size': actual, 'dirty-flag': false };
    }
    const h = img.header;
    const info: ImageInfo = {
      'virtual-size': img.size,
      filename: path,
      'cluster-size': img.clusterSize,
      format: 'qcow2',
      'actual-size': actual,
      'format-specific': {
        type: 'qcow2',
        data: {
          compat: h.version === 3 ? '1.1' : '0.10',
          'compression-type': 'zlib',
          'lazy-refcounts': (h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0n,
          'refcount-bits': 2 ** h.refcountOrder,
          corrupt: (h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0n,
          'extended-l2': (h.incompatibleFeatures & INCOMPAT_EXTL2) !== 0n,
        },
      },
      'dirty-flag': (h.incompatibleFeatures & INCOMPAT_DIRTY) !== 0n,
    };
    if (h.backingFile !== undefined) {
      info['full-backing-filename'] = resolveBackingPath(path, h.backingFile, opts.allowBacking);
      info['backing-filename'] = h.backingFile;
      if (h.backingFormat) info['backing-filename-format'] = h.backingFormat;
    }
    return info;
  } finally {
    img.close();
  }
}

/** The human form, laid out like `qemu-img info`. */
export function formatImageInfo(i: ImageInfo): string {
  const lines = [
    `image: ${i.filename}`,
    `file format: ${i.format}`,
    `virtual size: ${formatSize(i['virtual-size'])} (${i['virtual-size']} bytes)`,
    `disk size: ${formatSize(i['actual-size'])}`,
  ];
  if (i['cluster-size'] !== undefined) lines.push(`cluster_size: ${i['cluster-size']}`);
  if (i['backing-filename'] !== undefined) {
    lines.push(`backing file: ${i['backing-filename']}${i['full-backing-filename'] !== i['backing-filename'] ? ` (actual path: ${i['full-backing-filename']})` : ''}`);
    if (i['backing-filename-format']) lines.push(`backing file format: ${i['backing-filename-format']}`);
  }
  const fs = i['format-specific'];
  if (fs) {
    lines.push('Format specific information:');
    lines.push(`    compat: ${fs.data.compat}`);
    lines.push(`    compression type: ${fs.data['compression-type']}`);
    lines.push(`    lazy refcounts: ${fs.data['lazy-refcounts']}`);
    lines.push(`    refcount bits: ${fs.data['refcount-bits']}`);
    lines.push(`    corrupt: ${fs.data.corrupt}`);
    lines.push(`    extended l2: ${fs.data['extended-l2']}`);
  }
  return `${lines.join('\n')}\n`;
}

export function assertFormat(value: string | undefined): ImageFormat | undefined {
  if (value === undefined || value === 'raw' || value === 'qcow2') return value;
  throw new TsvirtError(`unknown image format '${value}'`, 'use raw or qcow2');
}
