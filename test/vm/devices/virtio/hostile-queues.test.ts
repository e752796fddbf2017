// The hostile-guest harness (issue 7, "Show"): thousands of seeded, randomised queues
// against virtio-blk, virtio-net (both queues) and virtio-rng through the real PCI
// transport. Three kinds of case:
//   valid      a well-formed request, randomly split and sometimes indirect: served, no reset
//   violation  a well-formed request with one rule broken (loop, bad index, buffer outside
//              RAM, bad indirect table, order, missing header...): DEVICE_NEEDS_RESET
//   fuzz       random bytes in the descriptor table and rings: anything but a crash
// Across all of them no exception may escape the transport, and no access may reach
// outside guest RAM: the device's memory counts every refused access (CountingMemory),
// and the transport counts errors that were not the guest's (faults.memory/internal).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoBus } from '../../../../src/vm/bus.js';
import { LevelLine } from '../../../../src/vm/irq.js';
import { createVirtioBlk, createVirtioNet, createVirtioRng, VirtioPciFunction } from '../../../../src/vm/devices/virtio/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../../src/vm/devices/virtio/virtio-device.js';
import { VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF } from '../../../../src/vm/devices/virtio/virtio-net.js';
import { VIRTQ_MAX_INDIRECT_ENTRIES } from '../../../../src/vm/devices/virtio/virtqueue.js';
import { FileBlockDevice } from './support/file-block-device.js';
import { type Buf, CountingMemory, GuestRam, MsiRecorder, VirtioGuestDriver } from './support/guest-driver.js';
import { Port } from './support/wire.js';
import { rng } from '../../../support/mulberry32.mjs';

const CASES_PER_TARGET = 2500;
const RAM0_BYTES = 256 * 1024;
const HIGH_GPA = 0x1_0000_0000;
const HIGH_BYTES = 64 * 1024;
const DISK_BYTES = 1 << 20;

type Target = 'blk' | 'net-tx' | 'net-rx' | 'rng';

const VIOLATIONS = [
  'loop',
  'next-out-of-range',
  'head-out-of-range',
  'avail-jump',
  'buffer-outside-ram',
  'len-huge',
  'readable-after-writable',
  'nested-indirect',
  'indirect-bad-len',
  'indirect-with-next',
  'indirect-outside-ram',
  'indirect-loop',
  'indirect-next-out-of-range',
  'indirect-too-long',
  'device-framing',
] as const;
type Violation = (typeof VIOLATIONS)[number];

interface Rig {
  fn: VirtioPciFunction;
  drv: VirtioGuestDriver;
  ram: GuestRam;
  counting: CountingMemory;
  port: Port;
  queueIndex: number;
  nQueues: number;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-hostile-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function rig(target: Target): Rig {
  const ram = new GuestRam(RAM0_BYTES, [{ gpa: HIGH_GPA, sizeBytes: HIGH_BYTES }]);
  const counting = new CountingMemory(ram.mem);
  const bus = new IoBus();
  const platform = { bus, mem: counting, irq: new LevelLine(), msi: new MsiRecorder() };
  const port = new Port();
  let fn: VirtioPciFunction;
  if (target === 'blk') {
    const image = path.join(dir, `disk-${Math.random().toString(36).slice(2)}.raw`);
    fs.writeFileSync(image, new Uint8Array(DISK_BYTES));
    fn = createVirtioBlk({ ...platform, device: new FileBlockDevice(image), serial: 'hostile' });
  } else if (target === 'rng') {
    fn = createVirtioRng(platform);
  } else {
    fn = createVirtioNet({ ...platform, backend: port, mac: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3) });
  }
  const drv = new VirtioGuestDriver(fn, bus, ram, { msix: true });
  const nQueues = target === 'net-tx' || target === 'net-rx' ? 2 : 1;
  return { fn, drv, ram, counting, port, queueIndex: target === 'net-tx' ? 1 : 0, nQueues };
}

/** Splits `len` bytes at `addr` into 1..max descriptors. */
function split(rand: () => number, addr: number, len: number, write: boolean, max = 4): Buf[] {
  const n = Math.min(len, 1 + Math.floor(rand() * max));
  const out: Buf[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const part = i === n - 1 ? len - at : 1 + Math.floor(rand() * (len - at - (n - 1 - i)));
    out.push({ addr: addr + at, len: part, write });
    at += part;
  }
  return out;
}

/** A well-formed request for the target, as its Linux driver would build it. */
function validChain(target: Target, r: Rig, rand: () => number): Buf[] {
  const ram = r.ram;
  if (target === 'net-tx' && rand() < 0.5) {
    // A header with NEEDS_CSUM and random offsets, in front of a random frame.
    const len = 14 + Math.floor(rand() * 1500);
    const hdr = new Uint8Array(12);
    hdr[0] = 1;
    new DataView(hdr.buffer).setUint16(6, Math.floor(rand() * (len + 16)), true);
    new DataView(hdr.buffer).setUint16(8, Math.floor(rand() * (len + 16)), true);
    const body = ram.alloc(len);
    return [{ addr: ram.put(hdr), len: 12 }, ...split(rand, body, len, false, 3)];
  }
  if (target === 'blk') {
    const types = [0, 1, 4, 8, 11, 13, 99];
    const type = types[Math.floor(rand() * types.length)];
    const sectors = 1 + Math.floor(rand() * 8);
    const hdr = new Uint8Array(16);
    const v = new DataView(hdr.buffer);
    v.setUint32(0, type, true);
    v.setBigUint64(8, BigInt(Math.floor(rand() * (DISK_BYTES / 512 - sectors))), true);
    const bufs = split(rand, ram.put(hdr), 16, false, 2);
    if (type === 1) bufs.push(...split(rand, ram.alloc(sectors * 512), sectors * 512, false));
    if (type === 0) bufs.push(...split(rand, ram.alloc(sectors * 512), sectors * 512, true));
    if (type === 8) bufs.push({ addr: ram.alloc(20), len: 20, write: true });
    if (type === 11 || type === 13) {
      const seg = new Uint8Array(16);
      new DataView(seg.buffer).setUint32(8, sectors, true);
      bufs.push({ addr: ram.put(seg), len: 16 });
    }
    bufs.push({ addr: ram.alloc(1), len: 1, write: true });
    return bufs;
  }
  if (target === 'net-tx') {
    const len = 12 + 14 + Math.floor(rand() * 1500);
    return split(rand, ram.alloc(len), len, false);
  }
  if (target === 'net-rx') return split(rand, ram.alloc(1526), 1526, true, 3);
  const len = 1 + Math.floor(rand() * 2048);
  return split(rand, ram.alloc(len), len, true, 3);
}

interface DescRef {
  at: number; // guest address of the 16-byte descriptor
}

function descs(r: Rig, table: number, count: number): DescRef[] {
  return Array.from({ length: count }, (_, i) => ({ at: table + 16 * i }));
}

const mem = (r: Rig) => r.ram.mem;

/** Breaks one rule in a chain that was just added at head 0 (fresh queue). */
function spoil(v: Violation, r: Rig, bufs: Buf[], indirect: boolean, size: number, rand: () => number): void {
  const m = mem(r);
  const q = r.drv.queues[r.queueIndex];
  const table = indirect ? Number(m.read64(q.desc)) : q.desc;
  const list = descs(r, table, bufs.length);
  const last = list[list.length - 1];
  const any = list[Math.floor(rand() * list.length)];
  const flags = (d: DescRef) => m.read16(d.at + 12);
  switch (v) {
    case 'loop':
    case 'indirect-loop': {
      const to = Math.floor(rand() * list.length);
      m.write16(last.at + 12, flags(last) | 1);
      m.write16(last.at + 14, to);
      return;
    }
    case 'next-out-of-range':
    case 'indirect-next-out-of-range': {
      const limit = indirect ? bufs.length : size;
      m.write16(last.at + 12, flags(last) | 1);
      m.write16(last.at + 14, limit + Math.floor(rand() * (0x10000 - limit)));
      return;
    }
    case 'head-out-of-range':
      m.write16(q.avail + 4, size + Math.floor(rand() * (0x10000 - size)));
      return;
    case 'avail-jump':
      q.setAvailIdx(1 + size + Math.floor(rand() * (0x10000 - size - 1)));
      return;
    case 'buffer-outside-ram': {
      const variants: Array<[bigint, number]> = [
        [BigInt(RAM0_BYTES - 4), 16], // crosses the end of low RAM
        [BigInt(RAM0_BYTES + 0x1000), 8], // in the hole
        [BigInt(HIGH_GPA + HIGH_BYTES - 1), 2], // crosses the end of high RAM
        [BigInt(HIGH_GPA - 8), 16], // straddles the hole into high RAM
        [1n << 40n, 64],
        [0xffff_ffff_ffff_f000n, 16], // beyond 2^53
        [(1n << 64n) - 8n, 16], // wraps around 2^64
      ];
      const [addr, len] = variants[Math.floor(rand() * variants.length)];
      m.write64(any.at, addr);
      m.write32(any.at + 8, len);
      return;
    }
    case 'len-huge':
      m.write32(any.at + 8, 0x8000_0000 + Math.floor(rand() * 0x7fff_ffff));
      return;
    case 'readable-after-writable':
      m.write16(list[0].at + 12, flags(list[0]) | 2);
      m.write16(last.at + 12, flags(last) & ~2);
      return;
    case 'nested-indirect':
      m.write16(any.at + 12, flags(any) | 4);
      m.write32(any.at + 8, 16);
      return;
    case 'indirect-bad-len': {
      const lens = [0, 1, 15, 17, 16 * bufs.length - 1, 16 * bufs.length + 8];
      m.write32(q.desc + 8, lens[Math.floor(rand() * lens.length)]);
      return;
    }
    case 'indirect-with-next':
      m.write16(q.desc + 12, 4 | 1);
      m.write16(q.desc + 14, 1);
      return;
    case 'indirect-outside-ram':
      m.write64(q.desc, BigInt(rand() < 0.5 ? RAM0_BYTES - 16 * (bufs.length - 1) : 1 << 30));
      return;
    case 'indirect-too-long': {
      // A table of more entries than any device accepts (VIRTQ_MAX_INDIRECT_ENTRIES).
      const entries = VIRTQ_MAX_INDIRECT_ENTRIES + 1 + Math.floor(rand() * 8);
      m.write32(q.desc + 8, 16 * entries);
      m.write64(q.desc, BigInt(r.ram.alloc(16 * entries)));
      return;
    }
    case 'device-framing':
      throw new Error('device-framing is built, not spoiled');
  }
}

/** The same request made unusable for the device itself (header/status missing). */
function badFraming(target: Target, r: Rig): Buf[] {
  if (target === 'blk') return [{ addr: r.ram.alloc(8), len: 8 }, { addr: r.ram.alloc(1), len: 1, write: true }]; // short header
  if (target === 'net-tx') return [{ addr: r.ram.alloc(11), len: 11 }]; // no room for the 12-byte header
  return [{ addr: r.ram.alloc(64), len: 64 }]; // net-rx: nothing writable
}

function fuzz(r: Rig, size: number, rand: () => number): void {
  const m = mem(r);
  const q = r.drv.queues[r.queueIndex];
  const pick = () => {
    const x = rand();
    if (x < 0.6) return BigInt(Math.floor(rand() * RAM0_BYTES));
    if (x < 0.75) return BigInt(HIGH_GPA + Math.floor(rand() * HIGH_BYTES));
    if (x < 0.9) return BigInt(q.desc + 16 * Math.floor(rand() * size)); // point at the table itself
    return BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 40)));
  };
  for (let i = 0; i < size; i++) {
    const d = q.desc + 16 * i;
    m.write64(d, pick());
    const lens = [0, 1, 12, 16, 512, 4096, 0xffff_ffff, Math.floor(rand() * 0x10000)];
    m.write32(d + 8, lens[Math.floor(rand() * lens.length)]);
    m.write16(d + 12, Math.floor(rand() * 8));
    m.write16(d + 14, rand() < 0.8 ? Math.floor(rand() * size) : Math.floor(rand() * 0x10000));
  }
  // Random bytes across a few indirect-table candidates too.
  for (let i = 0; i < 4; i++) {
    const at = Math.floor(rand() * (RAM0_BYTES - 256));
    for (let j = 0; j < 256; j += 4) m.write32(at + j, Math.floor(rand() * 2 ** 32));
  }
  const n = Math.floor(rand() * size);
  for (let i = 0; i < n; i++) m.write16(q.avail + 4 + 2 * i, rand() < 0.9 ? Math.floor(rand() * size) : Math.floor(rand() * 0x10000));
  q.setAvailIdx(rand() < 0.9 ? n : Math.floor(rand() * 0x10000));
  m.write16(q.avail, Math.floor(rand() * 4)); // flags
  m.write16(q.avail + 4 + 2 * size, Math.floor(rand() * 0x10000)); // used_event
}

/** A frame from the host: sometimes a well-formed IPv4/UDP one, sometimes its corruption. */
function frame(len: number, rand?: () => number): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xff, 0, 6);
  if (rand && len >= 42 && rand() < 0.5) {
    f.set([0x08, 0x00, 0x45, 0, (len - 14) >> 8, (len - 14) & 0xff, 0, 0, 0, 0, 64, 17], 12);
    for (let i = 26; i < len; i++) f[i] = Math.floor(rand() * 256);
  }
  return f;
}

interface Tally {
  valid: number;
  validServed: number;
  violation: Record<string, { cases: number; reset: number }>;
  fuzz: number;
  fuzzReset: number;
  escaped: string[];
}

function run(target: Target, seed: number): { tally: Tally; r: Rig } {
  const rand = rng(seed);
  const r = rig(target);
  const tally: Tally = { valid: 0, validServed: 0, violation: {}, fuzz: 0, fuzzReset: 0, escaped: [] };
  const ring = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
  for (let c = 0; c < CASES_PER_TARGET; c++) {
    try {
      r.ram.rewind();
      const mergeable = target === 'net-rx' && rand() < 0.5;
      // Checksum offloads on half the cases: the transmit header (whatever the guest left in
      // that memory) then steers NEEDS_CSUM offsets, the receive side verifies checksums.
      const csum = rand() < 0.5 ? VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM : 0n;
      const features = ring | (target.startsWith('net') ? VIRTIO_NET_F_MAC | csum | (mergeable ? VIRTIO_NET_F_MRG_RXBUF : 0n) : 0n);
      if (!r.drv.negotiate(features)) throw new Error('negotiation failed');
      r.drv.enableMsix(r.nQueues + 1);
      const max = r.nQueues === 2 ? 256 : target === 'rng' ? 64 : 256;
      // 8 and up: the longest request built here takes 7 descriptors.
      const size = 2 ** (3 + Math.floor(rand() * (Math.log2(max) - 2)));
      for (let i = 0; i < r.nQueues; i++) r.drv.setupQueue(i, i === r.queueIndex ? size : undefined);
      r.drv.setStatus(15);
      const q = r.drv.queues[r.queueIndex];
      const kindRoll = rand();
      const used0 = mem(r).read16(q.used + 2);
      if (kindRoll < 0.3) {
        tally.valid++;
        const bufs = validChain(target, r, rand);
        q.add(bufs, { indirect: rand() < 0.3 });
        q.kick();
        if (target === 'net-rx') r.port.inject(frame(60 + Math.floor(rand() * 1400), rand));
        const served = mem(r).read16(q.used + 2) !== used0;
        if (served && !r.fn.needsReset) tally.validServed++;
      } else if (kindRoll < 0.8) {
        let v = VIOLATIONS[Math.floor(rand() * VIOLATIONS.length)];
        // virtio-rng returns a chain without writable bytes empty (§5.4.6.1 asks nothing more).
        if (v === 'device-framing' && target === 'rng') v = 'loop';
        const bufs = v === 'device-framing' ? badFraming(target, r) : validChain(target, r, rand);
        if (v === 'readable-after-writable' && bufs.length < 2) bufs.push({ addr: r.ram.alloc(4), len: 4, write: true });
        const indirect = v.startsWith('indirect') || v === 'nested-indirect';
        q.add(bufs, { indirect });
        if (v !== 'device-framing') spoil(v, r, bufs, indirect, size, rand);
        q.kick();
        if (target === 'net-rx') r.port.inject(frame(100));
        const t = (tally.violation[v] ??= { cases: 0, reset: 0 });
        t.cases++;
        if (r.fn.needsReset) t.reset++;
      } else {
        tally.fuzz++;
        fuzz(r, size, rand);
        q.kick();
        if (target === 'net-rx') r.port.inject(frame(200));
        // And the rest of the driver's registers, poked at random.
        for (let i = 0; i < 4; i++) {
          const off = Math.floor(rand() * 0x38);
          r.drv.w(off, ([1, 2, 4] as const)[Math.floor(rand() * 3)], Math.floor(rand() * 2 ** 32));
        }
        q.kick();
        if (r.fn.needsReset) tally.fuzzReset++;
      }
    } catch (e) {
      tally.escaped.push(`case ${c}: ${(e as Error).stack}`);
    }
  }
  return { tally, r };
}

describe('virtio devices under hostile queues', () => {
  for (const [target, seed] of [['blk', 0xb10c], ['net-tx', 0x7e7], ['net-rx', 0x12c], ['rng', 0x5eed]] as const) {
    it(`${target}: ${CASES_PER_TARGET} random and malformed queues, no escape, no access outside RAM`, () => {
      const { tally, r } = run(target, seed);
      expect(tally.escaped.slice(0, 3)).toEqual([]);
      expect(r.counting.outside).toBe(0);
      expect(r.fn.faults.memory).toBe(0);
      expect(r.fn.faults.internal).toBe(0);
      // Every well-formed request was served without breaking the device.
      expect(tally.valid).toBeGreaterThan(CASES_PER_TARGET / 5);
      expect(tally.validServed).toBe(tally.valid);
      // Every broken rule marked the device NEEDS_RESET.
      for (const [v, t] of Object.entries(tally.violation)) expect({ v, reset: t.reset }).toEqual({ v, reset: t.cases });
      expect(Object.keys(tally.violation).sort()).toEqual(VIOLATIONS.filter((v) => target !== 'rng' || v !== 'device-framing').sort());
      expect(tally.fuzz).toBeGreaterThan(CASES_PER_TARGET / 10);
      // Fuzzed rings mostly break the rules; the device noticed and survived.
      expect(tally.fuzzReset).toBeGreaterThan(tally.fuzz / 2);
      expect(r.fn.faults.guest).toBeGreaterThan(CASES_PER_TARGET / 3);
    });
  }

  it('survives 20,000 random config-space and BAR accesses, then works again after a PCI reset', () => {
    const rand = rng(0xc0f1);
    const r = rig('blk');
    r.drv.start(1);
    const sizes = [1, 2, 4] as const;
    let escaped = 0;
    for (let i = 0; i < 20_000; i++) {
      const size = sizes[Math.floor(rand() * 3)];
      const value = Math.floor(rand() * 2 ** 32);
      try {
        if (rand() < 0.3) {
          const off = Math.floor(rand() * 0x1100) - 0x40; // past both ends of config space too
          if (rand() < 0.5) r.fn.configRead(off, size);
          else r.fn.configWrite(off, size, value);
        } else {
          // Anywhere in the BAR, mapped or not (the guest may have moved it meanwhile).
          const off = Math.floor(rand() * 0x8000);
          if (rand() < 0.5) r.fn.mmioRead(off, size);
          else r.fn.mmioWrite(off, size, value);
        }
      } catch {
        escaped++;
      }
    }
    expect(escaped).toBe(0);
    expect(r.counting.outside).toBe(0);
    expect(r.fn.faults).toMatchObject({ memory: 0, internal: 0 });
    // The machine's reset: everything back to power-on, then the driver probes again.
    r.fn.reset();
    r.ram.rewind();
    const drv = new VirtioGuestDriver(r.fn, r.drv.bus, r.ram, { msix: true });
    const [q] = drv.start(1);
    const hdr = new Uint8Array(16); // IN, sector 0
    const status = r.ram.alloc(1);
    r.ram.mem.write8(status, 0xff);
    q.add([{ addr: r.ram.put(hdr), len: 16 }, { addr: r.ram.alloc(512), len: 512, write: true }, { addr: status, len: 1, write: true }]);
    q.kick();
    expect(r.ram.mem.read8(status)).toBe(0);
  });
});
