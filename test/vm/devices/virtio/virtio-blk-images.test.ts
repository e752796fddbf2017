// virtio-blk on the storage layer's own BlockDevices (openImage: raw, qcow2, qcow2 over a
// backing file), checked from the host side with qemu-img and qemu-io.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openImage } from '../../../../src/storage/open-image.js';
import { createVirtioBlk } from '../../../../src/vm/devices/virtio/index.js';
import {
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from '../../../../src/vm/devices/virtio/virtio-blk.js';
import { GuestRam, VirtioGuestDriver, type Buf, type GuestQueue } from './support/guest-driver.js';

const MIB = 1 << 20;
const DISK_BYTES = 16 * MIB;
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vblk-img-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

function request(ram: GuestRam, q: GuestQueue, type: number, sector: bigint, out?: Uint8Array, inLen = 0): { status: number; data: number } {
  const hdr = new Uint8Array(16);
  new DataView(hdr.buffer).setUint32(0, type, true);
  new DataView(hdr.buffer).setBigUint64(8, sector, true);
  const bufs: Buf[] = [{ addr: ram.put(hdr), len: 16 }];
  let data = 0;
  if (out) bufs.push({ addr: (data = ram.put(out)), len: out.length });
  if (inLen) bufs.push({ addr: (data = ram.alloc(inLen)), len: inLen, write: true });
  const status = ram.alloc(1, 1);
  bufs.push({ addr: status, len: 1, write: true });
  q.add(bufs);
  q.kick();
  q.reap();
  return { status: ram.mem.read8(status), data };
}

/** Makes the image under test: raw, qcow2, or a qcow2 overlay on a qcow2 base. */
function makeImage(kind: 'raw' | 'qcow2' | 'qcow2-backing'): { image: string; base?: string } {
  const image = path.join(dir, kind === 'raw' ? 'disk.raw' : 'disk.qcow2');
  // Sector 100 holds 0x5a: in the image itself, or only in the backing file.
  if (kind === 'qcow2-backing') {
    const base = path.join(dir, 'base.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', base, String(DISK_BYTES)]);
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 51200 4096', base]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', image]);
    return { image, base };
  }
  const fmt = kind === 'raw' ? 'raw' : 'qcow2';
  run('qemu-img', ['create', '-q', '-f', fmt, image, String(DISK_BYTES)]);
  run('qemu-io', ['-f', fmt, '-c', 'write -P 0x5a 51200 4096', image]);
  return { image };
}

describe('virtio-blk on openImage', () => {
  for (const kind of ['raw', 'qcow2', 'qcow2-backing'] as const) {
    it(`${kind}: the guest reads, writes, zeroes and flushes; qemu-img sees a clean image with the data`, () => {
      const { image, base } = makeImage(kind);
      const disk = openImage(image, { readOnly: false });
      const p = VirtioGuestDriver.platform(new GuestRam(8 * MIB));
      const fn = createVirtioBlk({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, device: disk, serial: `vd-${kind}`, cache: 'writeback' });
      const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: true });
      const [q] = drv.start(1, drv.deviceFeatures());
      expect(drv.config(0, 4)).toBe(DISK_BYTES / 512);

      const rd = request(p.ram, q, VIRTIO_BLK_T_IN, 100n, undefined, 4096);
      expect(rd.status).toBe(VIRTIO_BLK_S_OK);
      expect(p.ram.bytes(rd.data, 4096).every((b) => b === 0x5a)).toBe(true);

      // 1 MiB at 3 MiB in 64 KiB requests, each byte 0x3c: qemu-io can verify it by pattern.
      const chunk = new Uint8Array(64 * 1024).fill(0x3c);
      for (let i = 0; i < 16; i++) expect(request(p.ram, q, VIRTIO_BLK_T_OUT, BigInt((3 * MIB + i * chunk.length) / 512), chunk).status).toBe(VIRTIO_BLK_S_OK);
      // Zero sector 100's first half (in the overlay only, for the backing case).
      const seg = new Uint8Array(16);
      new DataView(seg.buffer).setBigUint64(0, 100n, true);
      new DataView(seg.buffer).setUint32(8, 4, true);
      expect(request(p.ram, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, seg).status).toBe(VIRTIO_BLK_S_OK);
      expect(request(p.ram, q, VIRTIO_BLK_T_FLUSH, 0n).status).toBe(VIRTIO_BLK_S_OK);
      const id = request(p.ram, q, VIRTIO_BLK_T_GET_ID, 0n, undefined, 20);
      expect(Buffer.from(p.ram.bytes(id.data, 20)).toString('latin1').replace(/\0+$/, '')).toBe(`vd-${kind}`);
      const back = request(p.ram, q, VIRTIO_BLK_T_IN, BigInt(3 * MIB / 512), undefined, MIB);
      expect(p.ram.bytes(back.data, MIB).every((b) => b === 0x3c)).toBe(true);
      disk.close();

      const fmt = kind === 'raw' ? 'raw' : 'qcow2';
      if (fmt === 'qcow2') run('qemu-img', ['check', '-f', 'qcow2', image]);
      const verify = (cmd: string): string => run('qemu-io', ['-f', fmt, '-c', cmd, image]);
      expect(verify(`read -P 0x3c ${3 * MIB} ${MIB}`)).not.toMatch(/verification failed/);
      expect(verify('read -P 0 51200 2048')).not.toMatch(/verification failed/);
      expect(verify('read -P 0x5a 53248 2048')).not.toMatch(/verification failed/);
      if (base) {
        // The backing file is untouched: writes went to the overlay.
        run('qemu-img', ['check', '-f', 'qcow2', base]);
        expect(run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 51200 4096', base])).not.toMatch(/verification failed/);
        expect(run('qemu-io', ['-f', 'qcow2', '-c', `read -P 0 ${3 * MIB} ${MIB}`, base])).not.toMatch(/verification failed/);
      }
    });
  }

  it('a disk opened read-only offers VIRTIO_BLK_F_RO and the image stays unchanged', () => {
    const { image } = makeImage('qcow2');
    const before = fs.readFileSync(image);
    const disk = openImage(image, { readOnly: true });
    const p = VirtioGuestDriver.platform();
    const fn = createVirtioBlk({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, device: disk });
    const drv = new VirtioGuestDriver(fn, p.bus, p.ram);
    expect(drv.deviceFeatures() & VIRTIO_BLK_F_RO).toBe(VIRTIO_BLK_F_RO);
    const [q] = drv.start(1, drv.deviceFeatures());
    expect(request(p.ram, q, VIRTIO_BLK_T_OUT, 0n, new Uint8Array(512).fill(1)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(request(p.ram, q, VIRTIO_BLK_T_IN, 100n, undefined, 512).status).toBe(VIRTIO_BLK_S_OK);
    disk.close();
    expect(Buffer.compare(fs.readFileSync(image), before)).toBe(0);
  });
});
