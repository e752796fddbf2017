// Hostile images: each damaged field is a clear TsvirtError (no hang, no crash, no read
// outside the file), on open, on read, or on write.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TsvirtError } from '../../src/lib/errors.js';
import { checkImage } from '../../src/storage/check-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { checkBackingFormat } from '../../src/storage/qcow2/backing.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { be32, be64, makeTmpDir, patch, qemuImg, qemuIo, readFileRange } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());
let n = 0;

/** A 16 MiB qcow2 (64 KiB clusters) with data in its first MiB, written by qemu-io. */
function goodImage(): { path: string; l1: number; l2: number } {
  const path = tmp.file(`img${n++}.qcow2`);
  qemuImg('create', '-q', '-f', 'qcow2', path, '16M');
  qemuIo(path, ['write -P 0x11 0 1M']);
  const l1 = Number(readFileRange(path, 40, 8).readBigUInt64BE());
  const l2 = Number(readFileRange(path, l1, 8).readBigUInt64BE() & 0x00fffffffffffe00n);
  return { path, l1, l2 };
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'should throw').toBeInstanceOf(TsvirtError);
  expect((caught as Error).message).toMatch(pattern);
}

function openAndRead(path: string, readOnly = true): void {
  const dev = openImage(path, { readOnly, format: 'qcow2' });
  try {
    const buf = Buffer.alloc(Math.min(dev.size, 2 * 2 ** 20));
    dev.read(0, buf);
    if (!readOnly) dev.write(Math.min(3 * 2 ** 20, dev.size - 4096), Buffer.alloc(4096, 1));
  } finally {
    dev.close();
  }
}

describe('hostile qcow2 images', () => {
  it('wrong magic', () => {
    const { path } = goodImage();
    patch(path, 0, Buffer.from('QFI\x00', 'latin1'));
    expectError(() => openAndRead(path), /not a qcow2 image \(wrong magic/);
  });

  it('truncated header (v2 part and v3 part)', () => {
    const { path } = goodImage();
    const short = tmp.file('short.qcow2');
    fs.writeFileSync(short, readFileRange(path, 0, 40));
    expectError(() => openAndRead(short), /truncated header/);
    fs.writeFileSync(short, readFileRange(path, 0, 90));
    expectError(() => openAndRead(short), /truncated version 3 header/);
  });

  it('L1 table beyond EOF', () => {
    const { path } = goodImage();
    patch(path, 40, be64(0x100000000));
    expectError(() => openAndRead(path), /L1 table at offset 4294967296 .* beyond the end of the file/);
  });

  it('absurd L1 size, and an L1 too small for the virtual size', () => {
    const { path } = goodImage();
    patch(path, 36, be32(0x7fffffff));
    expectError(() => openAndRead(path), /exceeds the 33554432-byte limit/);
    const b = goodImage();
    patch(b.path, 24, be64(2 ** 50));
    expectError(() => openAndRead(b.path), /too small for a virtual size/);
  });

  it('refcount table overlapping the L1 table or the header, absurd refcount table size', () => {
    const a = goodImage();
    patch(a.path, 48, be64(a.l1));
    expectError(() => openAndRead(a.path), /overlaps/);
    const b = goodImage();
    patch(b.path, 48, be64(0));
    expectError(() => openAndRead(b.path), /refcount table offset 0/);
    const c = goodImage();
    patch(c.path, 56, be32(0xffffffff));
    expectError(() => openAndRead(c.path), /refcount table of 4294967295 clusters/);
  });

  it('a data cluster offset beyond the file, and an unaligned one', () => {
    const a = goodImage();
    patch(a.path, a.l2, be64(0x8000000000000000n | 0x40000000000n));
    expectError(() => openAndRead(a.path), /beyond the end of the file/);
    const b = goodImage();
    patch(b.path, b.l2, be64(0x8000000000000000n | 0x50200n));
    expectError(() => openAndRead(b.path), /unaligned offset/);
  });

  it('a zero cluster with an unaligned kept offset, and the zero flag in a version 2 image, as qemu-img refuses them', () => {
    const a = goodImage();
    patch(a.path, a.l2, be64(0x8000000000000001n | 0x50200n));
    expectError(() => openAndRead(a.path), /unaligned offset/);
    expect(() => qemuImg('convert', '-O', 'raw', a.path, tmp.file(`z${n++}.raw`))).toThrow(/unaligned/i);
    const path = tmp.file(`v2-${n++}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', path, '16M');
    qemuIo(path, ['write -P 0x11 0 64k']);
    const l1 = Number(readFileRange(path, 40, 8).readBigUInt64BE());
    const l2 = Number(readFileRange(path, l1, 8).readBigUInt64BE() & 0x00fffffffffffe00n);
    patch(path, l2 + 7, Buffer.from([readFileRange(path, l2 + 7, 1)[0] | 1]));
    expectError(() => openAndRead(path), /zero flag, which a version 2 image may not use/);
    expect(() => qemuImg('convert', '-O', 'raw', path, tmp.file(`z${n++}.raw`))).toThrow(/pre-v3/i);
  });

  it('an empty backing format extension is probed, as qemu-img does', () => {
    expect(checkBackingFormat('x.qcow2', '')).toBeUndefined();
  });

  it('data clusters, L2 tables and refcount blocks pointing into the header, L1 or refcount table', () => {
    const a = goodImage();
    patch(a.path, a.l2, be64(0x8000000000000000n | BigInt(a.l1)));
    expectError(() => openAndRead(a.path), /data cluster of guest cluster 0 at offset \d+ overlaps the L1 table/);
    const b = goodImage();
    patch(b.path, b.l1, be64(0x8000000000000000n | BigInt(Number(readFileRange(b.path, 48, 8).readBigUInt64BE()))));
    expectError(() => openAndRead(b.path), /an L2 table at offset \d+ overlaps the refcount table/);
    const c = goodImage();
    const reft = Number(readFileRange(c.path, 48, 8).readBigUInt64BE());
    patch(c.path, reft, be64(c.l1));
    expectError(() => openAndRead(c.path, false), /a refcount block at offset \d+ overlaps the L1 table/);
    expect(readFileRange(c.path, c.l1, 8).readBigUInt64BE()).not.toBe(0n); // the L1 table survived
  });

  it('an L2 table beyond the file', () => {
    const a = goodImage();
    patch(a.path, a.l1, be64(0x8000000000000000n | 0x40000000000n));
    expectError(() => openAndRead(a.path), /L2 table at offset .* beyond the end of the file/);
  });

  it('a refcount block beyond the file fails the first allocating write', () => {
    const a = goodImage();
    const reft = Number(readFileRange(a.path, 48, 8).readBigUInt64BE());
    patch(a.path, reft, be64(0x40000000000n));
    expectError(() => openAndRead(a.path, false), /refcount block at offset .* beyond the end of the file/);
  });

  it('unknown incompatible feature bits, encryption, a header extension running past the cluster', () => {
    const a = goodImage();
    patch(a.path, 72, be64(1n << 20n));
    expectError(() => openAndRead(a.path), /unknown incompatible features: bit 20/);
    const b = goodImage();
    patch(b.path, 32, be32(1));
    expectError(() => openAndRead(b.path), /encrypted/);
    const c = goodImage();
    patch(c.path, 112 + 4, be32(0x7fffffff)); // first extension's length
    expectError(() => openAndRead(c.path), /runs past the first cluster/);
  });

  it('header fields that contradict each other are refused at open, as qemu-img refuses them (issue 15)', () => {
    const a = goodImage();
    patch(a.path, 72, be64(1n << 3n)); // compression type bit, compression_type stays zlib
    expectError(() => openAndRead(a.path), /compression type feature bit is set for the default \(zlib\)/);
    const b = goodImage();
    patch(b.path, 88, be64(1n << 1n)); // raw external data, no external data file
    expectError(() => openAndRead(b.path), /raw external data bit is set but the image has no external data file/);
    const c = goodImage();
    patch(c.path, 112, Buffer.concat([be32(0x0537be77), be32(16), be64(0x10000), be64(0x10000), be64(0)])); // an encryption header pointer first
    expectError(() => openAndRead(c.path), /full disk encryption header extension but is not encrypted/);
    const d = goodImage();
    patch(d.path, 64, be64(0xdeadbeef)); // no snapshots, but the table offset must still be aligned
    expectError(() => openAndRead(d.path), /snapshot table offset 3735928559 is not cluster-aligned/);
  });

  it('an empty backing file name is no backing file, as qemu-img reads it', () => {
    const path = tmp.file('empty-backing.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', path, '1M');
    patch(path, 16, be32(0));
    const dev = openImage(path, { readOnly: true });
    try {
      expect((dev as Qcow2Image).header.backingFile).toBeUndefined();
      const buf = Buffer.alloc(4096, 1);
      dev.read(0, buf);
      expect(buf.equals(Buffer.alloc(4096))).toBe(true);
    } finally {
      dev.close();
    }
  });

  it('a 64-bit refcount of 2^64-1 is a leak for check (as qemu-img reports it), not an unreadable image', () => {
    const path = tmp.file('rc64.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,refcount_bits=64', path, '1M');
    qemuIo(path, ['write -P 1 0 4k']);
    const u64At = (off: number): number => Number(readFileRange(path, off, 8).readBigUInt64BE() & 0x00fffffffffffe00n);
    const block = u64At(u64At(48)); // refcount table -> block 0
    const data = u64At(u64At(u64At(40))); // L1 -> L2 -> guest cluster 0
    patch(path, block + (data / 4096) * 8, be64((1n << 64n) - 1n));
    const r = checkImage(path);
    expect(r.messages.join('\n')).toMatch(new RegExp(`Leaked cluster ${data / 4096} refcount=\\d+ reference=1`));
    expect(r.leaks).toBe(1);
  });

  it('garbage in a compressed cluster', () => {
    const src = tmp.file('c.raw');
    fs.writeFileSync(src, Buffer.alloc(2 ** 20, 'compress me '));
    const img = tmp.file('c.qcow2');
    qemuImg('convert', '-c', '-O', 'qcow2', src, img);
    const size = fs.statSync(img).size;
    patch(img, size - 20, Buffer.alloc(20, 0xff)); // clobber the tail of the last compressed stream
    const l1 = Number(readFileRange(img, 40, 8).readBigUInt64BE());
    const l2 = Number(readFileRange(img, l1, 8).readBigUInt64BE() & 0x00fffffffffffe00n);
    // Point every compressed entry at garbage (the header cluster) to be sure.
    for (let i = 0; i < 16; i++) {
      const e = readFileRange(img, l2 + i * 8, 8).readBigUInt64BE();
      if (e & (1n << 62n)) patch(img, l2 + i * 8, be64((e & ~((1n << 54n) - 1n)) | 200n));
    }
    expectError(() => openAndRead(img), /compressed cluster at offset 200 (does not inflate|inflates to)/);
  });

  it('a backing file cycle a -> b -> a', () => {
    const a = tmp.file('cycle-a.qcow2');
    const b = tmp.file('cycle-b.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', b, '1M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'cycle-b.qcow2', '-F', 'qcow2', a);
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'cycle-a.qcow2', '-F', 'qcow2', b, '1M');
    expectError(() => openAndRead(a), /already part of the chain \(a backing file cycle\)/);
    const self = tmp.file('cycle-self.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'cycle-self.qcow2', '-F', 'qcow2', self, '1M');
    expectError(() => openAndRead(self), /backing file cycle/);
  });

  it('a backing chain deeper than 16', () => {
    qemuImg('create', '-q', '-f', 'qcow2', tmp.file('deep0.qcow2'), '1M');
    for (let i = 1; i <= 17; i++) {
      qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', `deep${i - 1}.qcow2`, '-F', 'qcow2', tmp.file(`deep${i}.qcow2`), '1M');
    }
    openAndRead(tmp.file('deep16.qcow2')); // 16 backing files: allowed
    expectError(() => openAndRead(tmp.file('deep17.qcow2')), /backing chain is deeper than 16/);
  });

  it('a missing backing file and an unsupported backing format', () => {
    const a = tmp.file('orphan.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', a, '1M');
    expectError(() => openAndRead(a), /backing file .*gone.qcow2 does not exist/);
    const v = tmp.file('vmdk-backed.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'x.vmdk', '-F', 'vmdk', v, '1M');
    expectError(() => openAndRead(v), /backing file format 'vmdk' is not supported/);
  });

  it('a backing file that is a FIFO or a character device is refused at once, not waited on (issue 15)', () => {
    const fifo = tmp.file(`fifo${n++}`);
    execFileSync('mkfifo', [fifo]);
    for (const backing of [fifo, '/dev/zero']) {
      const path = tmp.file(`over${n++}.qcow2`);
      qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', 'raw', path, '16M');
      if (backing === fifo) {
        expectError(() => openAndRead(path), /is a FIFO, not an image file/);
      } else {
        // Outside the image's directory it is refused by name; allowed, by its type.
        expectError(() => openAndRead(path), /backing file '\/dev\/zero' is outside the image's directory/);
        expectError(() => openImage(path, { readOnly: true, allowBacking: ['/dev'] }), /\/dev\/zero is a character device, not an image file/);
      }
    }
    expectError(() => openImage(fifo, { readOnly: true }), /is a FIFO, not an image file/);
  });

  it('check reports hostile pointers as corruption or refuses clearly, never hangs', () => {
    const a = goodImage();
    patch(a.path, a.l2 + 8, be64(0x8000000000000000n | 0x40000000000n));
    const r = checkImage(a.path);
    expect(r.corruptions).toBeGreaterThan(0);
    const b = goodImage();
    patch(b.path, 36, be32(0x7fffffff));
    expectError(() => checkImage(b.path), /could not check .*exceeds/);
  });
});
