// `img check` and `img convert` of very large sparse images (issue 15): work and memory
// follow the metadata an image has, not its virtual size or the length of its file.
// qemu-img is the other side for every verdict and every converted byte. Memory is
// measured in a child node running the built dist/ (run `npx tsc -p tsconfig.json`
// first): VmPeak (address space, which also shows arrays the kernel has not backed yet)
// and VmHWM (peak resident set) from /proc/self/status, against the same operation on a
// tiny image in another child. Times are never asserted.
//
// ext4 files end at 16 TiB - 4 KiB, so the "16 TiB" images are files of 16 TiB - 1 MiB
// (truncated up: the tail is unreferenced zero-refcount clusters, which are no error),
// and 1 PiB raw outputs go to tmpfs (/dev/shm), which takes sparse files of any size.
// 512-byte clusters cannot address 16 TiB at all (QEMU's 32 MiB L1 limit caps them at
// 128 GiB), so that image is 100 GiB virtual in a 16 TiB file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExitCode, checkImage } from '../../src/storage/check-image.js';
import { be64, makeTmpDir, patch, qemuImg, qemuInfo, qemuIo, readFileRange } from './helpers.js';

const TiB = 2 ** 40;
const PiB = 2 ** 50;
const FILE_16T = 16 * TiB - 2 ** 20;
const MiB = 2 ** 20;

const tmp = makeTmpDir('tsvirt-sparse-');
let shm: string;
beforeAll(() => {
  shm = fs.mkdtempSync('/dev/shm/tsvirt-sparse-');
});
afterAll(() => {
  tmp.cleanup();
  fs.rmSync(shm, { recursive: true, force: true });
});

const dist = fileURLToPath(new URL('../../dist/storage/index.js', import.meta.url));
// Runs one check or convert through dist/ and reports its result and memory peaks.
const CHILD = `
const m = await import(${JSON.stringify(dist)});
const fs = await import('node:fs');
const [op, a, b, fmt] = process.argv.slice(1);
let out;
if (op === 'check') {
  const r = m.checkImage(a);
  out = { exit: m.checkExitCode(r), corruptions: r.corruptions, leaks: r.leaks, imageEndOffset: r.imageEndOffset, allocatedClusters: r.allocatedClusters, messages: r.messages };
} else {
  out = m.convertImage({ src: a, dst: b, dstFormat: fmt });
}
const st = fs.readFileSync('/proc/self/status', 'utf8');
const bytes = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+) kB', 'm').exec(st)[1]) * 1024;
console.log(JSON.stringify({ ...out, vmPeak: bytes('VmPeak'), vmHwm: bytes('VmHWM') }));
`;

interface Measured { vmPeak: number; vmHwm: number; [k: string]: any }

/**
 * Runs a command without blocking the test worker: qemu-img compare of 1 PiB and
 * qemu-img check of a 16 TiB file take long enough for vitest's worker RPC to time out.
 */
function runAsync(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

async function measure(...args: string[]): Promise<Measured> {
  const r = await runAsync(process.execPath, ['--input-type=module', '-e', CHILD, ...args]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface QemuCheck { status: number; json: Record<string, any>; text: string }
async function qemuCheck(file: string): Promise<QemuCheck> {
  const r = await runAsync('qemu-img', ['check', '--output', 'json', file]);
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(r.stdout);
  } catch { /* could not check: the status and text say why */ }
  return { status: r.status, json, text: r.stdout + r.stderr };
}

// Baselines: the same code paths on a 1 GiB image. Allowances are generous next to what
// the per-cluster arrays cost: a Float64Array for the clusters of a 16 TiB file is 2 GiB
// with 64 KiB clusters (and cannot be made at all with 512-byte ones).
const PEAK_GROWTH = 256 * MiB;
const RSS_GROWTH = 128 * MiB;
function expectBounded(big: Measured, base: Measured): void {
  expect(big.vmPeak - base.vmPeak, 'address space growth').toBeLessThan(PEAK_GROWTH);
  expect(big.vmHwm - base.vmHwm, 'resident set growth').toBeLessThan(RSS_GROWTH);
}

let baseCheck: Measured | undefined;
async function checkBaseline(): Promise<Measured> {
  if (!baseCheck) {
    const small = tmp.file('base-check.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', small, '1G');
    qemuIo(small, ['write -P 0x11 0 1M']);
    baseCheck = await measure('check', small);
  }
  return baseCheck;
}

/** tsvirt's verdict and figures against those of qemu-img check --output json. */
function expectAgrees(t: Measured, q: QemuCheck): void {
  expect(t.exit, q.text).toBe(q.status);
  expect(t.corruptions).toBe(q.json.corruptions ?? 0);
  expect(t.leaks).toBe(q.json.leaks ?? 0);
  expect(t.imageEndOffset).toBe(q.json['image-end-offset']);
  expect(t.allocatedClusters).toBe(q.json['allocated-clusters'] ?? 0);
}

/** qemu-io reads each [pattern, offset, length] back (read -P fails the command on a mismatch). */
function expectReads(file: string, format: 'raw' | 'qcow2', reads: Array<[number, number, number]>): void {
  qemuIo(file, reads.map(([p, off, len]) => `read -P ${p} ${off} ${len}`), ['-f', format]);
}

describe('img check of a 16 TiB sparse file', () => {
  it('64 KiB clusters: clean like qemu-img check, then a leak in a refcount block at the end of the file, repaired; memory bounded', async () => {
    const img = tmp.file('c64k.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', img, '16T');
    qemuIo(img, ['write -P 0x11 0 1M', 'write -P 0x22 8T 64k', 'write -P 0x33 16383G 128k']);
    fs.truncateSync(img, FILE_16T);
    const clean = await measure('check', img);
    expectAgrees(clean, await qemuCheck(img));
    expect(clean.exit).toBe(0);
    expectBounded(clean, await checkBaseline());

    // A refcount block in the file's last cluster, listed last in the refcount table,
    // counting itself and one cluster nothing references: a leak 16 TiB into the file.
    const cs = 65536;
    const last = FILE_16T / cs - 1;
    const perBlock = cs / 2; // 16-bit refcounts
    const index = Math.floor(last / perBlock);
    const reft = Number(readFileRange(img, 48, 8).readBigUInt64BE());
    expect(index).toBeLessThan(cs / 8); // the one-cluster table has the entry
    patch(img, reft + index * 8, be64(last * cs));
    patch(img, last * cs + (last % perBlock) * 2, Buffer.from([0, 1]));
    patch(img, last * cs + ((last - 5) % perBlock) * 2, Buffer.from([0, 1]));
    const leaked = await measure('check', img);
    expectAgrees(leaked, await qemuCheck(img));
    expect(leaked.leaks).toBe(1);
    expect(leaked.messages).toContain(`Leaked cluster ${last - 5} refcount=1 reference=0`);
    expect(leaked.imageEndOffset).toBe(FILE_16T);
    expectBounded(leaked, await checkBaseline());
    const fixed = checkImage(img, { repair: 'leaks' });
    expect(fixed.leaksFixed).toBe(1);
    expect(checkExitCode(fixed)).toBe(0);
    expect((await qemuCheck(img)).status).toBe(0);
  });

  it('512-byte clusters: clean with the figures qemu-img check gives for the same tables (qemu-img refuses the long file); memory bounded', async () => {
    const img = tmp.file('c512.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', img, '100G');
    qemuIo(img, ['write -P 0x11 0 1M', 'write -P 0x22 50G 64k', 'write -P 0x33 99G 3k']);
    const before = await qemuCheck(img);
    expect(before.status).toBe(0);
    fs.truncateSync(img, FILE_16T);
    // 2^35 clusters: more than qemu-img check will count ("Check failed: File too large").
    expect((await qemuCheck(img)).status).toBe(1);
    const t = await measure('check', img);
    expectAgrees(t, before);
    expect(t.exit).toBe(0);
    expect(t.messages).toEqual([]);
    expectBounded(t, await checkBaseline());
  });
});

describe('img convert of a 1 PiB image', () => {
  let baseConvert: Record<'qcow2' | 'raw', Measured> | undefined;
  async function convertBaseline(format: 'qcow2' | 'raw'): Promise<Measured> {
    if (!baseConvert) {
      const small = tmp.file('base-convert.qcow2');
      qemuImg('create', '-q', '-f', 'qcow2', small, '1G');
      qemuIo(small, ['write -P 0x11 0 1M']);
      baseConvert = { qcow2: await measure('convert', small, tmp.file('base-out.qcow2'), 'qcow2'), raw: await measure('convert', small, tmp.file('base-out.raw'), 'raw') };
    }
    return baseConvert[format];
  }

  it('an empty image converts to qcow2 and to a sparse raw file without allocating anything; memory bounded', async () => {
    const src = tmp.file('empty1p.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', src, '1P');
    const q = tmp.file('empty1p-out.qcow2');
    const m1 = await measure('convert', src, q, 'qcow2');
    expect(m1.sizeBytes).toBe(PiB);
    expect(m1.writtenBytes).toBe(0);
    expectBounded(m1, await convertBaseline('qcow2'));
    expect(qemuInfo(q)['virtual-size']).toBe(PiB);
    const c = await qemuCheck(q);
    expect(c.status, c.text).toBe(0);
    expect(c.json['allocated-clusters']).toBeUndefined(); // no data cluster at all

    const raw = path.join(shm, 'empty1p.raw');
    const m2 = await measure('convert', src, raw, 'raw');
    expect(m2.writtenBytes).toBe(0);
    expectBounded(m2, await convertBaseline('raw'));
    const st = fs.statSync(raw);
    expect(st.size).toBe(PiB);
    expect(st.blocks).toBe(0); // one hole
  });

  it('scattered writes far apart: the qcow2 output is identical (qemu-img compare), the raw output holds just them, and converts back', async () => {
    const src = tmp.file('scattered.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', src, '1P');
    const writes: Array<[number, number, number]> = [
      [0x11, 0, 64 * 1024],
      [0x22, 1000 * 2 ** 30 + 512, 3 * 1024], // unaligned, inside one cluster
      [0x33, PiB / 2, MiB],
      [0x44, PiB - 65536, 65536], // the last cluster
    ];
    qemuIo(src, writes.map(([p, off, len]) => `write -P ${p} ${off} ${len}`));
    // What convert writes: the non-zero 64 KiB clusters (qcow2) or 4 KiB blocks (raw).
    const qcow2Bytes = 65536 + 65536 + MiB + 65536;
    const rawBytes = 65536 + 4096 + MiB + 65536;

    const q = tmp.file('scattered-out.qcow2');
    const m = await measure('convert', src, q, 'qcow2');
    expect(m.writtenBytes).toBe(qcow2Bytes);
    expectBounded(m, await convertBaseline('qcow2'));
    const cmp = await runAsync('qemu-img', ['compare', src, q]);
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/Images are identical/);
    expect((await qemuCheck(q)).status).toBe(0);

    const raw = path.join(shm, 'scattered.raw');
    expect((await measure('convert', src, raw, 'raw')).writtenBytes).toBe(rawBytes);
    const st = fs.statSync(raw);
    expect(st.size).toBe(PiB);
    // Only the written pages are allocated (tmpfs pages are 4 KiB; the 3 KiB write takes one).
    expect(st.blocks * 512).toBe(rawBytes);
    expectReads(raw, 'raw', [...writes, [0, 1000 * 2 ** 30, 512], [0, PiB / 2 - 4096, 4096], [0, PiB / 2 + MiB, 4096]]);

    // A raw source is walked with SEEK_DATA/SEEK_HOLE: back to qcow2, same clusters.
    const back = tmp.file('scattered-back.qcow2');
    expect((await measure('convert', raw, back, 'qcow2')).writtenBytes).toBe(rawBytes); // the 3 KiB write is one 4 KiB page of data in the raw file
    const c = await qemuCheck(back);
    expect(c.status, c.text).toBe(0);
    expect(c.json['allocated-clusters']).toBe(1 + 1 + 16 + 1);
    expectReads(back, 'qcow2', [...writes, [0, 1000 * 2 ** 30, 512], [0, 65536, 65536]]);
  }, 600_000);

  it('a backing chain (raw base, qcow2 middle, qcow2 top with a zero cluster over base data) converts from its allocated extents', async () => {
    // raw (1 PiB, tmpfs) <- qcow2 middle <- qcow2 top; the top overrides part of the
    // base's data and zeroes another part.
    const base = path.join(shm, 'chain-base.raw');
    fs.writeFileSync(base, '');
    fs.truncateSync(base, PiB);
    qemuIo(base, ['write -P 0x51 0 128k', 'write -P 0x52 700T 64k'], ['-f', 'raw']);
    const mid = path.join(shm, 'chain-mid.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', mid);
    qemuIo(mid, ['write -P 0x61 3T 64k']);
    const top = path.join(shm, 'chain-top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', mid, '-F', 'qcow2', top);
    qemuIo(top, ['write -P 0x71 64k 4k', 'write -z 700T 64k']);

    const out = tmp.file('chain-out.qcow2');
    const m = await measure('convert', top, out, 'qcow2');
    expect(m.sizeBytes).toBe(PiB);
    // base 0..128k (of which 64k+4k are the top's), the middle's 3T; 700T is zeroed.
    expect(m.writtenBytes).toBe(128 * 1024 + 65536);
    const c = await qemuCheck(out);
    expect(c.status, c.text).toBe(0);
    expect(c.json['allocated-clusters']).toBe(2 + 1);
    expectReads(out, 'qcow2', [[0x51, 0, 65536], [0x71, 65536, 4096], [0x51, 65536 + 4096, 65536 - 4096], [0x61, 3 * TiB, 65536], [0, 700 * TiB, 65536], [0, 3 * TiB - 65536, 65536]]);
    expect(qemuInfo(out)['backing-filename']).toBeUndefined(); // flattened
  });
});
