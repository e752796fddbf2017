// The host libc calls Node has no binding for, outside the VM core: fcntl(2) with Linux's
// open-file-description locks (F_OFD_SETLK/F_OFD_GETLK: image locks compatible with QEMU's,
// the runner's liveness lock), fallocate(2), and lseek(2) for SEEK_DATA/SEEK_HOLE (the
// holes of a sparse raw image). Reached through koffi (FFI; prebuilt binaries ship in its
// npm package), which is loaded on the first call only: a command that never locks or
// preallocates (tsvirt version, img info -U) does not pay for it.
// The VM core's KVM calls keep their own binding in vm/accel/kvm/libc.ts.
import { createRequire } from 'node:module';
import type * as KoffiTypes from 'koffi';

export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const SEEK_SET = 0;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
export const ENXIO = 6;
export const EAGAIN = 11;
export const EACCES = 13;

/** struct flock (fcntl(2)); l_pid is -1 for OFD locks held by others. */
export interface Flock { l_type: number; l_whence: number; l_start: number; l_len: number; l_pid: number }

export interface Libc {
  /** fcntl(fd, F_OFD_SETLK, lock): 0, or -1 with errno(). */
  ofdSetLock(fd: number, lock: Flock): number;
  /** fcntl(fd, F_OFD_GETLK, lock): fills `lock` in place; 0, or -1 with errno(). */
  ofdGetLock(fd: number, lock: Flock): number;
  /** fallocate(fd, mode, offset, len): 0, or -1 with errno(). */
  fallocate(fd: number, mode: number, offset: number, len: number): number;
  /** lseek(fd, offset, whence): the new offset, or -1 with errno(). */
  lseek(fd: number, offset: number, whence: number): number;
  errno(): number;
}

let loaded: Libc | undefined;

export function libc(): Libc {
  if (loaded) return loaded;
  // koffi is CommonJS: required here, on first use, instead of imported at start-up.
  const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiTypes;
  const lib = koffi.load('libc.so.6');
  const FlockStruct = koffi.struct('tsvirt_flock', { l_type: 'short', l_whence: 'short', l_start: 'int64', l_len: 'int64', l_pid: 'int32' });
  const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
  const fallocate = lib.func('int fallocate(int fd, int mode, int64 offset, int64 len)');
  const lseek = lib.func('int64 lseek(int fd, int64 offset, int whence)');
  const inout = koffi.inout(koffi.pointer(FlockStruct));
  loaded = {
    ofdSetLock: (fd, lock) => fcntl(fd, F_OFD_SETLK, koffi.pointer(FlockStruct), lock) as number,
    ofdGetLock: (fd, lock) => fcntl(fd, F_OFD_GETLK, inout, lock) as number,
    fallocate: (fd, mode, offset, len) => fallocate(fd, mode, offset, len) as number,
    // koffi gives an int64 as a BigInt only past 2^53, which no file offset reaches.
    lseek: (fd, offset, whence) => Number(lseek(fd, offset, whence) as number | bigint),
    errno: () => koffi.errno(),
  };
  return loaded;
}
