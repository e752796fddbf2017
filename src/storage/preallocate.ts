// Preallocation of file space (qemu-img -o preallocation=falloc|full) and hole punching
// (raw discard): falloc reserves the
// blocks with fallocate(2) (lib/libc.ts; Node has no binding), falling back to writing
// zeros where the file system does not support it; full writes zeros. Leaves out: the
// posix_fallocate emulation glibc does (the zero-writing fallback is the same thing).
import fs from 'node:fs';
import { libc } from '../lib/libc.js';

// fallocate(2) mode bits (linux/falloc.h).
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

function tryFallocate(fd: number, offset: number, len: number, mode = 0): boolean {
  try {
    return libc().fallocate(fd, mode, offset, len) === 0;
  } catch {
    return false;
  }
}

/** Deallocates [offset, offset+len) keeping the file size; false where unsupported. */
export function punchHole(fd: number, offset: number, len: number): boolean {
  return len > 0 && tryFallocate(fd, offset, len, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
}

export function writeZeros(fd: number, offset: number, len: number): void {
  const chunk = Buffer.alloc(Math.min(len, 4 << 20));
  for (let done = 0; done < len;) {
    const n = Math.min(chunk.length, len - done);
    done += fs.writeSync(fd, chunk, 0, n, offset + done);
  }
}

export function preallocate(fd: number, offset: number, len: number, mode: 'falloc' | 'full'): void {
  if (len <= 0) return;
  if (mode === 'falloc' && tryFallocate(fd, offset, len)) return;
  writeZeros(fd, offset, len);
}
