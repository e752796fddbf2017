// virtio-net (virtio 1.2 §5.1), the guest's side of a NIC whose host side is a NetBackend
// (user-mode NAT or TAP): receiveq1 (0) and transmitq1 (1), VIRTIO_NET_F_MAC,
// VIRTIO_NET_F_STATUS (link always up), VIRTIO_NET_F_MRG_RXBUF, and the two checksum
// offloads (net-checksum.ts): VIRTIO_NET_F_CSUM (the device completes a transmit checksum
// the driver left partial) and VIRTIO_NET_F_GUEST_CSUM (received TCP/UDP frames whose
// checksum the device verified are marked DATA_VALID). Every frame carries the 12-byte
// struct virtio_net_hdr of a VERSION_1 device (§5.1.6). No segmentation offload is
// offered, so a transmit header asking for GSO is a driver error (the frame is dropped).
//
// Frames from the backend wait in a bounded queue while the guest has posted no receive
// buffers (§5.1.6.3: the device may drop them; we keep a burst's worth, then drop).
//
// Leaves out: the control queue, multiqueue, segmentation offloads (TSO/UFO/USO), VLAN
// and MAC filtering, announce, RSS, MTU.

import type { NetBackend } from '../../net/backend.js';
import { readLe, VIRTIO_ID_NET, type VirtioContext, type VirtioDevice } from './virtio-device.js';
import { completeChecksum, hasValidL4Checksum } from './net-checksum.js';
import { VirtqueueError, type DescriptorChain } from './virtqueue.js';

// §5.1.3 feature bits
export const VIRTIO_NET_F_CSUM = 1n << 0n;
export const VIRTIO_NET_F_GUEST_CSUM = 1n << 1n;
export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;
export const VIRTIO_NET_S_LINK_UP = 1;
/** §5.1.6: sizeof(struct virtio_net_hdr) with VIRTIO_F_VERSION_1 (num_buffers included). */
export const VIRTIO_NET_HDR_BYTES = 12;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
// §5.1.6 virtio_net_hdr.flags
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_RX_QUEUE = 0;
export const VIRTIO_NET_TX_QUEUE = 1;
export const VIRTIO_NET_QUEUE_SIZE = 256;
/** Largest frame accepted either way: a 64 KiB IP packet plus an Ethernet/VLAN header. */
export const VIRTIO_NET_MAX_FRAME_BYTES = 65536 + 18;
/** Frames kept while the guest has no receive buffers. */
export const VIRTIO_NET_RX_BACKLOG_FRAMES = 256;
/** Smallest Ethernet frame (header only) a guest may transmit. */
const ETH_HEADER_BYTES = 14;

const NET_CFG_SIZE = 12; // mac[6], status, max_virtqueue_pairs, (mtu not offered)

export interface VirtioNetOptions {
  backend: NetBackend;
  /** 6 bytes. */
  mac: Uint8Array;
}

export interface VirtioNetStats {
  txFrames: number;
  rxFrames: number;
  /** Frames from the backend dropped (backlog full, too large, device not running). */
  rxDropped: number;
  /** Frames from the guest dropped (too short or long, GSO asked for, bad checksum offsets). */
  txDropped: number;
  /** Transmit checksums the device completed (NEEDS_CSUM). */
  txChecksummed: number;
  /** Received frames marked DATA_VALID after the device verified their checksum. */
  rxChecksumVerified: number;
}

export class VirtioNet implements VirtioDevice {
  readonly name = 'virtio-net';
  readonly deviceType = VIRTIO_ID_NET;
  readonly queueSizes = [VIRTIO_NET_QUEUE_SIZE, VIRTIO_NET_QUEUE_SIZE];
  readonly features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM;
  readonly configSizeBytes = NET_CFG_SIZE;
  readonly pciClass = 0x020000; // network, Ethernet
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, rxDropped: 0, txDropped: 0, txChecksummed: 0, rxChecksumVerified: 0 };
  private readonly config = new Uint8Array(NET_CFG_SIZE);
  /** The host side; the device owns it (close() closes it). */
  readonly backend: NetBackend;
  private readonly backlog: Uint8Array[] = [];
  private ctx: VirtioContext | null = null;
  private mergeable = false;
  private txCsum = false;
  private rxCsum = false;

  constructor(opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new RangeError('a MAC address has 6 bytes');
    this.backend = opts.backend;
    this.config.set(opts.mac, 0);
    new DataView(this.config.buffer).setUint16(6, VIRTIO_NET_S_LINK_UP, true);
    new DataView(this.config.buffer).setUint16(8, 1, true);
    opts.backend.onReceive((frame) => this.receive(frame));
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return readLe(this.config, offset, size);
  }

  writeConfig(): void {
    // §5.1.4: the MAC is writable only through the control queue we do not offer.
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    this.mergeable = (ctx.features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    this.txCsum = (ctx.features & VIRTIO_NET_F_CSUM) !== 0n;
    this.rxCsum = (ctx.features & VIRTIO_NET_F_GUEST_CSUM) !== 0n;
  }

  reset(): void {
    this.ctx = null;
    this.backlog.length = 0;
  }

  /** The device owns its backend: closing it closes the NAT's sockets or the TAP fd. */
  close(): void {
    this.reset();
    this.backend.close();
  }

  processQueue(index: number): void {
    if (index === VIRTIO_NET_TX_QUEUE) this.transmit();
    else if (index === VIRTIO_NET_RX_QUEUE) this.flushBacklog();
  }

  /** A frame from the backend for the guest. */
  private receive(frame: Uint8Array): void {
    const ctx = this.ctx;
    if (!ctx || frame.length > VIRTIO_NET_MAX_FRAME_BYTES || this.backlog.length >= VIRTIO_NET_RX_BACKLOG_FRAMES) {
      this.stats.rxDropped++;
      return;
    }
    // The backend may reuse its buffer once we return.
    this.backlog.push(frame.slice());
    ctx.guard(() => this.flushBacklog());
  }

  private transmit(): void {
    const ctx = this.ctx;
    const q = ctx?.queues[VIRTIO_NET_TX_QUEUE];
    if (!ctx || !q) return;
    // Stops when the device is reset or broken meanwhile (a frame sent may come back at once).
    for (let chain = q.pop(); chain && this.ctx === ctx && ctx.running; chain = q.pop()) {
      // §5.1.6.2: the header precedes the frame in the driver-readable bytes.
      if (chain.readableBytes < VIRTIO_NET_HDR_BYTES) {
        throw new VirtqueueError(`virtio-net: transmit chain ${chain.head} without a header`);
      }
      const frameBytes = chain.readableBytes - VIRTIO_NET_HDR_BYTES;
      if (frameBytes < ETH_HEADER_BYTES || frameBytes > VIRTIO_NET_MAX_FRAME_BYTES) {
        this.stats.txDropped++;
      } else {
        const hdr = new Uint8Array(VIRTIO_NET_HDR_BYTES);
        chain.readInto(0, hdr);
        const frame = new Uint8Array(frameBytes);
        chain.readInto(VIRTIO_NET_HDR_BYTES, frame);
        if (this.prepareTx(hdr, frame)) {
          this.stats.txFrames++;
          this.backend.send(frame);
        } else this.stats.txDropped++;
      }
      q.pushUsed(chain, 0);
    }
    ctx.signalQueue(VIRTIO_NET_TX_QUEUE);
  }

  /** Applies the transmit header (§5.1.6.2); false when the frame must be dropped. */
  private prepareTx(hdr: Uint8Array, frame: Uint8Array): boolean {
    // No GSO was offered: a driver asking for segmentation is broken; drop, as QEMU does.
    if (hdr[1] !== VIRTIO_NET_HDR_GSO_NONE) return false;
    if (!(hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return true;
    if (!this.txCsum) return false;
    const v = new DataView(hdr.buffer);
    if (!completeChecksum(frame, v.getUint16(6, true), v.getUint16(8, true))) return false;
    this.stats.txChecksummed++;
    return true;
  }

  /** Moves waiting frames into the guest's receive buffers while there are any. */
  private flushBacklog(): void {
    const ctx = this.ctx;
    const q = ctx?.queues[VIRTIO_NET_RX_QUEUE];
    if (!ctx || !q) return;
    let delivered = false;
    while (this.backlog.length > 0) {
      const frame = this.backlog[0];
      const placed = this.mergeable ? this.placeMergeable(frame) : this.placeSingle(frame);
      if (placed === 'no-buffers') break;
      this.backlog.shift();
      if (placed === 'dropped') this.stats.rxDropped++;
      else {
        this.stats.rxFrames++;
        delivered = true;
      }
    }
    if (delivered) ctx.signalQueue(VIRTIO_NET_RX_QUEUE);
  }

  private header(numBuffers: number, frame: Uint8Array): Uint8Array {
    const h = new Uint8Array(VIRTIO_NET_HDR_BYTES);
    h[1] = VIRTIO_NET_HDR_GSO_NONE;
    // §5.1.6.4.1: DATA_VALID only for checksums the device has checked itself.
    if (this.rxCsum && hasValidL4Checksum(frame)) {
      h[0] = VIRTIO_NET_HDR_F_DATA_VALID;
      this.stats.rxChecksumVerified++;
    }
    new DataView(h.buffer).setUint16(10, numBuffers, true);
    return h;
  }

  /** Without MRG_RXBUF each frame takes one chain that must hold header and frame. */
  private placeSingle(frame: Uint8Array): 'ok' | 'dropped' | 'no-buffers' {
    const q = this.ctx!.queues[VIRTIO_NET_RX_QUEUE]!;
    const chain = q.pop();
    if (!chain) return 'no-buffers';
    if (chain.writableBytes === 0) throw new VirtqueueError(`virtio-net: receive chain ${chain.head} has no writable buffer`);
    const need = VIRTIO_NET_HDR_BYTES + frame.length;
    if (chain.writableBytes < need) {
      // The driver's buffers are too small for this frame (it did not negotiate the
      // offloads that would make it post big ones): drop the frame, keep the buffer.
      q.unpop();
      return 'dropped';
    }
    chain.writeFrom(0, this.header(1, frame));
    chain.writeFrom(VIRTIO_NET_HDR_BYTES, frame);
    q.pushUsed(chain, need);
    return 'ok';
  }

  /** §5.1.6.4.2: with MRG_RXBUF a frame may span several chains; num_buffers counts them. */
  private placeMergeable(frame: Uint8Array): 'ok' | 'dropped' | 'no-buffers' {
    const q = this.ctx!.queues[VIRTIO_NET_RX_QUEUE]!;
    const total = VIRTIO_NET_HDR_BYTES + frame.length;
    const chains: DescriptorChain[] = [];
    let room = 0;
    while (room < total) {
      const chain = q.pop();
      if (!chain) {
        for (let i = 0; i < chains.length; i++) q.unpop();
        return 'no-buffers';
      }
      if (chain.writableBytes === 0) throw new VirtqueueError(`virtio-net: receive chain ${chain.head} has no writable buffer`);
      if (chains.length === 0 && chain.writableBytes < VIRTIO_NET_HDR_BYTES) {
        throw new VirtqueueError(`virtio-net: receive buffer ${chain.head} smaller than the header`);
      }
      chains.push(chain);
      room += chain.writableBytes;
    }
    const bytes = new Uint8Array(total);
    bytes.set(this.header(chains.length, frame), 0);
    bytes.set(frame, VIRTIO_NET_HDR_BYTES);
    let at = 0;
    for (const chain of chains) {
      const n = chain.writeFrom(0, bytes.subarray(at));
      q.pushUsed(chain, n);
      at += n;
    }
    return 'ok';
  }
}
