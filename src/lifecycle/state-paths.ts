// Where the domain lifecycle keeps its files, as libvirt's qemu driver lays them out for
// the system and session connections: runtime state (runner pid file + lock, control
// socket, console log, the live XML) in a run directory, persistent definitions (libvirt
// XML, one file per domain, autostart links) in a data directory.
//   root:   /run/tsvirt                               /var/lib/tsvirt/domains
//   others: $XDG_RUNTIME_DIR/tsvirt (or a private      $XDG_DATA_HOME/tsvirt/domains
//           /tmp/tsvirt-UID when that is unset)        (~/.local/share/tsvirt/domains)
// TSVIRT_STATE_DIR and TSVIRT_DOMAINS_DIR override both (tests, several independent sets).
// Leaves out: the XDG_STATE_HOME split and any system-wide configuration file.
import fs from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { TsvirtError } from '../lib/errors.js';

export interface LifecyclePaths {
  /** Runtime state: pid files, sockets, console logs, live XML. */
  stateDir: string;
  /** Persistent definitions: NAME.xml, and autostart/NAME.xml links. */
  domainsDir: string;
  /** Set when the state directory is a fallback the user should know about. */
  note?: string;
}

export interface PathEnv {
  uid: number;
  env: NodeJS.ProcessEnv;
}

/** The paths for this user, without creating anything. */
export function lifecyclePaths(from: PathEnv = { uid: process.getuid?.() ?? 0, env: process.env }): LifecyclePaths {
  const { uid, env } = from;
  const domainsDir = env.TSVIRT_DOMAINS_DIR
    || (uid === 0 ? '/var/lib/tsvirt/domains' : join(env.XDG_DATA_HOME ? join(env.XDG_DATA_HOME, 'tsvirt') : envPaths('tsvirt', { suffix: '' }).data, 'domains'));
  if (env.TSVIRT_STATE_DIR) return { stateDir: env.TSVIRT_STATE_DIR, domainsDir };
  if (uid === 0) return { stateDir: '/run/tsvirt', domainsDir };
  if (env.XDG_RUNTIME_DIR) return { stateDir: join(env.XDG_RUNTIME_DIR, 'tsvirt'), domainsDir };
  return {
    stateDir: `/tmp/tsvirt-${uid}`,
    domainsDir,
    note: `XDG_RUNTIME_DIR is not set: runtime state is kept in /tmp/tsvirt-${uid} (private, mode 0700); it does not survive a reboot`,
  };
}

/** Creates a directory only its owner may enter; refuses one someone else could have planted. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  // /tmp is shared: a directory (or symlink) another user created there must not be trusted.
  if (!st.isDirectory() || st.uid !== uid) {
    throw new TsvirtError(`${dir} is not a directory owned by you (uid ${uid})`, 'remove it or set TSVIRT_STATE_DIR');
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/** The files of one domain in the state directory. */
export interface RuntimeFiles {
  /** Holds the runner's pid; the runner keeps an exclusive lock on it while it lives. */
  pid: string;
  /** The control socket (mode 0600). */
  socket: string;
  /** Everything the guest wrote to its serial console, across runs. */
  log: string;
  /** The runner's own diagnostics (stderr). */
  runnerLog: string;
  /** The definition the runner is running (dumpxml of a running domain). */
  liveXml: string;
}

export function runtimeFiles(stateDir: string, name: string): RuntimeFiles {
  const base = join(stateDir, name);
  return { pid: `${base}.pid`, socket: `${base}.sock`, log: `${base}.log`, runnerLog: `${base}.runner.log`, liveXml: `${base}.xml` };
}

/** Linux's sockaddr_un.sun_path holds 108 bytes including the terminating NUL (unix(7)). */
export const UNIX_PATH_MAX = 108;

/**
 * Domain names become file names: refuse anything that could escape the directory or
 * confuse a shell, as libvirt refuses '/' in names.
 */
export function checkDomainName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(name)) {
    throw new TsvirtError(`invalid domain name '${name}'`, 'use up to 64 letters, digits, ".", "_", "+" or "-", starting with a letter or digit');
  }
}
