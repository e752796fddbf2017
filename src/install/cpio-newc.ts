// A writer for the "newc" cpio format (SVR4 with no CRC, magic 070701), the format the
// Linux kernel unpacks into the initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst): a 110-byte ASCII header of 8-hex-digit fields, the NUL-terminated
// name padded to 4 bytes, the data padded to 4 bytes, and a final TRAILER!!! entry.
// Writes regular files, directories and symlinks; leaves out hard links and device
// nodes (the kernel's initramfs needs none of them from us).
import { TsvirtError } from '../lib/errors.js';

export const CPIO_NEWC_MAGIC = '070701';
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_NAME_BYTES = 4095; // PATH_MAX - 1: the kernel refuses longer names
const MAX_FIELD = 0xffffffff;

export interface CpioEntry {
  /** Path inside the archive, relative ("etc/ks.cfg"); no "..", no leading "/". */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  /** Permission bits; defaults 0644 for files, 0755 for directories, 0777 for symlinks. */
  readonly mode?: number;
  readonly data?: Uint8Array;
  /** Symlink target. */
  readonly target?: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; 0 keeps archives reproducible. */
  readonly mtime?: number;
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > MAX_FIELD) throw new TsvirtError(`cpio field out of range: ${n}`);
  return n.toString(16).toUpperCase().padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function checkPath(path: string): void {
  if (path === 'TRAILER!!!') throw new TsvirtError('cpio entry may not be called TRAILER!!!');
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.some((p) => p === '' || p === '..' || p === '.')) {
    throw new TsvirtError(`bad path for an initrd entry: '${path}'`, 'use a relative path without "." or ".." components');
  }
  if (path.includes('\0')) throw new TsvirtError('initrd entry names may not contain NUL');
}

function header(ino: number, mode: number, e: Partial<CpioEntry>, fileSize: number, nameBytes: number): string {
  // c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor c_rdevmajor c_rdevminor c_namesize c_check
  return (
    CPIO_NEWC_MAGIC +
    [ino, mode, e.uid ?? 0, e.gid ?? 0, e.type === 'directory' ? 2 : 1, e.mtime ?? 0, fileSize, 0, 0, 0, 0, nameBytes, 0].map(hex8).join('')
  );
}

/** Serialises entries (in the given order; parents should precede children) as one newc archive. */
export function writeNewcArchive(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    chunks.push(b);
    offset += b.length;
  };
  const record = (ino: number, mode: number, e: Partial<CpioEntry>, name: string, data: Uint8Array): void => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8');
    if (nameBuf.length - 1 > MAX_NAME_BYTES) throw new TsvirtError(`initrd entry name too long: ${name.slice(0, 40)}...`);
    push(Buffer.from(header(ino, mode, e, data.length, nameBuf.length), 'latin1'));
    push(nameBuf);
    push(Buffer.alloc(pad4(offset)));
    push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    push(Buffer.alloc(pad4(offset)));
  };
  let ino = 1;
  for (const e of entries) {
    checkPath(e.path);
    if (e.type === 'file') {
      record(ino++, S_IFREG | ((e.mode ?? 0o644) & 0o7777), e, e.path, e.data ?? new Uint8Array());
    } else if (e.type === 'directory') {
      record(ino++, S_IFDIR | ((e.mode ?? 0o755) & 0o7777), e, e.path, new Uint8Array());
    } else {
      if (!e.target) throw new TsvirtError(`symlink ${e.path} has no target`);
      record(ino++, S_IFLNK | ((e.mode ?? 0o777) & 0o7777), e, e.path, Buffer.from(e.target, 'utf8'));
    }
  }
  record(0, 0, { type: 'file' }, 'TRAILER!!!', new Uint8Array());
  return Buffer.concat(chunks);
}
