import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVirtioBlk, type BlkCacheMode } from '../../../../src/vm/devices/virtio/index.js';
import {
  BLK_CFG_BLK_SIZE,
  BLK_CFG_CAPACITY,
  BLK_CFG_MAX_DISCARD_SECTORS,
  BLK_CFG_MAX_DISCARD_SEG,
  BLK_CFG_MAX_WRITE_ZEROES_SECTORS,
  BLK_CFG_SEG_MAX,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from '../../../../src/vm/devices/virtio/virtio-blk.js';
import { VIRTIO_F_VERSION_1 } from '../../../../src/vm/devices/virtio/virtio-device.js';
import { FileBlockDevice } from './support/file-block-device.js';
import { GuestRam, VirtioGuestDriver, type Buf, type GuestQueue } from './support/guest-driver.js';

const DISK_BYTES = 8 << 20;
let dir: string;
let image: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vblk-'));
  image = path.join(dir, 'disk.raw');
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', image, String(DISK_BYTES)]);
  // A known pattern in sector 100 so reads have something to find.
  execFileSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 51200 4096', image]);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function setup(opts: { readOnly?: boolean; cache?: BlkCacheMode; serial?: string; msix?: boolean } = {}) {
  const p = VirtioGuestDriver.platform();
  const disk = new FileBlockDevice(image, opts.readOnly);
  const fn = createVirtioBlk({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, device: disk, serial: opts.serial, cache: opts.cache, readOnly: opts.readOnly });
  const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: opts.msix });
  const [q] = drv.start(1, drv.deviceFeatures());
  return { ...p, disk, fn, drv, q };
}

interface Request {
  type: number;
  sector?: bigint;
  out?: Uint8Array;
  inLen?: number;
  split?: number;
  indirect?: boolean;
}

/** Builds a request like virtio_blk.c does: header, data, status; returns where things are. */
function submit(ram: GuestRam, q: GuestQueue, r: Request): { head: number; data: number; status: number } {
  const hdr = new Uint8Array(16);
  const v = new DataView(hdr.buffer);
  v.setUint32(0, r.type, true);
  v.setBigUint64(8, r.sector ?? 0n, true);
  const bufs: Buf[] = [{ addr: ram.put(hdr), len: 16 }];
  let data = 0;
  const pieces = (total: number, write: boolean, at: number): void => {
    const n = r.split ?? 1;
    const step = Math.ceil(total / n);
    for (let o = 0; o < total; o += step) bufs.push({ addr: at + o, len: Math.min(step, total - o), write });
  };
  if (r.out) {
    data = ram.put(r.out);
    pieces(r.out.length, false, data);
  }
  if (r.inLen) {
    data = ram.alloc(r.inLen);
    pieces(r.inLen, true, data);
  }
  const status = ram.alloc(1, 1);
  ram.mem.write8(status, 0xff);
  bufs.push({ addr: status, len: 1, write: true });
  const head = q.add(bufs, { indirect: r.indirect });
  q.kick();
  return { head, data, status };
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('virtio-blk', () => {
  it('reports capacity, block size, segment and discard limits in its config space', () => {
    const { drv } = setup();
    expect(drv.fn.configRead(2, 2)).toBe(0x1042);
    expect(drv.config(BLK_CFG_CAPACITY, 4)).toBe(DISK_BYTES / 512);
    expect(drv.config(BLK_CFG_CAPACITY + 4, 4)).toBe(0);
    expect(drv.config(BLK_CFG_BLK_SIZE, 4)).toBe(512);
    expect(drv.config(BLK_CFG_SEG_MAX, 4)).toBe(254);
    expect(drv.config(BLK_CFG_MAX_DISCARD_SECTORS, 4)).toBeGreaterThan(0);
    expect(drv.config(BLK_CFG_MAX_DISCARD_SEG, 4)).toBeGreaterThan(0);
    expect(drv.config(BLK_CFG_MAX_WRITE_ZEROES_SECTORS, 4)).toBeGreaterThan(0);
    const f = drv.deviceFeatures();
    expect(f & VIRTIO_F_VERSION_1).toBe(VIRTIO_F_VERSION_1);
    expect(f & VIRTIO_BLK_F_FLUSH).toBe(VIRTIO_BLK_F_FLUSH);
    expect(f & (VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES)).toBe(VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES);
    expect(f & VIRTIO_BLK_F_RO).toBe(0n);
  });

  it('reads what is on the image, and writes land in the file as qemu-io sees them', () => {
    const { ram, q, disk } = setup({ msix: true });
    const rd = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: 100n, inLen: 4096, split: 3 });
    expect(q.reap()).toEqual([{ id: rd.head, len: 4097 }]);
    expect(ram.mem.read8(rd.status)).toBe(VIRTIO_BLK_S_OK);
    expect(ram.bytes(rd.data, 4096).every((b) => b === 0x5a)).toBe(true);

    const data = pattern(64 * 1024, 7);
    const wr = submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 2048n, out: data, split: 5 });
    expect(q.reap()).toEqual([{ id: wr.head, len: 1 }]);
    expect(ram.mem.read8(wr.status)).toBe(VIRTIO_BLK_S_OK);
    disk.close();
    const file = fs.readFileSync(image);
    expect(Buffer.compare(file.subarray(2048 * 512, 2048 * 512 + data.length), Buffer.from(data))).toBe(0);
    execFileSync('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 51200 4096', image]);
  });

  it('serves requests through indirect descriptors and with the header split over descriptors', () => {
    const { ram, q } = setup();
    const data = pattern(8192, 3);
    const wr = submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 8n, out: data, split: 4, indirect: true });
    const rd = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: 8n, inLen: 8192, split: 2, indirect: true });
    expect(q.reap().map((u) => u.id)).toEqual([wr.head, rd.head]);
    expect(ram.bytes(rd.data, 8192)).toEqual(data);

    // §2.6.4: no assumption about framing: header over two descriptors, data and status in one.
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setBigUint64(8, 8n, true); // IN, sector 8
    const h = ram.put(hdr);
    const buf = ram.alloc(513);
    const head = q.add([{ addr: h, len: 5 }, { addr: h + 5, len: 11 }, { addr: buf, len: 513, write: true }]);
    q.kick();
    expect(q.reap()).toEqual([{ id: head, len: 513 }]);
    expect(ram.bytes(buf, 512)).toEqual(data.subarray(0, 512));
    expect(ram.mem.read8(buf + 512)).toBe(VIRTIO_BLK_S_OK);
  });

  it('accepts an indirect table longer than a small queue, as Linux sends for seg_max segments', () => {
    const p = VirtioGuestDriver.platform();
    const fn = createVirtioBlk({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, device: new FileBlockDevice(image) });
    const drv = new VirtioGuestDriver(fn, p.bus, p.ram);
    expect(drv.negotiate(drv.deviceFeatures())).toBe(true);
    const q = drv.setupQueue(0, 16); // the driver picked 16 of 256 entries
    drv.setStatus(15);
    const data = pattern(40 * 512, 5);
    const r = submit(p.ram, q, { type: VIRTIO_BLK_T_OUT, sector: 64n, out: data, split: 40, indirect: true });
    expect(p.ram.mem.read8(r.status)).toBe(VIRTIO_BLK_S_OK);
    expect(fn.needsReset).toBe(false);
    const back = submit(p.ram, q, { type: VIRTIO_BLK_T_IN, sector: 64n, inLen: 40 * 512, split: 40, indirect: true });
    expect(p.ram.bytes(back.data, 40 * 512)).toEqual(data);
  });

  it('answers GET_ID with the serial: 20 bytes, NUL-padded, truncated when longer', () => {
    for (const [serial, want] of [['QM00001', 'QM00001'], ['ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'ABCDEFGHIJKLMNOPQRST']]) {
      const { ram, q } = setup({ serial });
      const r = submit(ram, q, { type: VIRTIO_BLK_T_GET_ID, inLen: 20 });
      expect(q.reap()[0].len).toBe(21);
      expect(ram.mem.read8(r.status)).toBe(VIRTIO_BLK_S_OK);
      const id = Buffer.from(ram.bytes(r.data, 20));
      expect(id.toString('latin1').replace(/\0+$/, '')).toBe(want);
      expect(id.subarray(want.length).every((b) => b === 0)).toBe(true);
    }
  });

  it('flushes per write for cache=none/directsync/writethrough, only on FLUSH for writeback, never for unsafe', () => {
    const counts: Record<string, number[]> = {};
    for (const cache of ['none', 'directsync', 'writethrough', 'writeback', 'unsafe'] as const) {
      const { ram, q, disk } = setup({ cache });
      submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 1n, out: pattern(512, 1) });
      submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 2n, out: pattern(512, 2) });
      const afterWrites = disk.flushes;
      const f = submit(ram, q, { type: VIRTIO_BLK_T_FLUSH });
      expect(ram.mem.read8(f.status)).toBe(VIRTIO_BLK_S_OK);
      counts[cache] = [afterWrites, disk.flushes];
    }
    expect(counts).toEqual({ none: [2, 3], directsync: [2, 3], writethrough: [2, 3], writeback: [0, 1], unsafe: [0, 0] });
  });

  it('offers VIRTIO_BLK_F_RO on a read-only disk and fails writes with IOERR without writing', () => {
    const before = fs.readFileSync(image);
    const { ram, q, drv } = setup({ readOnly: true });
    const f = drv.deviceFeatures();
    expect(f & VIRTIO_BLK_F_RO).toBe(VIRTIO_BLK_F_RO);
    expect(f & VIRTIO_BLK_F_DISCARD).toBe(0n);
    const w = submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 0n, out: pattern(4096, 9) });
    const seg = new Uint8Array(16);
    new DataView(seg.buffer).setUint32(8, 8, true);
    const d = submit(ram, q, { type: VIRTIO_BLK_T_DISCARD, out: seg });
    const r = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: 100n, inLen: 512 });
    expect(ram.mem.read8(w.status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(ram.mem.read8(d.status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(ram.mem.read8(r.status)).toBe(VIRTIO_BLK_S_OK);
    expect(ram.mem.read8(r.data)).toBe(0x5a);
    expect(Buffer.compare(fs.readFileSync(image), before)).toBe(0);
  });

  it('returns IOERR for requests past the end, partial sectors and disk errors', () => {
    const { ram, q, disk, fn } = setup();
    const last = BigInt(DISK_BYTES / 512);
    const past = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: last - 1n, inLen: 1024 });
    const huge = submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 0xffff_ffff_ffff_fff0n, out: pattern(512, 0) });
    const partial = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: 0n, inLen: 100 });
    disk.failNext = true;
    const eio = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: 0n, inLen: 512 });
    const ok = submit(ram, q, { type: VIRTIO_BLK_T_IN, sector: last - 1n, inLen: 512 });
    expect([past, huge, partial, eio, ok].map((r) => ram.mem.read8(r.status))).toEqual([
      VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
    ]);
    expect(fn.device.stats.ioErrors).toBe(4);
    expect(fn.needsReset).toBe(false);
  });

  it('answers UNSUPP for request types it does not implement', () => {
    const { ram, q } = setup();
    for (const type of [10, 14, 2, 0x7fff_ffff]) {
      const r = submit(ram, q, { type, inLen: 16 });
      expect(q.reap()[0].len).toBe(1);
      expect(ram.mem.read8(r.status)).toBe(VIRTIO_BLK_S_UNSUPP);
    }
  });

  it('discards and writes zeroes by segment, and refuses malformed segments', () => {
    const { ram, q, disk } = setup();
    submit(ram, q, { type: VIRTIO_BLK_T_OUT, sector: 0n, out: new Uint8Array(64 * 512).fill(0xee) });
    const segs = (list: Array<[bigint, number, number]>): Uint8Array => {
      const b = new Uint8Array(16 * list.length);
      const v = new DataView(b.buffer);
      list.forEach(([s, n, flags], i) => {
        v.setBigUint64(16 * i, s, true);
        v.setUint32(16 * i + 8, n, true);
        v.setUint32(16 * i + 12, flags, true);
      });
      return b;
    };
    const d = submit(ram, q, { type: VIRTIO_BLK_T_DISCARD, out: segs([[0n, 8, 0], [16n, 8, 0]]) });
    const z = submit(ram, q, { type: VIRTIO_BLK_T_WRITE_ZEROES, out: segs([[32n, 4, 0]]) });
    const zu = submit(ram, q, { type: VIRTIO_BLK_T_WRITE_ZEROES, out: segs([[40n, 4, 1]]) });
    const badFlag = submit(ram, q, { type: VIRTIO_BLK_T_DISCARD, out: segs([[48n, 1, 1]]) });
    const badReserved = submit(ram, q, { type: VIRTIO_BLK_T_WRITE_ZEROES, out: segs([[48n, 1, 2]]) });
    const tooMany = submit(ram, q, { type: VIRTIO_BLK_T_DISCARD, out: segs(Array.from({ length: 33 }, () => [48n, 1, 0] as [bigint, number, number])) });
    const past = submit(ram, q, { type: VIRTIO_BLK_T_DISCARD, out: segs([[BigInt(DISK_BYTES / 512) - 1n, 2, 0]]) });
    expect([d, z, zu, badFlag, badReserved, tooMany, past].map((r) => ram.mem.read8(r.status))).toEqual([
      VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR,
    ]);
    expect(disk.discards).toEqual([[0, 4096], [16 * 512, 4096], [40 * 512, 2048]]);
    const file = fs.readFileSync(image);
    const zeroed = (s: number, n: number): boolean => file.subarray(s * 512, (s + n) * 512).every((b) => b === 0);
    expect([zeroed(0, 8), zeroed(16, 8), zeroed(32, 4), zeroed(40, 4)]).toEqual([true, true, true, true]);
    expect(file.subarray(8 * 512, 16 * 512).every((b) => b === 0xee)).toBe(true);
    expect(file[48 * 512]).toBe(0xee);
  });

  it('marks itself NEEDS_RESET for a request without a header or status, and works again after reset', () => {
    const { ram, q, drv, fn, msi } = setup({ msix: true });
    msi.take();
    const buf = ram.alloc(8);
    q.add([{ addr: buf, len: 8 }]);
    q.kick();
    expect(fn.needsReset).toBe(true);
    expect(drv.status() & 0x40).toBe(0x40);
    expect(msi.take()).toEqual([0x40]); // the config-change vector
    expect(fn.faults).toMatchObject({ guest: 1, memory: 0, internal: 0 });
    // Linux's virtio_break_device + reset path: status 0, then the full probe again.
    const [q2] = drv.start(1, drv.deviceFeatures());
    expect(fn.needsReset).toBe(false);
    const r = submit(ram, q2, { type: VIRTIO_BLK_T_IN, sector: 100n, inLen: 512 });
    expect(ram.mem.read8(r.status)).toBe(VIRTIO_BLK_S_OK);
  });
});
