// Linux TAP devices through koffi (FFI): open /dev/net/tun, create a tap interface with
// TUNSETIFF (IFF_TAP | IFF_NO_PI: whole Ethernet frames, no packet-information prefix —
// Documentation/networking/tuntap.rst), bring it up (SIOCGIFFLAGS/SIOCSIFFLAGS), attach it
// to a bridge (SIOCBRADDIF, as brctl addif does), and the non-blocking read/write/poll the
// backend's frame loop uses. Failures a user can cause (no CAP_NET_ADMIN, no such bridge,
// not a bridge, no /dev/net/tun) become TsvirtErrors; the fd is closed on every error path.
// Left out: IFF_VNET_HDR offloads, multiqueue, persistent taps, MTU changes.

import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import koffi from 'koffi';
import { TsvirtError } from '../../lib/errors.js';

const libc = koffi.load('libc.so.6');
const ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
const socket = libc.func('int socket(int domain, int type, int protocol)');
const close = libc.func('int close(int fd)');
const read = libc.func('long read(int fd, void *buf, unsigned long count)');
const write = libc.func('long write(int fd, void *buf, unsigned long count)');
const pipe2 = libc.func('int pipe2(int *fds, int flags)');
const strerror = libc.func('const char *strerror(int errnum)');
/** poll(2); called through koffi's async workers so waiting never blocks the event loop. */
export const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');

// <linux/if_tun.h>, <linux/sockios.h>, <linux/if.h>, <asm-generic/errno*.h>
export const TUNSETIFF = 0x400454ca;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFINDEX = 0x8933;
export const SIOCBRADDIF = 0x89a2;
export const IFF_UP = 0x1;
export const IFNAMSIZ = 16;
/** struct ifreq is 40 bytes on x86-64: the name, then a 24-byte union. */
export const IFREQ_BYTES = 40;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0x80000;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const POLLIN = 0x1;
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const ENODEV = 19;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;

const CAP_HINT = 'run tsvirt as root or give it CAP_NET_ADMIN (setcap cap_net_admin+ep), or use --network user';

export function errnoText(code: number): string {
  return `${String(strerror(code))} (errno ${code})`;
}

/** Interface names as the kernel takes them (dev_valid_name): 1–15 bytes, no '/', ':' or space. */
export function checkInterfaceName(name: string, what: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new TsvirtError(`--network bridge=${name}: '${name}' is not a valid ${what} name`, 'interface names have 1-15 letters, digits, _ . or -');
  }
}

export interface OpenedTap {
  readonly fd: number;
  readonly name: string;
}

/**
 * Creates a tap interface, brings it up and attaches it to `bridge` (null: leaves it
 * unattached for the caller to configure, like libvirt's type='ethernet'); throws TsvirtError.
 */
export function openTap(bridge: string | null, namePattern = 'tsvtap%d'): OpenedTap {
  if (bridge !== null) checkInterfaceName(bridge, 'bridge');
  let fd: number;
  try {
    fd = openSync('/dev/net/tun', fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TsvirtError('--network bridge: /dev/net/tun does not exist', 'load the tun module (modprobe tun)');
    if (code === 'EACCES' || code === 'EPERM') throw new TsvirtError('--network bridge: no permission to open /dev/net/tun', CAP_HINT);
    throw err;
  }
  const ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  try {
    if (ctl < 0) throw new Error(`socket(AF_INET): ${errnoText(koffi.errno())}`);
    const ifr = new Uint8Array(IFREQ_BYTES);
    writeName(ifr, namePattern);
    new DataView(ifr.buffer).setInt16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
    if (ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = koffi.errno();
      if (e === EPERM || e === EACCES) throw new TsvirtError('--network bridge: creating a TAP device needs CAP_NET_ADMIN', CAP_HINT);
      throw new TsvirtError(`--network bridge: cannot create a TAP device: ${errnoText(e)}`, 'check that the tun driver works (modprobe tun)');
    }
    const name = readName(ifr);
    setUp(ctl, name);
    if (bridge !== null) attach(ctl, bridge, name);
    return { fd, name };
  } catch (err) {
    closeSync(fd);
    throw err;
  } finally {
    if (ctl >= 0) close(ctl);
  }
}

function setUp(ctl: number, name: string): void {
  const ifr = new Uint8Array(IFREQ_BYTES);
  writeName(ifr, name);
  if (ioctl(ctl, SIOCGIFFLAGS, ifr) < 0) throw new Error(`SIOCGIFFLAGS ${name}: ${errnoText(koffi.errno())}`);
  const view = new DataView(ifr.buffer);
  view.setInt16(IFNAMSIZ, view.getInt16(IFNAMSIZ, true) | IFF_UP, true);
  if (ioctl(ctl, SIOCSIFFLAGS, ifr) < 0) {
    const e = koffi.errno();
    if (e === EPERM || e === EACCES) throw new TsvirtError(`--network bridge: bringing ${name} up needs CAP_NET_ADMIN`, CAP_HINT);
    throw new Error(`SIOCSIFFLAGS ${name}: ${errnoText(e)}`);
  }
}

function attach(ctl: number, bridge: string, tapName: string): void {
  const idx = new Uint8Array(IFREQ_BYTES);
  writeName(idx, tapName);
  if (ioctl(ctl, SIOCGIFINDEX, idx) < 0) throw new Error(`SIOCGIFINDEX ${tapName}: ${errnoText(koffi.errno())}`);
  const ifindex = new DataView(idx.buffer).getInt32(IFNAMSIZ, true);
  const ifr = new Uint8Array(IFREQ_BYTES);
  writeName(ifr, bridge);
  new DataView(ifr.buffer).setInt32(IFNAMSIZ, ifindex, true);
  if (ioctl(ctl, SIOCBRADDIF, ifr) < 0) {
    const e = koffi.errno();
    if (e === ENODEV) throw new TsvirtError(`--network bridge=${bridge}: there is no interface named '${bridge}'`, `create the bridge first (ip link add ${bridge} type bridge) or name an existing one`);
    if (e === EOPNOTSUPP || e === EINVAL) throw new TsvirtError(`--network bridge=${bridge}: '${bridge}' is not a bridge`, 'name a Linux bridge (ip -d link show type bridge)');
    if (e === EPERM || e === EACCES) throw new TsvirtError(`--network bridge=${bridge}: attaching to the bridge needs CAP_NET_ADMIN`, CAP_HINT);
    throw new TsvirtError(`--network bridge=${bridge}: cannot attach ${tapName}: ${errnoText(e)}`, 'check the bridge with ip link show');
  }
}

function writeName(ifr: Uint8Array, name: string): void {
  const bytes = Buffer.from(name, 'ascii');
  if (bytes.length >= IFNAMSIZ) throw new RangeError(`interface name too long: ${name}`);
  ifr.set(bytes, 0);
}

function readName(ifr: Uint8Array): string {
  const end = ifr.indexOf(0);
  return Buffer.from(ifr.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end)).toString('ascii');
}

/** read(2): bytes read, or -errno. */
export function readFd(fd: number, buf: Uint8Array): number {
  const n = Number(read(fd, buf, buf.length));
  return n < 0 ? -koffi.errno() : n;
}

/** write(2): bytes written, or -errno. */
export function writeFd(fd: number, buf: Uint8Array): number {
  const n = Number(write(fd, buf, buf.length));
  return n < 0 ? -koffi.errno() : n;
}

/** A non-blocking pipe that wakes a poll(2) waiting in a worker thread. */
export function openWakePipe(): { readFd: number; writeFd: number } {
  const fds = new Int32Array(2);
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) throw new Error(`pipe2: ${errnoText(koffi.errno())}`);
  return { readFd: fds[0]!, writeFd: fds[1]! };
}

export function closeFd(fd: number): void {
  close(fd);
}
