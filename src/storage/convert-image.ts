// `qemu-img convert`: copies the virtual disk of any image (flattening its backing chain)
// into a new raw or qcow2 image. Sparse-aware: ranges the source reports as zeros
// (blockStatus) are skipped without reading, and read data is scanned for all-zero
// blocks (4 KiB for raw, one cluster for qcow2), which are not written, so they stay
// holes / unallocated clusters. Leaves out: writing compressed clusters (-c), -B, -n.
import fs from 'node:fs';
import type { BlockStatusRun } from './block-device.js';
import { createImage } from './create-image.js';
import { type ImageFormat, openImage } from './open-image.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';

export interface ConvertOptions {
  src: string;
  srcFormat?: ImageFormat;
  /** Backing files of the source allowed outside its directory (open-image.ts). */
  allowBacking?: readonly string[];
  dst: string;
  dstFormat: ImageFormat;
  clusterSizeBytes?: number;
  /** Called after each chunk with bytes processed so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const CHUNK_BYTES = 4 * 1024 * 1024;

export function convertImage(o: ConvertOptions): { sizeBytes: number; writtenBytes: number } {
  const src = openImage(o.src, { readOnly: true, format: o.srcFormat, allowBacking: o.allowBacking });
  let createdFile = false;
  let ok = false;
  try {
    const created = createImage({ path: o.dst, format: o.dstFormat, sizeBytes: Math.ceil(src.size / 512) * 512, clusterSizeBytes: o.clusterSizeBytes, overwrite: true });
    createdFile = created.createdFile;
    const dst = openImage(o.dst, { readOnly: false, format: o.dstFormat });
    let written = 0;
    try {
      const granule = dst instanceof Qcow2Image ? dst.clusterSize : 4096;
      const chunk = Math.max(CHUNK_BYTES, granule);
      const buf = Buffer.allocUnsafe(chunk);
      const zeros = Buffer.alloc(granule);
      for (let pos = 0; pos < src.size; pos += chunk) {
        const len = Math.min(chunk, src.size - pos);
        const runs: BlockStatusRun[] = src.blockStatus?.(pos, len) ?? [{ offset: pos, len, kind: 'data' }];
        for (const run of runs) {
          if (run.kind === 'zero') continue;
          const data = buf.subarray(0, run.len);
          src.read(run.offset, data);
          // Write maximal spans of non-zero granules (granules aligned to absolute offsets).
          let spanStart = -1;
          let at = 0;
          while (at < run.len) {
            const g = Math.min(run.len - at, granule - ((run.offset + at) % granule));
            const isZero = data.subarray(at, at + g).equals(g === granule ? zeros : zeros.subarray(0, g));
            if (!isZero && spanStart < 0) spanStart = at;
            if (isZero && spanStart >= 0) {
              dst.write(run.offset + spanStart, data.subarray(spanStart, at));
              written += at - spanStart;
              spanStart = -1;
            }
            at += g;
          }
          if (spanStart >= 0) {
            dst.write(run.offset + spanStart, data.subarray(spanStart, run.len));
            written += run.len - spanStart;
          }
        }
        o.onProgress?.(pos + len, src.size);
      }
      if (src.size === 0) o.onProgress?.(0, 0);
      dst.flush();
    } finally {
      dst.close();
    }
    ok = true;
    return { sizeBytes: src.size, writtenBytes: written };
  } finally {
    src.close();
    if (!ok && createdFile) fs.rmSync(o.dst, { force: true });
  }
}
