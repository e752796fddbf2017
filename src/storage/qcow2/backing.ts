// Backing files (qcow2.txt "Header", backing_file_offset; QEMU's bdrv_get_full_backing_filename):
// a relative name is resolved against the directory of the image that names it; the
// format comes from the backing-format extension or, when absent, from probing. Chains
// are opened read-only with shared locks, at most MAX_BACKING_DEPTH deep, and a file
// that appears twice in a chain (a -> b -> a) is refused. Leaves out: protocols (nbd:,
// json:) and other backing formats than raw and qcow2.
//
// The name is written by whoever made the image, which may be a download: qemu follows
// `/etc/shadow` or `../../etc/shadow` and hands that file to the guest as its disk. tsvirt
// follows a name only to a file in the image's own directory (or below it), after symlinks
// are resolved, unless the user allowed the file or a directory holding it: `--allow-backing`
// on `tsvirt img`, a `backing_store=` they gave to tsvirt-install, a <backingStore> in a
// definition they wrote.
import fs from 'node:fs';
import nodePath from 'node:path';
import { TsvirtError } from '../../lib/errors.js';

export const MAX_BACKING_DEPTH = 16;

/**
 * The path `backingFile` (as written in `imagePath`) names, once it has passed the trust
 * rule above. `allowed` holds files and directories the user allowed beyond the image's
 * own directory.
 */
export function resolveBackingPath(imagePath: string, backingFile: string, allowed: readonly string[] = []): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(backingFile) && !backingFile.startsWith('/')) {
    throw new TsvirtError(`${imagePath}: backing file '${backingFile}' uses a protocol, which is not supported`, 'use a backing file on the local file system');
  }
  if (backingFile.includes('\0')) throw new TsvirtError(`${imagePath}: backing file name contains a NUL byte`, 'the image is damaged or hostile');
  const resolved = backingPathOf(imagePath, backingFile);
  if (!backingAllowed(imagePath, resolved, allowed)) {
    throw new TsvirtError(
      `${imagePath}: backing file '${backingFile}' is outside the image's directory (${realPath(resolved)})`,
      `if you trust this image, allow its backing file with --allow-backing ${resolved}`,
    );
  }
  return resolved;
}

/** Where a backing name points, without the trust rule: for a name the user gave (`img create -b`). */
export function backingPathOf(imagePath: string, backingFile: string): string {
  return nodePath.isAbsolute(backingFile) ? backingFile : nodePath.join(nodePath.dirname(imagePath), backingFile);
}

function realPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return nodePath.resolve(p);
  }
}

function isWithin(dir: string, p: string): boolean {
  const rel = nodePath.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${nodePath.sep}`) && !nodePath.isAbsolute(rel));
}

function backingAllowed(imagePath: string, resolved: string, allowed: readonly string[]): boolean {
  const target = realPath(resolved);
  if (isWithin(realPath(nodePath.dirname(imagePath)), target)) return true;
  return allowed.some((a) => {
    const entry = realPath(a);
    if (entry === target) return true;
    try {
      return fs.statSync(entry).isDirectory() && isWithin(entry, target);
    } catch {
      return false;
    }
  });
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
  // An empty backing-format extension names no format: probe, as qemu does.
  if (format === undefined || format === '') return undefined;
  if (format === 'raw' || format === 'qcow2') return format;
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
