// Random writes through the BlockDevice read back byte-identical through qemu-img (convert
// to raw + cmp against a model file written with the same operations), and images QEMU's
// tools wrote read back identical through tsvirt.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage } from '../../src/storage/create-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { cmpFiles, makeTmpDir, modelWrite, qemuCheck, qemuImg, qemuIo, randomBytes, readFileRange, rng } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());
const MiB = 2 ** 20;

interface Workload { name: string; sizeBytes: number; clusterSize: number; refcountBits?: number; backing?: 'qcow2' | 'raw'; hotspots: number[]; ops: number; compat?: '0.10' }

/** Writes, discards and flushes at random around `hotspots` (L2/cluster boundaries) and anywhere. */
function exercise(w: Workload, seed: number): void {
  const rand = rng(seed);
  const img = tmp.file(`${w.name}.qcow2`);
  const model = tmp.file(`${w.name}.model`);
  fs.writeFileSync(model, '');
  fs.truncateSync(model, w.sizeBytes);
  if (w.backing) {
    // The backing file: patterns written by qemu-io, smaller than the overlay.
    const base = tmp.file(`${w.name}.base.${w.backing}`);
    const baseSize = Math.floor(w.sizeBytes / 2);
    qemuImg('create', '-q', '-f', w.backing, base, String(baseSize));
    const cmds: string[] = [];
    for (let i = 0; i < 12; i++) {
      const off = Math.floor(rand() * (baseSize - 200000));
      cmds.push(`write -P 0x${(0x10 + i).toString(16)} ${off} ${1 + Math.floor(rand() * 150000)}`);
    }
    qemuIo(base, cmds, ['-f', w.backing]);
    fs.copyFileSync(base, model);
    if (w.backing === 'qcow2') execFileSync('qemu-img', ['convert', '-O', 'raw', base, model]);
    fs.truncateSync(model, w.sizeBytes);
    createImage({ path: img, format: 'qcow2', sizeBytes: w.sizeBytes, clusterSizeBytes: w.clusterSize, backingFile: base, backingFormat: w.backing, refcountBits: w.refcountBits });
  } else if (w.compat === '0.10') {
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `compat=0.10,cluster_size=${w.clusterSize}`, img, String(w.sizeBytes));
  } else {
    createImage({ path: img, format: 'qcow2', sizeBytes: w.sizeBytes, clusterSizeBytes: w.clusterSize, refcountBits: w.refcountBits });
  }
  const dev = openImage(img, { readOnly: false });
  const mfd = fs.openSync(model, 'r+');
  try {
    for (let op = 0; op < w.ops; op++) {
      const near = w.hotspots[Math.floor(rand() * w.hotspots.length)];
      const maxLen = rand() < 0.1 ? 2 * MiB : 3 * w.clusterSize;
      const len = 1 + Math.floor(rand() * maxLen);
      let off = rand() < 0.7 ? near - Math.floor(rand() * len) + Math.floor(rand() * w.clusterSize) - Math.floor(w.clusterSize / 2) : Math.floor(rand() * w.sizeBytes);
      off = Math.max(0, Math.min(w.sizeBytes - len, off));
      const r = rand();
      if (r < 0.1) {
        dev.discard(off, len);
        modelWrite(mfd, off, Buffer.alloc(len));
      } else {
        const data = rand() < 0.2 ? Buffer.alloc(len, (rand() * 256) | 0) : randomBytes(rand, len);
        dev.write(off, data);
        modelWrite(mfd, off, data);
      }
      if (rand() < 0.05) dev.flush();
      if (op % 25 === 0) {
        // Read back through tsvirt itself.
        const rl = 1 + Math.floor(rand() * 3 * w.clusterSize);
        const ro = Math.min(w.sizeBytes - rl, Math.max(0, near - Math.floor(rand() * rl)));
        const got = Buffer.alloc(rl);
        dev.read(ro, got);
        expect(got.equals(readFileRange(model, ro, rl)), `read at ${ro}+${rl}`).toBe(true);
      }
    }
  } finally {
    fs.closeSync(mfd);
    dev.close();
  }
  const c = qemuCheck(img);
  expect(c.status, c.text).toBe(0);
  const out = tmp.file(`${w.name}.out.raw`);
  qemuImg('convert', '-O', 'raw', img, out);
  expect(cmpFiles(out, model)).toBe('');
  fs.rmSync(out);
}

describe('random writes through BlockDevice read back identical via qemu-img', () => {
  const workloads: Workload[] = [
    // 512-byte clusters: an L2 table covers 32 KiB, so writes cross many L2 tables.
    { name: 'c512', sizeBytes: 24 * MiB, clusterSize: 512, hotspots: [32768, 5 * 32768, 2 * MiB], ops: 250 },
    { name: 'c4k', sizeBytes: 40 * MiB, clusterSize: 4096, hotspots: [2 * MiB, 4 * MiB, 20 * MiB + 4096], ops: 250 },
    { name: 'c4k-rb1', sizeBytes: 24 * MiB, clusterSize: 4096, refcountBits: 1, hotspots: [2 * MiB, 8 * MiB], ops: 150 },
    { name: 'c4k-rb64', sizeBytes: 24 * MiB, clusterSize: 4096, refcountBits: 64, hotspots: [2 * MiB, 8 * MiB], ops: 150 },
    // 64 KiB clusters: an L2 table covers 512 MiB; the hotspot is that boundary.
    { name: 'c64k', sizeBytes: 520 * MiB, clusterSize: 65536, hotspots: [512 * MiB, 65536, 100 * MiB], ops: 200 },
    { name: 'c2m', sizeBytes: 64 * MiB, clusterSize: 2 * MiB, hotspots: [2 * MiB, 30 * MiB], ops: 100 },
    { name: 'backing-qcow2', sizeBytes: 16 * MiB, clusterSize: 4096, backing: 'qcow2', hotspots: [2 * MiB, 8 * MiB, 8 * MiB - 100], ops: 200 },
    { name: 'backing-raw', sizeBytes: 16 * MiB, clusterSize: 65536, backing: 'raw', hotspots: [MiB, 8 * MiB], ops: 150 },
    { name: 'v2-image', sizeBytes: 16 * MiB, clusterSize: 4096, compat: '0.10', hotspots: [2 * MiB, 5 * MiB], ops: 150 },
  ];
  it.each(workloads.map((w, i) => [w.name, w, i] as const))('%s', (_name, w, i) => {
    exercise(w, 1000 + i);
  });
});

describe('images written by QEMU tools read back identical through tsvirt', () => {
  function compareWithQemu(img: string): void {
    const raw = `${img}.raw`;
    qemuImg('convert', '-O', 'raw', img, raw);
    const dev = openImage(img, { readOnly: true });
    try {
      expect(dev.size).toBe(fs.statSync(raw).size);
      const chunk = Buffer.alloc(Math.min(dev.size, 4 * MiB));
      for (let off = 0; off < dev.size; off += chunk.length) {
        const n = Math.min(chunk.length, dev.size - off);
        const got = chunk.subarray(0, n);
        dev.read(off, got);
        if (!got.equals(readFileRange(raw, off, n))) throw new Error(`${img}: mismatch in [${off}, ${off + n})`);
      }
    } finally {
      dev.close();
      fs.rmSync(raw);
    }
  }

  it.each([
    [512, 16], [4096, 1], [4096, 2], [4096, 4], [4096, 8], [65536, 16], [65536, 32], [65536, 64], [2 * MiB, 16],
  ])('qemu-io writes, cluster_size=%i refcount_bits=%i', (cs, bits) => {
    const img = tmp.file(`qemu-${cs}-${bits}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cs},refcount_bits=${bits}`, img, String(48 * MiB));
    const rand = rng(cs + bits);
    const cmds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const off = Math.floor(rand() * (48 * MiB - 300000));
      cmds.push(`write -P 0x${(0x20 + i).toString(16)} ${off} ${1 + Math.floor(rand() * 300000)}`);
    }
    cmds.push(`write -z ${4 * MiB} ${MiB}`, `discard ${10 * MiB} ${2 * MiB}`);
    qemuIo(img, cmds);
    compareWithQemu(img);
  });

  it('compressed clusters (qemu-img convert -c), then overwritten through tsvirt', () => {
    const src = tmp.file('compress-src.raw');
    const rand = rng(7);
    const data = Buffer.alloc(6 * MiB);
    for (let i = 0; i < data.length; i += 4096) data.fill(`line ${i} ${(rand() * 1e6) | 0}\n`, i, i + 4096);
    randomBytes(rand, MiB).copy(data, 2 * MiB); // incompressible clusters stay uncompressed
    fs.writeFileSync(src, data);
    for (const cs of [4096, 65536]) {
      const img = tmp.file(`compressed-${cs}.qcow2`);
      qemuImg('convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, src, img);
      compareWithQemu(img);
      const dev = openImage(img, { readOnly: false });
      const patchData = Buffer.alloc(10000, 0xee);
      dev.write(100, patchData); // partial overwrite of a compressed cluster
      dev.write(3 * MiB + 5, patchData);
      dev.discard(5 * MiB, MiB);
      dev.close();
      patchData.copy(data, 100);
      patchData.copy(data, 3 * MiB + 5);
      const expected = Buffer.from(data);
      expected.fill(0, 5 * MiB, 6 * MiB);
      const c = qemuCheck(img);
      expect(c.status, c.text).toBe(0);
      const back = tmp.file(`compressed-${cs}.back.raw`);
      qemuImg('convert', '-O', 'raw', img, back);
      expect(fs.readFileSync(back).equals(expected)).toBe(true);
    }
  });

  it('a qemu-io written chain (raw <- qcow2 <- qcow2) reads through', () => {
    const base = tmp.file('chain-base.raw');
    qemuImg('create', '-q', '-f', 'raw', base, String(8 * MiB));
    qemuIo(base, ['write -P 0x61 0 3M'], ['-f', 'raw']);
    const mid = tmp.file('chain-mid.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', mid);
    qemuIo(mid, ['write -P 0x62 1M 1M', 'write -z 2M 512k']);
    const top = tmp.file('chain-top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'chain-mid.qcow2', '-F', 'qcow2', top, String(12 * MiB));
    qemuIo(top, ['write -P 0x63 1536k 4k', 'write -P 0x64 10M 100k']);
    compareWithQemu(top);
  });
});
