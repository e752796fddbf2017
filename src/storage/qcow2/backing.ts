// Backing files (qcow2.txt "Header", backing_file_offset; QEMU's bdrv_get_full_backing_filename):
// a relative name is resolved against the directory of the image that names it; the
// format comes from the backing-format extension or, when absent, from probing. Chains
// are opened read-only with shared locks, at most MAX_BACKING_DEPTH deep, and a file
// that appears twice in a chain (a -> b -> a) is refused. Leaves out: protocols (nbd:,
// json:) and other backing formats than raw and qcow2.
import fs from 'node:fs';
import nodePath from 'node:path';
import { TsvirtError } from '../../lib/errors.js';

export const MAX_BACKING_DEPTH = 16;

export function resolveBackingPath(imagePath: string, backingFile: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(backingFile) && !backingFile.startsWith('/')) {
    throw new TsvirtError(`${imagePath}: backing file '${backingFile}' uses a protocol, which is not supported`, 'use a backing file on the local file system');
  }
  return nodePath.isAbsolute(backingFile) ? backingFile : nodePath.join(nodePath.dirname(imagePath), backingFile);
}

/** Identity of a file for cycle detection (survives different spellings of the path). */
export function fileIdentity(path: string): string {
  try {
    const st = fs.statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return nodePath.resolve(path);
  }
}

export function checkBackingFormat(imagePath: string, format: string | undefined): 'raw' | 'qcow2' | undefined {
  if (format === undefined || format === 'raw' || format === 'qcow2') return format;
  throw new TsvirtError(`${imagePath}: backing file format '${format}' is not supported`, 'tsvirt reads raw and qcow2 backing files');
}

export function checkChain(imagePath: string, backingPath: string, chain: readonly string[]): void {
  if (chain.length > MAX_BACKING_DEPTH) {
    throw new TsvirtError(`${imagePath}: backing chain is deeper than ${MAX_BACKING_DEPTH} images`, 'flatten it with `tsvirt img convert`');
  }
  if (chain.includes(fileIdentity(backingPath))) {
    throw new TsvirtError(`${imagePath}: backing file ${backingPath} is already part of the chain (a backing file cycle)`, 'fix the chain with qemu-img rebase -u');
  }
}
