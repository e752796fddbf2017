// The `bridge=BR` network backend: a TAP interface attached to a host bridge; guest frames
// are written to the tap fd as they are, frames the bridge sends come back from it. The fd
// is non-blocking; a poll(2) on it (and on a wake-up pipe that close() writes) runs on
// koffi's async worker, so the thread that owns the backend only runs when frames wait,
// then drains them with non-blocking reads. A full tap queue drops the frame (counted), as
// a NIC would.
// Left out: virtio-net header offloads (IFF_VNET_HDR), multiqueue.

import type { NetBackend } from './backend.js';
import {
  closeFd, EAGAIN, EINTR, openTap, openWakePipe, poll, POLLIN, readFd, writeFd,
} from './linux-tap.js';
import { NetCounters, type NetDebugLog } from './net-counters.js';
import { ETH_HEADER_BYTES } from './ethernet.js';

/** Frames read per wake-up before polling again (fairness with the rest of the thread). */
const MAX_FRAMES_PER_WAKE = 256;
/** A tap without offloads carries at most MTU-sized frames; 64 KiB covers any MTU. */
const READ_BUFFER_BYTES = 65_536;

export interface TapBackendOptions {
  /** The bridge to attach to; null leaves the tap unattached (tests; libvirt's type='ethernet'). */
  bridge: string | null;
  log?: NetDebugLog;
}

export class TapBackend implements NetBackend {
  readonly counters: NetCounters;
  /** The tap interface's name (tsvtapN). */
  readonly ifname: string;
  private readonly fd: number;
  private readonly wake: { readFd: number; writeFd: number };
  private readonly pollfds = new Uint8Array(16);
  private readonly readBuf = new Uint8Array(READ_BUFFER_BYTES);
  private deliver: ((frame: Uint8Array) => void) | null = null;
  private polling = false;
  private closed = false;
  private released = false;

  private constructor(opts: TapBackendOptions) {
    this.counters = new NetCounters('net-tap', opts.log);
    const tap = openTap(opts.bridge);
    this.fd = tap.fd;
    this.ifname = tap.name;
    try {
      this.wake = openWakePipe();
    } catch (err) {
      closeFd(this.fd);
      throw err;
    }
    // struct pollfd { int fd; short events; short revents; } × 2
    const v = new DataView(this.pollfds.buffer);
    v.setInt32(0, this.fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt32(8, this.wake.readFd, true);
    v.setInt16(12, POLLIN, true);
  }

  /** Creates the tap, attaches it to the bridge and starts reading. Throws TsvirtError. */
  static open(opts: TapBackendOptions): TapBackend {
    const b = new TapBackend(opts);
    b.pollOnce();
    return b;
  }

  onReceive(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    if (frame.length < ETH_HEADER_BYTES || frame.length > READ_BUFFER_BYTES) {
      this.counters.count('tap-bad-frame-length', String(frame.length));
      return;
    }
    const n = writeFd(this.fd, frame);
    if (n === -EAGAIN) this.counters.count('tap-tx-dropped');
    else if (n < 0) this.counters.count('tap-tx-error', String(-n));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.polling) writeFd(this.wake.writeFd, Uint8Array.of(1)); // the poll callback releases
    else this.release();
  }

  private pollOnce(): void {
    if (this.closed) return this.release();
    this.polling = true;
    poll.async(this.pollfds, 2, -1, (err: unknown) => {
      this.polling = false;
      if (this.closed) return this.release();
      if (err) this.counters.count('tap-poll-error', String(err));
      this.drain();
      // Defer when the poll failed so a persistent error cannot spin the thread.
      if (err) setTimeout(() => this.pollOnce(), 100).unref();
      else this.pollOnce();
    });
  }

  private drain(): void {
    for (let i = 0; i < MAX_FRAMES_PER_WAKE; i++) {
      const n = readFd(this.fd, this.readBuf);
      if (n === -EINTR) continue;
      if (n === -EAGAIN || n === 0) return;
      if (n < 0) {
        this.counters.count('tap-rx-error', String(-n));
        return;
      }
      if (this.deliver) this.deliver(this.readBuf.slice(0, n));
    }
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    closeFd(this.fd);
    closeFd(this.wake.readFd);
    closeFd(this.wake.writeFd);
  }
}
