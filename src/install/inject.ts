// --initrd-inject: adds files at the root of an initrd by appending a gzip'd newc cpio
// archive, as virt-install does (virtinst/install/installerinject.py), so the distro's
// initrd is never unpacked. The kernel unpacks concatenated archives in order
// (buffer-format.rst), later files replacing earlier ones; each archive must start on a
// 4-byte boundary, so the original is padded with zeros (which the kernel skips) first.
// Files are checked before use: regular files only, bounded size, safe names.
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TsvirtError } from '../lib/errors.js';
import { type CpioEntry, writeNewcArchive } from './cpio-newc.js';

const MAX_INJECT_BYTES = 512 * 1024 * 1024;

export type InjectSource =
  /** A host file, placed at the initrd root under its base name (or `name`). */
  | string
  | { readonly path: string; readonly name?: string; readonly mode?: number }
  /** Bytes made by tsvirt (e.g. the install plan), placed at `name`. */
  | { readonly name: string; readonly data: Uint8Array; readonly mode?: number };

async function toEntry(src: InjectSource): Promise<CpioEntry> {
  if (typeof src !== 'string' && 'data' in src) return { path: src.name, type: 'file', data: src.data, mode: src.mode ?? 0o644 };
  const path = typeof src === 'string' ? src : src.path;
  const name = typeof src === 'string' ? basename(path) : (src.name ?? basename(path));
  const st = await stat(path).catch(() => {
    throw new TsvirtError(`--initrd-inject ${path}: no such file`);
  });
  if (!st.isFile()) throw new TsvirtError(`--initrd-inject ${path}: not a regular file`);
  if (st.size > MAX_INJECT_BYTES) throw new TsvirtError(`--initrd-inject ${path}: larger than ${MAX_INJECT_BYTES} bytes`);
  const mode = typeof src === 'string' ? st.mode & 0o777 : (src.mode ?? st.mode & 0o777);
  return { path: name, type: 'file', data: await readFile(path), mode };
}

/** The gzip'd newc archive holding `files` (directories for nested names are added). */
export async function buildInjectionArchive(files: readonly InjectSource[]): Promise<Uint8Array> {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const names = new Set<string>();
  for (const f of files) {
    const e = await toEntry(f);
    if (names.has(e.path)) throw new TsvirtError(`two injected files are both called ${e.path}`);
    names.add(e.path);
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: 'directory' });
      }
    }
    entries.push(e);
  }
  return gzipSync(writeNewcArchive(entries), { level: 6 });
}

/** Returns the initrd with `files` appended as a second archive. */
export async function injectFiles(initrd: Uint8Array | string, files: readonly InjectSource[]): Promise<Uint8Array> {
  const original = typeof initrd === 'string' ? await readFile(initrd) : Buffer.from(initrd.buffer, initrd.byteOffset, initrd.byteLength);
  if (files.length === 0) return original;
  const archive = await buildInjectionArchive(files);
  const padding = Buffer.alloc((4 - (original.length % 4)) % 4);
  return Buffer.concat([original, padding, archive]);
}
