// Creating the disks an install needs (the install flow's step 5, ARCHITECTURE.md):
// all-or-nothing, never overwriting an existing file unless forced, and returning a
// handle whose removeCreated() deletes exactly the files this call created — checked
// by device, inode and birth time, so a file someone put at the same path since is left alone. The
// install command calls removeCreated() when the install fails or on SIGINT/SIGTERM;
// it is synchronous so a signal handler can run it.
import fs from 'node:fs';
import nodePath from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import { type CreatedImage, type Preallocation, createImage, fileIdentityOf } from './create-image.js';
import type { ImageFormat } from './open-image.js';

export interface DiskToCreate {
  path: string;
  format: ImageFormat;
  /** May be omitted with a backing store (the size is inherited). */
  sizeBytes?: number;
  /** virt-install's sparse= (default yes); sparse=no fully allocates (falloc). */
  sparse?: boolean;
  preallocation?: Preallocation;
  backingStore?: string;
  backingFormat?: ImageFormat;
}

export interface ProvisionedDisks {
  /** The images, in the order asked for (created or, with force, overwritten). */
  readonly disks: readonly CreatedImage[];
  /** Paths of the files this call created (not the ones that existed before). */
  readonly created: readonly string[];
  /** Deletes the files this call created; safe to call more than once. Returns the paths removed. */
  removeCreated(): string[];
}

export function provisionDisks(disks: readonly DiskToCreate[], opts: { force?: boolean } = {}): ProvisionedDisks {
  const seen = new Set<string>();
  for (const d of disks) {
    const abs = nodePath.resolve(d.path);
    if (seen.has(abs)) throw new TsvirtError(`disk ${d.path} is listed twice`, 'give each disk its own path');
    seen.add(abs);
    if (!opts.force && fs.existsSync(d.path)) throw new TsvirtError(`disk image ${d.path} already exists`, 'choose another path, use the existing image with --import, or pass --force to overwrite it');
    if (d.sparse === false && d.preallocation !== undefined && d.preallocation !== 'falloc' && d.preallocation !== 'full') {
      throw new TsvirtError(`disk ${d.path}: sparse=no conflicts with preallocation=${d.preallocation}`, 'drop one of them');
    }
  }
  const made: CreatedImage[] = [];
  const mine: CreatedImage[] = [];
  let removed = false;
  const handle: ProvisionedDisks = {
    disks: made,
    get created() {
      return mine.map((m) => m.path);
    },
    removeCreated(): string[] {
      if (removed) return [];
      removed = true;
      const gone: string[] = [];
      for (const m of mine) {
        try {
          if (fileIdentityOf(fs.lstatSync(m.path, { bigint: true })) !== m.identity) continue; // replaced since: not ours any more
          fs.unlinkSync(m.path);
          gone.push(m.path);
        } catch { /* already gone */ }
      }
      return gone;
    },
  };
  try {
    for (const d of disks) {
      const preallocation = d.preallocation ?? (d.sparse === false ? 'falloc' : 'off');
      const img = createImage({
        path: d.path, format: d.format, sizeBytes: d.sizeBytes, preallocation,
        backingFile: d.backingStore, backingFormat: d.backingFormat, overwrite: opts.force ?? false,
      });
      made.push(img);
      if (img.createdFile) mine.push(img);
    }
  } catch (err) {
    handle.removeCreated();
    throw err;
  }
  return handle;
}
