// Image locking compatible with QEMU's file-posix driver: Linux open-file-description
// (OFD) byte-range locks, F_OFD_SETLK / F_OFD_GETLK (fcntl(2), through lib/libc.ts since
// Node has no flock). QEMU marks each block-layer permission it holds with a shared lock on
// byte 100+bit and each permission it refuses to share with a shared lock on byte 200+bit
// (QEMU block/file-posix.c, raw_apply_lock_bytes). tsvirt uses the same bytes, so a tsvirt
// writer and a qemu-io/qemu-img/QEMU user of the same image see each other:
//   writer: holds CONSISTENT_READ, WRITE, RESIZE; refuses to share WRITE, RESIZE
//   reader: holds CONSISTENT_READ;               refuses to share WRITE, RESIZE
// so any number of readers coexist, and a writer excludes readers and other writers.
// Leaves out: the BSD flock fallback (OFD locks exist since Linux 3.15).
import fs from 'node:fs';
import { TsvirtError } from '../lib/errors.js';
import { EACCES, EAGAIN, F_RDLCK, F_UNLCK, F_WRLCK, type Flock, libc, SEEK_SET } from '../lib/libc.js';

// QEMU include/block/block-common.h permission bits and file-posix.c lock byte bases.
const RAW_LOCK_PERM_BASE = 100;
const RAW_LOCK_SHARED_BASE = 200;
const BLK_PERM_CONSISTENT_READ = 0;
const BLK_PERM_WRITE = 1;
const BLK_PERM_RESIZE = 3;
const PERM_NAMES: Record<number, string> = { 0: 'consistent read', 1: 'write', 2: 'write unchanged', 3: 'resize' };

export type LockMode = 'shared' | 'exclusive';

export class ImageLock {
  private released = false;
  private constructor(private readonly fd: number, private readonly bytes: number[]) {}

  /**
   * Takes the lock bytes for `mode` on fd (an open descriptor of `path`), then checks that
   * no other open file description holds a conflicting byte. Throws TsvirtError naming the
   * holder when it can find it in /proc.
   */
  static acquire(fd: number, path: string, mode: LockMode): ImageLock {
    const c = libc();
    const held = mode === 'exclusive'
      ? [BLK_PERM_CONSISTENT_READ, BLK_PERM_WRITE, BLK_PERM_RESIZE]
      : [BLK_PERM_CONSISTENT_READ];
    const unshared = [BLK_PERM_WRITE, BLK_PERM_RESIZE];
    const bytes = [...held.map((b) => RAW_LOCK_PERM_BASE + b), ...unshared.map((b) => RAW_LOCK_SHARED_BASE + b)];
    const lock = new ImageLock(fd, []);
    for (const b of bytes) {
      if (c.ofdSetLock(fd, { l_type: F_RDLCK, l_whence: SEEK_SET, l_start: b, l_len: 1, l_pid: 0 }) !== 0) {
        const errno = c.errno();
        lock.release();
        if (errno === EAGAIN || errno === EACCES) throw conflict(path, mode, BLK_PERM_WRITE, fd);
        throw new TsvirtError(`cannot lock image ${path} (errno ${errno})`, 'the file system may not support OFD locks');
      }
      lock.bytes.push(b);
    }
    // Conflicts (file-posix.c raw_check_lock_bytes): someone refuses to share a permission
    // we hold, or holds a permission we refuse to share.
    const probe = [
      ...held.map((b) => ({ at: RAW_LOCK_SHARED_BASE + b, perm: b })),
      ...unshared.map((b) => ({ at: RAW_LOCK_PERM_BASE + b, perm: b })),
    ];
    for (const { at, perm } of probe) {
      const q: Flock = { l_type: F_WRLCK, l_whence: SEEK_SET, l_start: at, l_len: 1, l_pid: 0 };
      if (c.ofdGetLock(fd, q) === 0 && q.l_type !== F_UNLCK) {
        lock.release();
        throw conflict(path, mode, perm, fd);
      }
    }
    return lock;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.bytes.length === 0) return;
    const c = libc();
    for (const b of this.bytes) c.ofdSetLock(this.fd, { l_type: F_UNLCK, l_whence: SEEK_SET, l_start: b, l_len: 1, l_pid: 0 });
  }
}

function conflict(path: string, mode: LockMode, perm: number, ownFd: number): TsvirtError {
  const holders = findHolders(path, ownFd);
  const who = holders.length > 0 ? ` (held by ${holders.join(', ')})` : '';
  const what = mode === 'exclusive'
    ? `image ${path} is in use: cannot get the exclusive write lock`
    : `image ${path} is being written: cannot get a shared "${PERM_NAMES[perm]}" lock`;
  return new TsvirtError(`${what}${who}`, 'stop the VM or tool using it, or open a copy', { exitCode: 1 });
}

/** Processes that have the file open, from /proc/PID/fd (OFD locks record no pid). */
export function findHolders(path: string, ownFd = -1): string[] {
  let target: fs.Stats;
  try {
    target = fs.statSync(path);
  } catch {
    return [];
  }
  const found = new Set<string>();
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      if (Number(pid) === process.pid && Number(fd) === ownFd) continue;
      try {
        const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
        if (st.ino === target.ino && st.dev === target.dev) {
          let comm = '?';
          try {
            comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch { /* the process may have exited */ }
          found.add(Number(pid) === process.pid ? `this process (pid ${pid})` : `pid ${pid} (${comm})`);
          break;
        }
      } catch { /* fd closed meanwhile */ }
    }
  }
  return [...found];
}
