// Raw images through the BlockDevice, and qcow2 feature-bit handling on open.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage } from '../../src/storage/create-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { be64, makeTmpDir, patch, qemuCheck, qemuImg, qemuInfo, readFileRange } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());

describe('raw BlockDevice', () => {
  it('reads and writes at any alignment, discards to zeros (a hole), and refuses ranges past the end', () => {
    const p = tmp.file('r.raw');
    createImage({ path: p, format: 'raw', sizeBytes: 4 * 2 ** 20 });
    const dev = openImage(p, { readOnly: false });
    dev.write(12345, Buffer.alloc(3 * 2 ** 20, 0x77));
    dev.discard(2 ** 20, 2 ** 20);
    expect(() => dev.write(4 * 2 ** 20 - 10, Buffer.alloc(11))).toThrow(RangeError);
    const b = Buffer.alloc(100);
    dev.read(2 ** 20 - 50, b);
    expect([...b.subarray(0, 50)].every((x) => x === 0x77) && [...b.subarray(50)].every((x) => x === 0)).toBe(true);
    dev.close();
    expect(fs.statSync(p).blocks * 512).toBeLessThanOrEqual(2 * 2 ** 20 + 8192);
    expect(readFileRange(p, 12345, 10).equals(Buffer.alloc(10, 0x77))).toBe(true);
  });
});

describe('guest memory as the buffer', () => {
  it.each(['raw', 'qcow2'] as const)('%s reads into and writes from Uint8Array views of a SharedArrayBuffer', (format) => {
    const p = tmp.file(`sab.${format}`);
    createImage({ path: p, format, sizeBytes: 2 ** 20 });
    const ram = new Uint8Array(new SharedArrayBuffer(65536));
    ram.fill(0x3c, 1000, 9000);
    const dev = openImage(p, { readOnly: false });
    dev.write(70000, ram.subarray(1000, 9000));
    const back = new Uint8Array(new SharedArrayBuffer(8000));
    dev.read(70000, back);
    dev.close();
    expect(back.every((x) => x === 0x3c)).toBe(true);
    expect(readFileRange(p, 0, 4).length).toBe(4);
  });
});

describe('qcow2 feature bits on open', () => {
  it('a writable open clears autoclear bits it does not maintain; a read-only one leaves them', () => {
    const p = tmp.file('autoclear.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', p, '16M');
    patch(p, 88, be64(1n)); // bitmaps extension bit
    openImage(p, { readOnly: true }).close();
    expect(readFileRange(p, 88, 8).readBigUInt64BE()).toBe(1n);
    const dev = openImage(p, { readOnly: false });
    dev.write(0, Buffer.alloc(512, 1));
    dev.close();
    expect(readFileRange(p, 88, 8).readBigUInt64BE()).toBe(0n);
    expect(qemuCheck(p).status).toBe(0);
  });

  it('an image marked corrupt opens read-only only', () => {
    const p = tmp.file('corrupt-bit.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', p, '16M');
    patch(p, 72, be64(2n));
    openImage(p, { readOnly: true }).close();
    expect(() => openImage(p, { readOnly: false })).toThrow(/marked corrupt and can only be opened read-only/);
    expect(qemuInfo(p)['format-specific'].data.corrupt).toBe(true);
  });
});
