import { describe, expect, it } from 'vitest';
import { createVirtioNet } from '../../../../src/vm/devices/virtio/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../../src/vm/devices/virtio/virtio-device.js';
import {
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_RX_BACKLOG_FRAMES,
} from '../../../../src/vm/devices/virtio/virtio-net.js';
import { internetChecksum, pseudoHeaderSum } from '../../../../src/vm/net/checksum.js';
import { buildTcpFrame, TCP_ACK } from '../../../../src/vm/net/tcp-segment.js';
import { buildUdpFrame } from '../../../../src/vm/net/udp.js';
import type { NetBackend } from '../../../../src/vm/net/backend.js';
import { GuestRam, VirtioGuestDriver, type GuestQueue } from './support/guest-driver.js';
import { Port, wire } from './support/wire.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const RING = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
const BASIC = RING | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;

function nic(opts: { features?: bigint; msix?: boolean; backend?: NetBackend; ram?: GuestRam; start?: boolean } = {}) {
  const p = VirtioGuestDriver.platform(opts.ram);
  const port = new Port();
  const backend = opts.backend ?? port;
  const fn = createVirtioNet({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, backend, mac: MAC });
  const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: opts.msix });
  if (opts.start !== false) drv.start(2, opts.features ?? BASIC);
  return { ...p, fn, drv, port, rx: drv.queues[0], tx: drv.queues[1] };
}

function frame(len: number, seed = 0): Uint8Array {
  const f = Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  f.set(MAC, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

/** start_xmit: the 12-byte header (all zero without offloads), then the frame. */
function transmit(ram: GuestRam, tx: GuestQueue, f: Uint8Array, how: 'one' | 'split' | 'indirect' = 'one'): void {
  const hdr = ram.put(new Uint8Array(12));
  const data = ram.put(f);
  const bufs =
    how === 'one'
      ? [{ addr: ram.put(Uint8Array.from([...new Uint8Array(12), ...f])), len: 12 + f.length }]
      : [{ addr: hdr, len: 7 }, { addr: hdr + 7, len: 5 }, { addr: data, len: 20 }, { addr: data + 20, len: f.length - 20 }];
  tx.add(bufs, { indirect: how === 'indirect' });
  tx.kick();
}

/** add_recvbuf_*: post `count` writable buffers of `len` bytes; returns their addresses. */
function postRx(ram: GuestRam, rx: GuestQueue, count: number, len: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const a = ram.alloc(len);
    rx.add([{ addr: a, len, write: true }]);
    out.push(a);
  }
  rx.kick();
  return out;
}

describe('virtio-net', () => {
  it('offers MAC, STATUS, MRG_RXBUF and the checksum offloads only, with the MAC and link-up in config', () => {
    const { drv } = nic({ start: false });
    expect(drv.fn.configRead(2, 2)).toBe(0x1041);
    const f = drv.deviceFeatures();
    // No GSO of either direction (bits 6-14 and the rest): only what the device implements.
    expect(f & 0xffffffn).toBe(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF);
    expect([0, 1, 2, 3, 4, 5].map((i) => drv.config(i, 1))).toEqual([...MAC]);
    expect(drv.config(6, 2)).toBe(1);
    drv.start(2, BASIC);
    expect(drv.status()).toBe(15);
  });

  it('transmits frames to the backend without the virtio-net header, however the chain is split', () => {
    const { ram, tx, port, fn } = nic({ msix: true });
    const frames = [frame(60, 1), frame(1514, 2), frame(342, 3)];
    transmit(ram, tx, frames[0], 'one');
    transmit(ram, tx, frames[1], 'split');
    transmit(ram, tx, frames[2], 'indirect');
    expect(port.sent).toEqual(frames);
    expect(tx.reap().map((u) => u.len)).toEqual([0, 0, 0]);
    transmit(ram, tx, new Uint8Array(10)); // shorter than an Ethernet header: dropped, buffer returned
    expect(tx.reap()).toHaveLength(1);
    expect(fn.device.stats).toMatchObject({ txFrames: 3, txDropped: 1 });
    expect(fn.needsReset).toBe(false);
  });

  it('holds frames while the guest has no receive buffers, then fills buffers posted later', () => {
    const { ram, rx, port, fn, msi } = nic({ msix: true });
    const frames = [frame(98, 4), frame(1514, 5)];
    for (const f of frames) port.inject(f);
    expect(rx.reap()).toEqual([]);
    msi.take();
    const bufs = postRx(ram, rx, 4, 1526);
    expect(msi.take()).toEqual([0x41]); // queue 0's vector
    const used = rx.reap();
    expect(used.map((u) => u.len)).toEqual([12 + 98, 12 + 1514]);
    used.forEach((u, i) => {
      const hdr = ram.bytes(bufs[i], 12);
      expect([...hdr]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]); // §5.1.6.4: num_buffers is 1 without MRG_RXBUF
      expect(ram.bytes(bufs[i] + 12, frames[i].length)).toEqual(frames[i]);
    });
    // A frame arriving while buffers are posted goes straight in.
    port.inject(frame(200, 6));
    expect(rx.reap().map((u) => u.len)).toEqual([212]);
    expect(fn.device.stats).toMatchObject({ rxFrames: 3, rxDropped: 0 });
  });

  it('bounds the receive backlog and drops what does not fit', () => {
    const { ram, rx, port, fn } = nic();
    for (let i = 0; i < VIRTIO_NET_RX_BACKLOG_FRAMES + 40; i++) port.inject(frame(64, i));
    expect(fn.device.stats.rxDropped).toBe(40);
    postRx(ram, rx, 256, 1526);
    expect(rx.reap()).toHaveLength(VIRTIO_NET_RX_BACKLOG_FRAMES);
  });

  it('spreads a large frame over several buffers with MRG_RXBUF and counts them in num_buffers', () => {
    const { ram, rx, port } = nic({ features: BASIC | VIRTIO_NET_F_MRG_RXBUF });
    const bufs = postRx(ram, rx, 8, 1536);
    const big = frame(4000, 9);
    port.inject(big);
    port.inject(frame(100, 10));
    const used = rx.reap();
    expect(used.map((u) => u.len)).toEqual([1536, 1536, 4012 - 3072, 112]);
    expect(new DataView(ram.bytes(bufs[0], 12).buffer).getUint16(10, true)).toBe(3);
    expect(new DataView(ram.bytes(bufs[3], 12).buffer).getUint16(10, true)).toBe(1);
    const joined = new Uint8Array(4012);
    joined.set(ram.bytes(bufs[0], 1536), 0);
    joined.set(ram.bytes(bufs[1], 1536), 1536);
    joined.set(ram.bytes(bufs[2], 4012 - 3072), 3072);
    expect(joined.subarray(12)).toEqual(big);
  });

  it('without MRG_RXBUF drops a frame too big for the buffer and keeps the buffer', () => {
    const { ram, rx, port, fn } = nic();
    postRx(ram, rx, 1, 600);
    port.inject(frame(1000, 1));
    expect(rx.reap()).toEqual([]);
    port.inject(frame(500, 2));
    expect(rx.reap().map((u) => u.len)).toEqual([512]);
    expect(fn.device.stats).toMatchObject({ rxFrames: 1, rxDropped: 1 });
  });

  it('carries frames between two NICs wired back to back', () => {
    const [a, b] = wire();
    const na = nic({ backend: a });
    const nb = nic({ backend: b });
    const bufs = postRx(nb.ram, nb.rx, 2, 1526);
    const f = frame(1000, 42);
    transmit(na.ram, na.tx, f, 'split');
    expect(nb.rx.reap().map((u) => u.len)).toEqual([1012]);
    expect(nb.ram.bytes(bufs[0] + 12, 1000)).toEqual(f);
  });

  it('drops frames before DRIVER_OK and after the device broke, never throwing at the backend', () => {
    const d = nic({ start: false });
    d.port.inject(frame(64));
    expect(d.fn.device.stats.rxDropped).toBe(1);
    d.drv.start(2, BASIC);
    const rx = d.drv.queues[0];
    const tx = d.drv.queues[1];
    postRx(d.ram, rx, 2, 1526);
    // A transmit chain with no room for the header breaks the device (§5.1.6.2).
    tx.add([{ addr: d.ram.alloc(8), len: 8 }]);
    tx.kick();
    expect(d.fn.needsReset).toBe(true);
    expect(() => d.port.inject(frame(64))).not.toThrow();
    expect(rx.reap()).toEqual([]);
    expect(d.fn.faults).toMatchObject({ guest: 1, memory: 0, internal: 0 });
    // An rx buffer with no writable byte under MRG_RXBUF also breaks it, from the backend's call.
    const m = nic({ features: BASIC | VIRTIO_NET_F_MRG_RXBUF });
    m.rx.add([{ addr: m.ram.alloc(64), len: 64 }]);
    m.rx.kick();
    expect(() => m.port.inject(frame(64))).not.toThrow();
    expect(m.fn.needsReset).toBe(true);
  });

  describe('checksum offloads', () => {
    const GW_MAC = Uint8Array.of(0x52, 0x55, 10, 0, 2, 2);
    const udp = (payload: Uint8Array) =>
      buildUdpFrame({ dstMac: GW_MAC, srcMac: MAC, src: 0x0a00020f, dst: 0x0a000202, srcPort: 5000, dstPort: 53, ident: 7 }, payload);
    /** What Linux hands a NIC for CHECKSUM_PARTIAL: the pseudo-header sum in the field. */
    const partial = (f: Uint8Array): Uint8Array => {
      const p = f.slice();
      const len = f.length - 34;
      const seed = pseudoHeaderSum(0x0a00020f, 0x0a000202, 17, len);
      p[40] = seed >> 8;
      p[41] = seed & 0xff;
      return p;
    };
    const sendWithHeader = (d: ReturnType<typeof nic>, hdr: Uint8Array, f: Uint8Array) => {
      d.tx.add([{ addr: d.ram.put(hdr), len: 12 }, { addr: d.ram.put(f), len: f.length }]);
      d.tx.kick();
    };
    const needsCsum = (start: number, offset: number) => {
      const h = new Uint8Array(12);
      h[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
      new DataView(h.buffer).setUint16(6, start, true);
      new DataView(h.buffer).setUint16(8, offset, true);
      return h;
    };

    it('completes a partial transmit checksum (NEEDS_CSUM) to what a full checksum gives', () => {
      const d = nic({ features: BASIC | VIRTIO_NET_F_CSUM });
      const reference = udp(Uint8Array.from({ length: 999 }, (_, i) => (i * 13) & 0xff)); // odd length too
      sendWithHeader(d, needsCsum(34, 6), partial(reference));
      expect(d.port.sent).toEqual([reference]);
      expect(d.fn.device.stats.txChecksummed).toBe(1);
    });

    it('drops frames whose checksum offsets leave the frame, that ask for GSO, or NEEDS_CSUM without CSUM', () => {
      const d = nic({ features: BASIC | VIRTIO_NET_F_CSUM });
      const f = udp(new Uint8Array(20));
      sendWithHeader(d, needsCsum(f.length, 0), f);
      sendWithHeader(d, needsCsum(34, f.length), f);
      const gso = new Uint8Array(12);
      gso[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4, never offered
      sendWithHeader(d, gso, f);
      expect(d.port.sent).toEqual([]);
      expect(d.fn.device.stats.txDropped).toBe(3);
      expect(d.fn.needsReset).toBe(false);
      const plain = nic();
      sendWithHeader(plain, needsCsum(34, 6), partial(f));
      expect(plain.port.sent).toEqual([]);
    });

    it('marks received TCP/UDP frames DATA_VALID only when their checksums verify', () => {
      const d = nic({ features: BASIC | VIRTIO_NET_F_GUEST_CSUM });
      const good = udp(new Uint8Array(300).fill(7));
      const bad = good.slice();
      bad[100] ^= 1;
      const tcp = buildTcpFrame(
        { dstMac: MAC, srcMac: GW_MAC, src: 0x0a000202, dst: 0x0a00020f, srcPort: 80, dstPort: 40000, ident: 1, seq: 1, ack: 2, flags: TCP_ACK, window: 65535 },
        new Uint8Array(1400).fill(0x41),
      );
      const noUdpSum = good.slice();
      noUdpSum[40] = noUdpSum[41] = 0;
      const fragment = good.slice();
      fragment[20] |= 0x20; // More Fragments, with the IP header checksum made right again
      fragment[24] = fragment[25] = 0;
      const ipSum = internetChecksum(fragment, 14, 34);
      fragment[24] = ipSum >> 8;
      fragment[25] = ipSum & 0xff;
      const arp = frame(60);
      arp[12] = 0x08;
      arp[13] = 0x06;
      const frames = [good, bad, tcp, noUdpSum, fragment, arp];
      const bufs = postRx(d.ram, d.rx, frames.length, 1526);
      for (const f of frames) d.port.inject(f);
      expect(d.rx.reap()).toHaveLength(frames.length);
      expect(bufs.map((b) => d.ram.mem.read8(b))).toEqual([2, 0, 2, 0, 0, 0]);
      expect(d.fn.device.stats.rxChecksumVerified).toBe(2);
      // Without GUEST_CSUM the flag is never set.
      const plain = nic();
      const pb = postRx(plain.ram, plain.rx, 1, 1526);
      plain.port.inject(good);
      expect(plain.ram.mem.read8(pb[0])).toBe(0);
    });
  });
});
