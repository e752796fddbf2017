// The one opener (STYLE.md §5): probes the header, picks raw or qcow2, and opens the
// backing chain of a qcow2 image (read-only, shared locks, depth and cycle checked).
// Everything above storage sees only the BlockDevice it returns.
import fs from 'node:fs';
import { TsvirtError } from '../lib/errors.js';
import type { BlockDevice } from './block-device.js';
import { openImageFd } from './image-file.js';
import { checkBackingFormat, checkChain, fileIdentity, resolveBackingPath } from './qcow2/backing.js';
import { QCOW_MAGIC } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawImage } from './raw-image.js';

export type ImageFormat = 'raw' | 'qcow2';

export interface OpenImageOptions {
  readOnly: boolean;
  /** Skip probing; a qcow2 request for a file without the qcow2 magic is an error. */
  format?: ImageFormat;
  /** Open without taking the image lock (qemu-img -U, "force share"); read-only only. */
  forceShare?: boolean;
  /**
   * Files, and directories holding files, the user allows as backing files besides each
   * image's own directory (see qcow2/backing.ts for why the rule exists).
   */
  allowBacking?: readonly string[];
  /** Internal: identities of the images that already name this one (cycle and depth checks). */
  chain?: readonly string[];
}

/** Reads the first bytes and says which format the file is. */
export function probeFormat(path: string): ImageFormat {
  const fd = openImageFd(path, true);
  try {
    const b = Buffer.alloc(4);
    const n = fs.readSync(fd, b, 0, 4, 0);
    return n === 4 && b.readUInt32BE(0) === QCOW_MAGIC ? 'qcow2' : 'raw';
  } finally {
    fs.closeSync(fd);
  }
}

export function openImage(path: string, opts: OpenImageOptions): BlockDevice & { format: ImageFormat } {
  if (opts.forceShare && !opts.readOnly) throw new TsvirtError('force-share (-U) is only allowed for read-only access', 'drop -U or open read-only');
  const format = opts.format ?? probeFormat(path);
  const noLock = opts.forceShare === true;
  if (format === 'raw') return RawImage.open(path, { readOnly: opts.readOnly, noLock });
  if (format !== 'qcow2') throw new TsvirtError(`unknown image format '${String(format)}'`, 'use raw or qcow2');
  const chain = [...(opts.chain ?? []), fileIdentity(path)];
  return Qcow2Image.open(path, {
    readOnly: opts.readOnly,
    noLock,
    openBacking: (img) => {
      const name = img.header.backingFile;
      if (name === undefined) return undefined;
      const backingPath = resolveBackingPath(path, name, opts.allowBacking);
      checkChain(path, backingPath, chain);
      const backingFormat = checkBackingFormat(path, img.header.backingFormat);
      if (!fs.existsSync(backingPath)) throw new TsvirtError(`${path}: backing file ${backingPath} does not exist`, 'restore the backing file or rebase the image');
      return openImage(backingPath, { readOnly: true, format: backingFormat, forceShare: opts.forceShare, allowBacking: opts.allowBacking, chain });
    },
  });
}
