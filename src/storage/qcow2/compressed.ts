// Compressed clusters (qcow2.txt "Compressed Clusters Descriptor"): an L2 entry with bit
// 62 set holds a byte offset (bits 0..x-1, x = 62 - (cluster_bits - 8)) and the number of
// additional 512-byte sectors the deflate stream may span (bits x..61). The stream is raw
// deflate (zlib compression_type 0), as QEMU writes it with window bits -12. Leaves out:
// writing compressed clusters and zstd.
import zlib from 'node:zlib';
import type { ImageFile } from '../image-file.js';
import { corrupt } from './header.js';

export const QCOW2_COMPRESSED_SECTOR_SIZE = 512;

export interface CompressedDescriptor {
  /** Byte offset of the compressed data in the file. */
  hostOffset: number;
  /** Number of 512-byte sectors the data may span (the additional count + 1). */
  sectors: number;
}

export function decodeCompressed(hi: number, lo: number, clusterBits: number): CompressedDescriptor {
  const x = 62 - (clusterBits - 8); // bit where the sector count starts
  const hiOffsetBits = x - 32;
  const hostOffset = (hi & ((1 << hiOffsetBits) - 1)) * 2 ** 32 + (lo >>> 0);
  const sectorBits = 62 - x;
  const extra = (hi >>> hiOffsetBits) & ((1 << sectorBits) - 1);
  return { hostOffset, sectors: extra + 1 };
}

/** Host byte range QEMU counts as referenced by a compressed cluster (for refcounts). */
export function compressedHostRange(d: CompressedDescriptor): { start: number; len: number } {
  const start = d.hostOffset - (d.hostOffset % QCOW2_COMPRESSED_SECTOR_SIZE);
  return { start, len: d.sectors * QCOW2_COMPRESSED_SECTOR_SIZE };
}

/** Reads and inflates one compressed cluster into `out` (cluster-sized). Hostile: bounded. */
export function readCompressedCluster(file: ImageFile, path: string, d: CompressedDescriptor, out: Uint8Array): void {
  if (d.hostOffset >= file.sizeBytes) throw corrupt(path, `compressed cluster at offset ${d.hostOffset} lies beyond the end of the file`);
  const csize = d.sectors * QCOW2_COMPRESSED_SECTOR_SIZE - (d.hostOffset % QCOW2_COMPRESSED_SECTOR_SIZE);
  const avail = Math.min(csize, file.sizeBytes - d.hostOffset);
  const input = Buffer.allocUnsafe(avail);
  file.readAt(input, d.hostOffset);
  let plain: Buffer;
  try {
    plain = zlib.inflateRawSync(input, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: out.length });
  } catch (err) {
    // maxOutputLength exceeded means the stream holds more than one cluster: corrupt too.
    throw corrupt(path, `compressed cluster at offset ${d.hostOffset} does not inflate (${(err as Error).message})`);
  }
  if (plain.length !== out.length) throw corrupt(path, `compressed cluster at offset ${d.hostOffset} inflates to ${plain.length} bytes, not ${out.length}`);
  out.set(plain);
}
