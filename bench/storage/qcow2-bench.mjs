// Throughput of the tsvirt qcow2 BlockDevice against `qemu-img bench` (the anchor), both
// measured in this run on the same kind of image (qcow2 v3, 64 KiB clusters, fresh file
// for each write test) in the same directory. Prints MiB/s and the ratio tsvirt/qemu.
//   sequential: 1 MiB requests;  scattered: 4 KiB requests at a 1 MiB + 4 KiB stride
//   (qemu-img bench has no random mode; the stride touches a new cluster every time);
//   random: 4 KiB requests at seeded random 4 KiB-aligned offsets, the anchor being
//   qemu-io running the same list of requests (-t writeback), its start-up time
//   (measured with a single request) subtracted.
// qemu-img bench runs with queue depth 1 (-d 1), like the synchronous BlockDevice, and
// the default writeback cache; neither time includes the flush at close.
// The last column is plain fs.writeSync/readSync of the same requests on a raw file: the
// ceiling for any Node code on this host, to tell driver overhead from host I/O.
// Also prints one BENCH-RESULT line a case (bench/lib/result.mjs) for bench/run-all.sh.
// Usage: npm run build && node bench/storage/qcow2-bench.mjs [DIR]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createImage, openImage } from '../../dist/storage/index.js';
import { benchResult } from '../lib/result.mjs';

const dir = fs.mkdtempSync(path.join(process.argv[2] ?? os.tmpdir(), 'tsvirt-bench-'));
const MiB = 2 ** 20;

const cases = [
  { name: 'sequential 1 MiB write', write: true, bs: MiB, step: MiB, count: 512, sizeBytes: 2 ** 30 },
  { name: 'sequential 1 MiB read', write: false, bs: MiB, step: MiB, count: 512, sizeBytes: 2 ** 30 },
  { name: 'scattered 4 KiB write', write: true, bs: 4096, step: MiB + 4096, count: 2048, sizeBytes: 4 * 2 ** 30 },
  { name: 'scattered 4 KiB read', write: false, bs: 4096, step: MiB + 4096, count: 2048, sizeBytes: 4 * 2 ** 30 },
  { name: 'random 4 KiB write', write: true, random: true, bs: 4096, count: 2048, sizeBytes: 2 ** 30 },
  { name: 'random 4 KiB read', write: false, random: true, bs: 4096, count: 16384, sizeBytes: 2 ** 30 },
];

function qemuBench(c, image) {
  const args = ['bench', '-f', 'qcow2', '-d', '1', '-c', String(c.count), '-s', String(c.bs), '-S', String(c.step)];
  if (c.write) args.push('-w', '--pattern=171');
  const out = execFileSync('qemu-img', [...args, image], { encoding: 'utf8' });
  const m = /Run completed in ([\d.]+) seconds/.exec(out);
  if (!m) throw new Error(`unexpected qemu-img bench output: ${out}`);
  return Number(m[1]);
}

function offsetsFor(c) {
  if (!c.random) return Array.from({ length: c.count }, (_, i) => i * c.step);
  let a = 12345;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Reads revisit the offsets the random write case wrote (2048 of them), in order.
  const written = Array.from({ length: 2048 }, () => Math.floor(rand() * (c.sizeBytes / c.bs)) * c.bs);
  return Array.from({ length: c.count }, (_, i) => written[i % written.length]);
}

function qemuIoSecs(image, cmds) {
  const t0 = process.hrtime.bigint();
  execFileSync('qemu-io', ['-f', 'qcow2', '-t', 'writeback', ...cmds.flatMap((x) => ['-c', x]), image], { stdio: 'ignore', maxBuffer: 1 << 26 });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function qemuRandom(c, image) {
  const op = c.write ? `write -P 171` : 'read';
  const cmds = offsetsFor(c).map((o) => `${op} ${o} ${c.bs}`);
  // Start-up is subtracted: take the fastest of three single-request runs.
  const startup = Math.min(...[0, 1, 2].map(() => qemuIoSecs(image, ['read 0 512'])));
  return Math.max(1e-6, qemuIoSecs(image, cmds) - startup);
}

/** The I/O ceiling for Node on this host: the same requests as plain fs.writeSync/readSync on a raw file. */
function plainBench(c, file) {
  const offsets = offsetsFor(c);
  const fd = fs.openSync(file, c.write ? 'w+' : 'r');
  const buf = Buffer.alloc(c.bs, 0xab);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.count; i++) {
    if (c.write) fs.writeSync(fd, buf, 0, c.bs, offsets[i]);
    else fs.readSync(fd, buf, 0, c.bs, offsets[i]);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  return secs;
}

function tsvirtBench(c, image) {
  const offsets = offsetsFor(c);
  const dev = openImage(image, { readOnly: !c.write });
  const buf = Buffer.alloc(c.bs, 0xab);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.count; i++) {
    if (c.write) dev.write(offsets[i], buf);
    else dev.read(offsets[i], buf);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  dev.close(); // flushes; like qemu-img bench, whose reported time ends before its close-time flush
  return secs;
}

// The host's page cache and writeback make single runs noisy: each case runs ROUNDS
// times, alternating which side goes first, and the best throughput of each side counts.
const ROUNDS = 5;
const rows = [];
for (const c of cases) {
  const q = path.join(dir, `qemu-${c.bs}${c.random ? '-random' : ''}.qcow2`);
  const t = path.join(dir, `tsvirt-${c.bs}${c.random ? '-random' : ''}.qcow2`);
  const mib = (c.bs * c.count) / MiB;
  const r = path.join(dir, `plain-${c.bs}${c.random ? '-random' : ''}.raw`);
  let bestQ = 0;
  let bestT = 0;
  let bestP = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (c.write) {
      for (const p of [q, t]) {
        fs.rmSync(p, { force: true });
        createImage({ path: p, format: 'qcow2', sizeBytes: c.sizeBytes });
      }
    }
    // Start each write run with no dirty pages queued, so neither side is throttled by
    // the other's writeback (balance_dirty_pages).
    const settle = () => { if (c.write) execFileSync('sync'); };
    const runQ = () => { bestQ = Math.max(bestQ, mib / (c.random ? qemuRandom(c, q) : qemuBench(c, q))); };
    const runT = () => { bestT = Math.max(bestT, mib / tsvirtBench(c, t)); };
    const runP = () => { bestP = Math.max(bestP, mib / plainBench(c, r)); };
    if (c.write) fs.rmSync(r, { force: true });
    if (round % 2 === 0) { settle(); runQ(); settle(); runT(); settle(); runP(); } else { settle(); runP(); settle(); runT(); settle(); runQ(); }
  }
  rows.push({ name: c.name, qemu: bestQ, tsvirt: bestT, plain: bestP, anchor: c.random ? 'qemu-io' : 'qemu-img bench' });
}
fs.rmSync(dir, { recursive: true, force: true });

console.log(`${'case'.padEnd(22)} ${'qemu MiB/s'.padStart(11)} ${'tsvirt MiB/s'.padStart(13)} ${'tsvirt/qemu'.padStart(12)} ${'node pwrite/pread on raw MiB/s'.padStart(31)}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(22)} ${r.qemu.toFixed(1).padStart(11)} ${r.tsvirt.toFixed(1).padStart(13)} ${(r.tsvirt / r.qemu).toFixed(2).padStart(12)} ${r.plain.toFixed(1).padStart(31)}`);
}
console.log('qemu: qemu-img bench -d 1 (sequential, scattered) or qemu-io (random); best of', ROUNDS, 'alternating rounds.');
for (const r of rows) benchResult('qcow2', r.name, r.tsvirt, r.anchor, r.qemu, 'MiB/s', 'higher');
