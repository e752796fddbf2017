// `qemu-img resize`: grows raw and qcow2 images; shrinks raw images only with `shrink`
// (qemu-img's --shrink), since the data past the new end is lost. Leaves out: shrinking
// qcow2 and preallocating the new space.
import { TsvirtError } from '../lib/errors.js';
import { type ImageFormat, openImage } from './open-image.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawImage } from './raw-image.js';
import type { SizeChange } from './size.js';

export function resizeImage(path: string, change: SizeChange, opts: { format?: ImageFormat; shrink?: boolean; allowBacking?: readonly string[] } = {}): { oldSizeBytes: number; newSizeBytes: number } {
  const img = openImage(path, { readOnly: false, format: opts.format, allowBacking: opts.allowBacking });
  try {
    const old = img.size;
    let size = change.kind === 'absolute' ? change.sizeBytes : change.kind === 'grow' ? old + change.deltaBytes : old - change.deltaBytes;
    if (size < 0) throw new TsvirtError(`cannot shrink ${path} below zero bytes`, `it is ${old} bytes`);
    if (img instanceof Qcow2Image) {
      size = Math.ceil(size / 512) * 512;
      if (size < old) throw new TsvirtError('shrinking qcow2 images is not supported yet', 'convert the data to a new, smaller image instead');
      img.resize(size);
    } else if (img instanceof RawImage) {
      if (size < old && !opts.shrink) throw new TsvirtError(`shrinking ${path} from ${old} to ${size} bytes would lose data`, 'pass --shrink if that is intended');
      img.resize(size);
    }
    return { oldSizeBytes: old, newSizeBytes: size };
  } finally {
    img.close();
  }
}
