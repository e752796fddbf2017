// Throughput of the tsvirt qcow2 BlockDevice against `qemu-img bench` (the anchor), both
// measured in this run on the same kind of image (qcow2 v3, 64 KiB clusters, fresh file
// for each write test) in the same directory. Prints MiB/s and the ratio tsvirt/qemu.
//   sequential: 1 MiB requests;  scattered: 4 KiB requests at a 1 MiB + 4 KiB stride
//   (qemu-img bench has no random mode; the stride touches a new cluster every time).
// qemu-img bench runs with queue depth 1 (-d 1), like the synchronous BlockDevice, and
// the default writeback cache; neither time includes the flush at close.
// Usage: npm run build && node bench/storage/qcow2-bench.mjs [DIR]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createImage, openImage } from '../../dist/storage/index.js';

const dir = fs.mkdtempSync(path.join(process.argv[2] ?? os.tmpdir(), 'tsvirt-bench-'));
const MiB = 2 ** 20;

const cases = [
  { name: 'sequential 1 MiB write', write: true, bs: MiB, step: MiB, count: 512, sizeBytes: 2 ** 30 },
  { name: 'sequential 1 MiB read', write: false, bs: MiB, step: MiB, count: 512, sizeBytes: 2 ** 30 },
  { name: 'scattered 4 KiB write', write: true, bs: 4096, step: MiB + 4096, count: 2048, sizeBytes: 4 * 2 ** 30 },
  { name: 'scattered 4 KiB read', write: false, bs: 4096, step: MiB + 4096, count: 2048, sizeBytes: 4 * 2 ** 30 },
];

function qemuBench(c, image) {
  const args = ['bench', '-f', 'qcow2', '-d', '1', '-c', String(c.count), '-s', String(c.bs), '-S', String(c.step)];
  if (c.write) args.push('-w', '--pattern=171');
  const out = execFileSync('qemu-img', [...args, image], { encoding: 'utf8' });
  const m = /Run completed in ([\d.]+) seconds/.exec(out);
  if (!m) throw new Error(`unexpected qemu-img bench output: ${out}`);
  return Number(m[1]);
}

function tsvirtBench(c, image) {
  const dev = openImage(image, { readOnly: !c.write });
  const buf = Buffer.alloc(c.bs, 0xab);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.count; i++) {
    if (c.write) dev.write(i * c.step, buf);
    else dev.read(i * c.step, buf);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  dev.close(); // flushes; like qemu-img bench, whose reported time ends before its close-time flush
  return secs;
}

// The host's page cache and writeback make single runs noisy: each case runs ROUNDS
// times, alternating which side goes first, and the best throughput of each side counts.
const ROUNDS = 3;
const rows = [];
for (const c of cases) {
  const q = path.join(dir, `qemu-${c.bs}.qcow2`);
  const t = path.join(dir, `tsvirt-${c.bs}.qcow2`);
  const mib = (c.bs * c.count) / MiB;
  let bestQ = 0;
  let bestT = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (c.write) {
      for (const p of [q, t]) {
        fs.rmSync(p, { force: true });
        createImage({ path: p, format: 'qcow2', sizeBytes: c.sizeBytes });
      }
    }
    const runQ = () => { bestQ = Math.max(bestQ, mib / qemuBench(c, q)); };
    const runT = () => { bestT = Math.max(bestT, mib / tsvirtBench(c, t)); };
    if (round % 2 === 0) { runQ(); runT(); } else { runT(); runQ(); }
  }
  rows.push({ name: c.name, qemu: bestQ, tsvirt: bestT });
}
fs.rmSync(dir, { recursive: true, force: true });

console.log(`${'case'.padEnd(26)} ${'qemu-img MiB/s'.padStart(15)} ${'tsvirt MiB/s'.padStart(13)} ${'tsvirt/qemu'.padStart(12)}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(26)} ${r.qemu.toFixed(1).padStart(15)} ${r.tsvirt.toFixed(1).padStart(13)} ${(r.tsvirt / r.qemu).toFixed(2).padStart(12)}`);
}
