// A vhost-user block backend (QEMU docs/interop/vhost-user.rst) built on tsvirt's own
// Virtqueue and VirtioBlk: QEMU keeps the PCI transport, and every request the guest's
// Linux virtio_blk driver makes is served by this repository's ring and request code,
// reading the guest's RAM through the memfd QEMU shares. It lets a real Linux driver test
// the device before tsvirt's own CPU can boot one.
//
// Synchronous on purpose: `serve()` blocks in poll(2) on the vhost-user socket and the
// kick eventfd until QEMU hangs up or the deadline passes, so QEMU must write its console
// to a file, not a pipe. File descriptors arrive with SCM_RIGHTS, which Node cannot
// receive: a ten-line C helper (built with gcc at test time) does the recvmsg.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import { BufferGuestMemory } from '../../../../../src/vm/memory.js';
import type { BlockDevice } from '../../../../../src/storage/block-device.js';
import { VirtioBlk, type BlkCacheMode } from '../../../../../src/vm/devices/virtio/virtio-blk.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioContext } from '../../../../../src/vm/devices/virtio/virtio-device.js';
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

export interface VhostUserBlkStats {
  messages: number;
  kicks: number;
  calls: number;
  guestErrors: string[];
}

export class VhostUserBlkBackend {
  readonly stats: VhostUserBlkStats = { messages: 0, kicks: 0, calls: 0, guestErrors: [] };
  readonly blk: VirtioBlk;
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
  private vq: Virtqueue | null = null;
  private vqNum = 256;
  private vqBase = 0;
  private vqAddrs: [bigint, bigint, bigint] | null = null;
  private kickFd = -1;
  private callFd = -1;
  private enabled = false;
  private broken = false;

  constructor(
    readonly socketPath: string,
    workDir: string,
    disk: BlockDevice,
    opts: { serial?: string; cache?: BlkCacheMode; readOnly?: boolean } = {},
  ) {
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
    this.blk = new VirtioBlk({ device: disk, ...opts });
    this.listenFd = this.lib.socket(AF_UNIX, SOCK_STREAM, 0);
    const addr = new Uint8Array(110);
    addr[0] = AF_UNIX;
    addr.set(Buffer.from(socketPath), 2);
    if (this.lib.bind(this.listenFd, addr, addr.length) !== 0 || this.lib.listen(this.listenFd, 1) !== 0) {
      throw new Error(`cannot listen on ${socketPath}: errno ${koffi.errno()}`);
    }
  }

  /**
   * Accepts QEMU's connection and serves it until it hangs up, the ring breaks (what the
   * PCI transport would report as DEVICE_NEEDS_RESET) or `deadline` (ms since epoch).
   */
  serve(deadline: number): 'hangup' | 'broken' | 'deadline' {
    this.conn = this.lib.accept(this.listenFd, null, null);
    if (this.conn < 0) throw new Error(`accept: errno ${koffi.errno()}`);
    const pfd = new Uint8Array(16);
    const dv = new DataView(pfd.buffer);
    while (Date.now() < deadline) {
      dv.setInt32(0, this.conn, true);
      dv.setInt16(4, POLLIN, true);
      dv.setInt16(6, 0, true);
      const haveKick = this.kickFd >= 0;
      dv.setInt32(8, haveKick ? this.kickFd : -1, true);
      dv.setInt16(12, POLLIN, true);
      dv.setInt16(14, 0, true);
      const n = this.lib.poll(pfd, 2, 200);
      if (n < 0) continue; // EINTR
      const connEv = dv.getInt16(6, true);
      if (haveKick && dv.getInt16(14, true) & POLLIN) this.onKick();
      if (this.broken) return 'broken';
      if (connEv & POLLIN) {
        if (!this.onMessage()) return 'hangup';
      } else if (connEv & (POLLHUP | POLLERR)) return 'hangup';
    }
    return 'deadline';
  }

  close(): void {
    for (const fd of [this.conn, this.listenFd, this.kickFd, this.callFd]) if (fd >= 0) this.lib.close(fd);
    this.conn = this.listenFd = this.kickFd = this.callFd = -1;
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
        this.replyU64(request, this.blk.features | VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX | VHOST_USER_F_PROTOCOL_FEATURES);
        return;
      case SET_FEATURES:
        this.features = v.getBigUint64(0, true);
        return;
      case GET_PROTOCOL_FEATURES:
        this.replyU64(request, PROTOCOL_F_CONFIG);
        return;
      case GET_QUEUE_NUM:
        this.replyU64(request, 1n);
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
        for (let i = 0; i < len; i++) out[12 + i] = this.blk.readConfig(offset + i, 1);
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
        this.vqNum = v.getUint32(4, true);
        return;
      case SET_VRING_BASE:
        this.vqBase = v.getUint32(4, true);
        return;
      case SET_VRING_ADDR:
        this.vqAddrs = [this.toGpa(v.getBigUint64(8, true)), this.toGpa(v.getBigUint64(24, true)), this.toGpa(v.getBigUint64(16, true))];
        return;
      case SET_VRING_KICK:
        if (this.kickFd >= 0) this.lib.close(this.kickFd);
        this.kickFd = fds[0] ?? -1;
        return;
      case SET_VRING_CALL:
        if (this.callFd >= 0) this.lib.close(this.callFd);
        this.callFd = fds[0] ?? -1;
        return;
      case SET_VRING_ENABLE:
        this.enabled = v.getUint32(4, true) === 1;
        if (this.enabled) this.start();
        return;
      case GET_VRING_BASE: {
        const b = new Uint8Array(8);
        this.vqBase = this.vq?.availIndex ?? this.vqBase;
        new DataView(b.buffer).setUint32(4, this.vqBase, true);
        this.vq = null;
        this.enabled = false;
        this.blk.reset();
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

  /** The ring is complete and enabled: the same activation the PCI transport does at DRIVER_OK. */
  private start(): void {
    if (!this.mem || !this.vqAddrs) return;
    const vq = new Virtqueue(this.mem, 0, 1024);
    vq.size = this.vqNum;
    [vq.descAddr, vq.driverAddr, vq.deviceAddr] = this.vqAddrs;
    vq.eventIdx = (this.features & VIRTIO_F_RING_EVENT_IDX) !== 0n;
    vq.enable();
    // vhost-user hands the ring over mid-life (restarts, memory table changes): continue
    // from the avail index QEMU gave (or the running queue's) and the used index in RAM.
    const avail = this.vq ? this.vq.availIndex : this.vqBase;
    vq.resume(avail, this.mem.read16(Number(vq.deviceAddr) + 2));
    this.vq = vq;
    const ctx: VirtioContext = {
      mem: this.mem,
      queues: [vq],
      features: this.features,
      running: true,
      signalQueue: () => {
        if (!vq.shouldSignal() || this.callFd < 0) return;
        this.stats.calls++;
        const one = new Uint8Array(8);
        one[0] = 1;
        this.lib.write(this.callFd, one, 8);
      },
      configChanged: () => undefined,
      guard: (work) => work(),
    };
    this.blk.activate(ctx);
    // A kick may have come before the ring was enabled (SeaBIOS's first read does): serve
    // what is already available, as the PCI transport does at DRIVER_OK.
    this.process();
  }

  private onKick(): void {
    const b = new Uint8Array(8);
    this.lib.read(this.kickFd, b, 8);
    this.stats.kicks++;
    this.process();
  }

  private process(): void {
    if (!this.vq || this.broken) return;
    try {
      this.blk.processQueue(0);
    } catch (e) {
      // What the PCI transport would turn into DEVICE_NEEDS_RESET: record it for the test.
      if (!(e instanceof VirtqueueError)) throw e;
      this.broken = true;
      this.stats.guestErrors.push(e.message);
    }
  }
}
