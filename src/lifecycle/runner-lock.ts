// The one-runner-per-domain lock and the liveness probe behind `tsvirt list`: the runner
// holds an exclusive Linux open-file-description lock (F_OFD_SETLK, fcntl(2)) on the whole
// of its pid file for as long as it lives; the kernel drops it when the process dies, even
// by SIGKILL, so "pid file present but unlocked" reliably means a dead runner. Others probe
// with F_OFD_GETLK, which takes no lock and so never gets in a starting runner's way.
// fcntl comes from lib/libc.ts since Node has none (storage/image-lock.ts uses the same
// calls with QEMU's lock-byte layout, specific to images). Leaves out: non-Linux hosts.
import fs from 'node:fs';
import { EACCES, EAGAIN, F_UNLCK, F_WRLCK, type Flock, libc, SEEK_SET } from '../lib/libc.js';

const WHOLE_FILE = { l_whence: SEEK_SET, l_start: 0, l_len: 0, l_pid: 0 };

/** A held runner lock: the open pid file. */
export class RunnerLock {
  private constructor(readonly fd: number, readonly path: string) {}

  /**
   * Opens (creating) `path` and locks it. Returns undefined when another process holds it.
   * Retries when the file it locked was unlinked meanwhile by an exiting runner, so two
   * starters can never end up holding locks on two different inodes.
   */
  static tryAcquire(path: string): RunnerLock | undefined {
    for (;;) {
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      if (libc().ofdSetLock(fd, { l_type: F_WRLCK, ...WHOLE_FILE }) !== 0) {
        const errno = libc().errno();
        fs.closeSync(fd);
        if (errno === EAGAIN || errno === EACCES) return undefined;
        throw new Error(`cannot lock ${path} (errno ${errno})`);
      }
      const held = fs.fstatSync(fd);
      const now = fs.statSync(path, { throwIfNoEntry: false });
      if (now && now.ino === held.ino && now.dev === held.dev) return new RunnerLock(fd, path);
      fs.closeSync(fd);
    }
  }

  /** Replaces the file's content with this process's pid. */
  writePid(pid = process.pid): void {
    fs.ftruncateSync(this.fd, 0);
    fs.writeSync(this.fd, `${pid}\n`, 0);
  }

  /** Removes the pid file (while still holding the lock), then drops the lock. */
  release(opts: { unlink: boolean } = { unlink: true }): void {
    if (opts.unlink) fs.rmSync(this.path, { force: true });
    fs.closeSync(this.fd);
  }
}

export type RunnerProbe = { running: true; pid: number } | { running: false; stalePid?: number };

/** Whether a live runner holds the lock on `path`, and its pid; never takes a lock. */
export function probeRunner(path: string): RunnerProbe {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { running: false };
    throw err;
  }
  try {
    const q: Flock = { l_type: F_WRLCK, ...WHOLE_FILE };
    if (libc().ofdGetLock(fd, q) !== 0) throw new Error(`cannot query the lock on ${path} (errno ${libc().errno()})`);
    const text = fs.readFileSync(fd, 'utf8').trim();
    // The file is ours, but check before trusting it as a pid.
    const pid = /^\d{1,10}$/.test(text) ? Number(text) : undefined;
    if (q.l_type === F_UNLCK) return { running: false, stalePid: pid };
    // Locked but the pid not written yet: the runner is starting; report it running.
    return { running: true, pid: pid ?? 0 };
  } finally {
    fs.closeSync(fd);
  }
}
