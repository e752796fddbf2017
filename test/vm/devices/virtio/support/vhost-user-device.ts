// A vhost-user backend (QEMU docs/interop/vhost-user.rst) serving any tsvirt VirtioDevice
// with tsvirt's own Virtqueue: QEMU keeps the PCI transport, and every buffer the guest's
// Linux driver (virtio_blk, virtio_net) queues is handled by this repository's ring and
// device code, reading the guest's RAM through the memfd QEMU shares. It lets real Linux
// drivers test the devices before tsvirt's own CPU can boot one.
//
// `run()` polls the vhost-user socket and the kick eventfds without blocking, yielding to
// the event loop between rounds so event-driven backends (the user-mode NAT's sockets)
// keep working. File descriptors arrive with SCM_RIGHTS, which Node cannot receive: a
// ten-line C helper (built with gcc at test time) does the recvmsg.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import { BufferGuestMemory } from '../../../../../src/vm/memory.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioContext, type VirtioDevice } from '../../../../../src/vm/devices/virtio/virtio-device.js';
import { Virtqueue, VirtqueueError } from '../../../../../src/vm/devices/virtio/virtqueue.js';

const FDRECV_C = `
#include <sys/socket.h>
#include <string.h>
int recv_with_fds(int sock, void *buf, int len, int *fds, int maxfds) {
  struct iovec iov = { buf, (size_t)len };
  char ctrl[CMSG_SPACE(sizeof(int) * 16)];
  struct msghdr m; memset(&m, 0, sizeof m);
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctrl; m.msg_controllen = sizeof ctrl;
  int n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  int got = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (int i = 0; i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) && got < maxfds; i++)
        memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  for (int i = got; i < maxfds; i++) fds[i] = -1;
  return n;
}
`;

// vhost-user.rst "Front-end message types"
const GET_FEATURES = 1;
const SET_FEATURES = 2;
const SET_OWNER = 3;
const RESET_OWNER = 4;
const SET_MEM_TABLE = 5;
const SET_VRING_NUM = 8;
const SET_VRING_ADDR = 9;
const SET_VRING_BASE = 10;
const GET_VRING_BASE = 11;
const SET_VRING_KICK = 12;
const SET_VRING_CALL = 13;
const SET_VRING_ERR = 14;
const GET_PROTOCOL_FEATURES = 15;
const SET_PROTOCOL_FEATURES = 16;
const GET_QUEUE_NUM = 17;
const SET_VRING_ENABLE = 18;
const GET_CONFIG = 24;
const SET_CONFIG = 25;
const VHOST_USER_F_PROTOCOL_FEATURES = 1n << 30n;
const PROTOCOL_F_CONFIG = 1n << 9n;
const FLAG_VERSION = 1;
const FLAG_REPLY = 4;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const POLLIN = 1;
const POLLHUP = 0x10;
const POLLERR = 8;
const PROT_RW = 3;
const MAP_SHARED = 1;

interface Region {
  gpa: number;
  size: number;
  userAddr: bigint;
}

export interface VhostUserStats {
  messages: number;
  kicks: number;
  calls: number;
  guestErrors: string[];
}

export class VhostUserDevice<D extends VirtioDevice> {
  readonly stats: VhostUserStats = { messages: 0, kicks: 0, calls: 0, guestErrors: [] };
  private readonly lib: {
    socket: (d: number, t: number, p: number) => number;
    bind: (fd: number, addr: Uint8Array, len: number) => number;
    listen: (fd: number, n: number) => number;
    accept: (fd: number, a: null, l: null) => number;
    close: (fd: number) => number;
    read: (fd: number, buf: Uint8Array, n: number) => number;
    write: (fd: number, buf: Uint8Array, n: number) => number;
    poll: (fds: Uint8Array, n: number, timeout: number) => number;
    mmap: (a: null, len: number, prot: number, flags: number, fd: number, off: number) => unknown;
    recvWithFds: (sock: number, buf: Uint8Array, len: number, fds: Int32Array, max: number) => number;
  };
  private listenFd = -1;
  private conn = -1;
  private features = 0n;
  private regions: Region[] = [];
  private mem: BufferGuestMemory | null = null;
  private readonly rings: Array<{
    vq: Virtqueue | null;
    num: number;
    base: number;
    addrs: [bigint, bigint, bigint] | null;
    kickFd: number;
    callFd: number;
  }>;
  private ctx: VirtioContext | null = null;
  private broken = false;

  constructor(
    readonly socketPath: string,
    workDir: string,
    readonly device: D,
  ) {
    this.rings = device.queueSizes.map(() => ({ vq: null, num: 256, base: 0, addrs: null, kickFd: -1, callFd: -1 }));
    const so = path.join(workDir, 'fdrecv.so');
    const src = path.join(workDir, 'fdrecv.c');
    fs.writeFileSync(src, FDRECV_C);
    execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', so, src]);
    const libc = koffi.load('libc.so.6');
    const helper = koffi.load(so);
    this.lib = {
      socket: libc.func('int socket(int, int, int)'),
      bind: libc.func('int bind(int, void *, int)'),
      listen: libc.func('int listen(int, int)'),
      accept: libc.func('int accept(int, void *, void *)'),
      close: libc.func('int close(int)'),
      read: libc.func('long read(int, void *, unsigned long)'),
      write: libc.func('long write(int, void *, unsigned long)'),
      poll: libc.func('int poll(void *, unsigned long, int)'),
      mmap: libc.func('void *mmap(void *, size_t, int, int, int, int64_t)'),
      recvWithFds: helper.func('int recv_with_fds(int, void *, int, int *, int)'),
    };
    this.listenFd = this.lib.socket(AF_UNIX, SOCK_STREAM, 0);
    const addr = new Uint8Array(110);
    addr[0] = AF_UNIX;
    addr.set(Buffer.from(socketPath), 2);
    if (this.lib.bind(this.listenFd, addr, addr.length) !== 0 || this.lib.listen(this.listenFd, 1) !== 0) {
      throw new Error(`cannot listen on ${socketPath}: errno ${koffi.errno()}`);
    }
  }

  /**
   * Accepts QEMU's connection and serves it until it hangs up, a ring breaks (what the PCI
   * transport would report as DEVICE_NEEDS_RESET) or `deadline` (ms since epoch).
   */
  async run(deadline: number): Promise<'hangup' | 'broken' | 'deadline'> {
    this.conn = this.lib.accept(this.listenFd, null, null);
    if (this.conn < 0) throw new Error(`accept: errno ${koffi.errno()}`);
    const n = 1 + this.rings.length;
    const pfd = new Uint8Array(8 * n);
    const dv = new DataView(pfd.buffer);
    while (Date.now() < deadline) {
      dv.setInt32(0, this.conn, true);
      dv.setInt16(4, POLLIN, true);
      dv.setInt16(6, 0, true);
      this.rings.forEach((r, i) => {
        dv.setInt32(8 * (i + 1), r.kickFd, true);
        dv.setInt16(8 * (i + 1) + 4, POLLIN, true);
        dv.setInt16(8 * (i + 1) + 6, 0, true);
      });
      const ready = this.lib.poll(pfd, n, 0);
      if (ready <= 0) {
        await sleep(1); // let the event loop run (host sockets, timers)
        continue;
      }
      for (let i = 0; i < this.rings.length; i++) if (dv.getInt16(8 * (i + 1) + 6, true) & POLLIN) this.onKick(i);
      if (this.broken) return 'broken';
      const connEv = dv.getInt16(6, true);
      if (connEv & POLLIN) {
        if (!this.onMessage()) return 'hangup';
      } else if (connEv & (POLLHUP | POLLERR)) return 'hangup';
    }
    return 'deadline';
  }

  close(): void {
    for (const fd of [this.conn, this.listenFd, ...this.rings.flatMap((r) => [r.kickFd, r.callFd])]) if (fd >= 0) this.lib.close(fd);
    this.conn = this.listenFd = -1;
    for (const r of this.rings) r.kickFd = r.callFd = -1;
    fs.rmSync(this.socketPath, { force: true });
  }

  private readExactly(len: number): Uint8Array | null {
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = this.lib.read(this.conn, buf.subarray(got), len - got);
      if (n <= 0) return null;
      got += n;
    }
    return buf;
  }

  private onMessage(): boolean {
    const hdr = new Uint8Array(12);
    const fds = new Int32Array(8);
    const n = this.lib.recvWithFds(this.conn, hdr, 12, fds, 8);
    if (n <= 0) return false;
    let rest = n < 12 ? this.readExactly(12 - n) : new Uint8Array(0);
    if (!rest) return false;
    hdr.set(rest, n);
    const h = new DataView(hdr.buffer);
    const request = h.getUint32(0, true);
    const size = h.getUint32(8, true);
    const body = size > 0 ? this.readExactly(size) : new Uint8Array(0);
    if (!body) return false;
    rest = null;
    this.stats.messages++;
    this.handle(request, new DataView(body.buffer), body, [...fds].filter((f) => f >= 0));
    return true;
  }

  private reply(request: number, payload: Uint8Array): void {
    const msg = new Uint8Array(12 + payload.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, request, true);
    v.setUint32(4, FLAG_VERSION | FLAG_REPLY, true);
    v.setUint32(8, payload.length, true);
    msg.set(payload, 12);
    this.lib.write(this.conn, msg, msg.length);
  }

  private replyU64(request: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    this.reply(request, b);
  }

  private handle(request: number, v: DataView, body: Uint8Array, fds: number[]): void {
    switch (request) {
      case GET_FEATURES:
        this.replyU64(request, this.device.features | VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX | VHOST_USER_F_PROTOCOL_FEATURES);
        return;
      case SET_FEATURES:
        this.features = v.getBigUint64(0, true);
        return;
      case GET_PROTOCOL_FEATURES:
        this.replyU64(request, PROTOCOL_F_CONFIG);
        return;
      case GET_QUEUE_NUM:
        this.replyU64(request, BigInt(this.rings.length));
        return;
      case SET_OWNER:
      case RESET_OWNER:
      case SET_PROTOCOL_FEATURES:
      case SET_CONFIG:
        return;
      case SET_VRING_ERR:
        for (const fd of fds) this.lib.close(fd);
        return;
      case GET_CONFIG: {
        const offset = v.getUint32(0, true);
        const len = v.getUint32(4, true);
        const out = body.slice();
        for (let i = 0; i < len; i++) out[12 + i] = offset + i < this.device.configSizeBytes ? this.device.readConfig(offset + i, 1) : 0;
        this.reply(request, out);
        return;
      }
      case SET_MEM_TABLE: {
        const count = v.getUint32(0, true);
        const regions: Array<{ gpa: number; bytes: Uint8Array }> = [];
        this.regions = [];
        for (let i = 0; i < count; i++) {
          const o = 8 + i * 32;
          const gpa = Number(v.getBigUint64(o, true));
          const size = Number(v.getBigUint64(o + 8, true));
          const userAddr = v.getBigUint64(o + 16, true);
          const mmapOffset = Number(v.getBigUint64(o + 24, true));
          const ptr = this.lib.mmap(null, size + mmapOffset, PROT_RW, MAP_SHARED, fds[i], 0);
          this.lib.close(fds[i]);
          const ab = koffi.view(ptr, size + mmapOffset) as ArrayBuffer;
          regions.push({ gpa, bytes: new Uint8Array(ab, mmapOffset, size) });
          this.regions.push({ gpa, size, userAddr });
        }
        this.mem = new BufferGuestMemory(regions);
        return;
      }
      case SET_VRING_NUM:
        this.ring(v).num = v.getUint32(4, true);
        return;
      case SET_VRING_BASE:
        this.ring(v).base = v.getUint32(4, true);
        return;
      case SET_VRING_ADDR:
        this.ring(v).addrs = [this.toGpa(v.getBigUint64(8, true)), this.toGpa(v.getBigUint64(24, true)), this.toGpa(v.getBigUint64(16, true))];
        return;
      case SET_VRING_KICK:
      case SET_VRING_CALL: {
        // u64: ring index in bits 0-7, bit 8 set when no fd comes with it.
        const r = this.rings[Number(v.getBigUint64(0, true) & 0xffn)];
        const fd = v.getBigUint64(0, true) & 0x100n ? -1 : (fds[0] ?? -1);
        if (!r) return;
        if (request === SET_VRING_KICK) {
          if (r.kickFd >= 0) this.lib.close(r.kickFd);
          r.kickFd = fd;
        } else {
          if (r.callFd >= 0) this.lib.close(r.callFd);
          r.callFd = fd;
        }
        return;
      }
      case SET_VRING_ENABLE:
        if (v.getUint32(4, true) === 1) this.startRing(v.getUint32(0, true));
        return;
      case GET_VRING_BASE: {
        const r = this.ring(v);
        r.base = r.vq?.availIndex ?? r.base;
        const b = new Uint8Array(8);
        new DataView(b.buffer).setUint32(0, v.getUint32(0, true), true);
        new DataView(b.buffer).setUint32(4, r.base, true);
        r.vq = null;
        // Any stopped ring stops the device, as a virtio reset would.
        if (this.ctx) {
          this.device.reset();
          this.ctx = null;
        }
        this.reply(request, b);
        return;
      }
      default:
        throw new Error(`vhost-user request ${request} not handled by the test backend`);
    }
  }

  private toGpa(userAddr: bigint): bigint {
    for (const r of this.regions) {
      if (userAddr >= r.userAddr && userAddr < r.userAddr + BigInt(r.size)) return BigInt(r.gpa) + (userAddr - r.userAddr);
    }
    throw new Error(`vring address 0x${userAddr.toString(16)} is in no memory region`);
  }

  private ring(v: DataView) {
    const r = this.rings[v.getUint32(0, true)];
    if (!r) throw new Error(`vhost-user ring ${v.getUint32(0, true)} does not exist`);
    return r;
  }

  /** A ring is complete and enabled: build it; once all are, activate the device. */
  private startRing(index: number): void {
    const r = this.rings[index];
    if (!r || !this.mem || !r.addrs) return;
    const vq = new Virtqueue(this.mem, index, 1024);
    vq.size = r.num;
    [vq.descAddr, vq.driverAddr, vq.deviceAddr] = r.addrs;
    vq.eventIdx = (this.features & VIRTIO_F_RING_EVENT_IDX) !== 0n;
    vq.enable();
    // vhost-user hands rings over mid-life (restarts, memory table changes): continue from
    // the avail index QEMU gave (or the running ring's) and the used index in RAM.
    vq.resume(r.vq ? r.vq.availIndex : r.base, this.mem.read16(Number(vq.deviceAddr) + 2));
    r.vq = vq;
    if (this.rings.some((x) => !x.vq)) return;
    const queues = this.rings.map((x) => x.vq!);
    const ctx: VirtioContext = {
      mem: this.mem,
      queues,
      features: this.features,
      get running() {
        return true;
      },
      signalQueue: (i) => {
        const ring = this.rings[i];
        if (!ring?.vq || !ring.vq.shouldSignal() || ring.callFd < 0) return;
        this.stats.calls++;
        const one = new Uint8Array(8);
        one[0] = 1;
        this.lib.write(ring.callFd, one, 8);
      },
      configChanged: () => undefined,
      guard: (work) => this.guarded(work),
    };
    this.ctx = ctx;
    this.device.activate(ctx);
    // A kick may have come before the rings were enabled (SeaBIOS's first read does):
    // serve what is already available, as the PCI transport does at DRIVER_OK.
    for (let i = 0; i < this.rings.length; i++) this.guarded(() => this.device.processQueue(i));
  }

  private guarded(work: () => void): void {
    if (this.broken) return;
    try {
      work();
    } catch (e) {
      // What the PCI transport would turn into DEVICE_NEEDS_RESET: record it for the test.
      if (!(e instanceof VirtqueueError)) throw e;
      this.broken = true;
      this.stats.guestErrors.push(e.message);
    }
  }

  private onKick(index: number): void {
    const b = new Uint8Array(8);
    this.lib.read(this.rings[index].kickFd, b, 8);
    this.stats.kicks++;
    if (this.ctx) this.guarded(() => this.device.processQueue(index));
  }
}
