// kill -9 of `tsvirt img resize` and `tsvirt img convert` at random moments: the small,
// tsvirt-only form of bench/storage/crash-loop.sh. A full run is timed first and each kill
// falls in [0, that time] (half of them after the start-up of a run that does nothing, so
// that node's and oclif's start does not take them all). After every kill `qemu-img check`
// must find no corruption (leaked clusters are allowed) and no data may be lost:
//  - resize grows a 512-byte-cluster image holding 7.7 MiB of random data, whose file ends
//    just inside what its one-cluster refcount table covers, to 16-40 GiB: the L1 table
//    grows to 4-10 MiB and the refcount table has to grow in the middle of allocating it;
//    the virtual size is the old or the new one, the old range reads as before, and the
//    same resize run again succeeds;
//  - convert flattens a qcow2 overlay over a qcow2 base into a new qcow2: the source and
//    its base are byte for byte unchanged and check clean, a partial destination that is
//    a qcow2 is not corrupt, and the same convert run again gives an identical image.
// Runs the built dist/ through bin/tsvirt (npm test builds first).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTmpDir, qemuCheck, qemuImg, qemuInfo, randomBytes, rng, run } from './helpers.js';

const tmp = makeTmpDir('tsvirt-crash-rc-');
afterAll(() => tmp.cleanup());
const TSVIRT = fileURLToPath(new URL('../../bin/tsvirt', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/commands/img/convert.js', import.meta.url));
const KILLS = 12;
const MiB = 2 ** 20;

interface Ended { status: number | null; signal: NodeJS.Signals | null; ms: number; stderr: string }

/** Runs `tsvirt ARGS`, SIGKILLs it at killAtMs if it is still running then. */
function tsvirt(args: string[], killAtMs?: number): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [TSVIRT, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let ms = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = killAtMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAtMs);
    child.once('exit', () => {
      ms = performance.now() - t0;
      clearTimeout(timer);
    });
    child.once('error', reject);
    child.once('close', (status, signal) => resolve({ status, signal, ms, stderr }));
  });
}

/** A run either finished cleanly or was our SIGKILL: never an error or a stack trace. */
function expectFinishedOrKilled(r: Ended, what: string): void {
  expect(r.signal === 'SIGKILL' || r.status === 0, `${what}: exit ${r.status} ${r.signal}: ${r.stderr}`).toBe(true);
}

/** Half the kills uniformly in [0, t], half in [t0, t] (t0: a run that does nothing). */
function killMoment(rand: () => number, t: number, t0: number): number {
  return rand() < 0.5 && t > t0 ? t0 + rand() * (t - t0) : rand() * t;
}

/**
 * A sparse raw file with about dataBytes of random data (in random extents, or in one
 * extent at 0 when `contiguous`), converted to qcow2.
 */
function qcow2WithData(name: string, sizeBytes: number, dataBytes: number, clusterSize: number, rand: () => number, opts: { base?: { raw: string; qcow2: string }; contiguous?: boolean } = {}): { raw: string; qcow2: string } {
  const { base } = opts;
  const raw = tmp.file(`${name}.raw`);
  if (base) fs.copyFileSync(base.raw, raw);
  const fd = fs.openSync(raw, base ? 'r+' : 'w');
  if (!base) fs.ftruncateSync(fd, sizeBytes);
  for (let done = 0; done < dataBytes;) {
    const len = opts.contiguous ? Math.min(MiB, dataBytes - done) : 1 + Math.floor(rand() * 256 * 1024);
    fs.writeSync(fd, randomBytes(rand, len), 0, len, opts.contiguous ? done : Math.floor(rand() * (sizeBytes - len)));
    done += len;
  }
  fs.closeSync(fd);
  const qcow2 = tmp.file(`${name}.qcow2`);
  qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`, ...(base ? ['-B', base.qcow2, '-F', 'qcow2'] : []), raw, qcow2);
  return { raw, qcow2 };
}

const sha1 = (file: string): string => crypto.createHash('sha1').update(fs.readFileSync(file)).digest('hex');

describe('kill -9 of img resize and img convert', () => {
  it(`resize of a 512-byte-cluster image with data to 16-40 GiB: ${KILLS} kills, never corrupt, no data lost, the resize again succeeds`, async () => {
    if (!fs.existsSync(DIST)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const rand = rng(0xc0ffee);
    const oldSize = 64 * MiB;
    const src = qcow2WithData('resize-src', oldSize, 7900 * 1024, 512, rand, { contiguous: true });
    // The premise: one refcount table cluster (64 blocks of 256 counts: 8 MiB), nearly full.
    const header = Buffer.alloc(4);
    const hfd = fs.openSync(src.qcow2, 'r');
    fs.readSync(hfd, header, 0, 4, 56);
    fs.closeSync(hfd);
    expect(header.readUInt32BE(0)).toBe(1);
    expect(fs.statSync(src.qcow2).size).toBeGreaterThan(7.5 * MiB);
    const allocated = qemuCheck(src.qcow2).json['allocated-clusters'];
    const img = tmp.file('resize.qcow2');
    fs.copyFileSync(src.qcow2, img);
    const t0 = (await tsvirt(['img', 'resize', img, '+0'])).ms;
    let leaky = 0;
    for (let i = 0; i < KILLS; i++) {
      const newSize = Math.floor((16 + rand() * 24) * 1024) * MiB;
      fs.copyFileSync(src.qcow2, img);
      const full = await tsvirt(['img', 'resize', img, String(newSize)]);
      expect(full.status, full.stderr).toBe(0);
      fs.copyFileSync(src.qcow2, img);
      const killed = await tsvirt(['img', 'resize', img, String(newSize)], killMoment(rand, full.ms, t0));
      expectFinishedOrKilled(killed, `kill ${i}`);
      const what = `kill ${i} (resize to ${newSize})`;
      for (const pass of ['after the kill', 'after the resize again']) {
        const q = qemuCheck(img);
        expect([0, 3], `${what}, ${pass}: ${q.text}`).toContain(q.status);
        if (q.status === 3 && pass === 'after the kill') leaky++;
        expect(q.json['allocated-clusters'], `${what}, ${pass}`).toBe(allocated);
        const size = qemuInfo(img)['virtual-size'];
        expect(pass === 'after the kill' ? [oldSize, newSize] : [newSize], `${what}, ${pass}`).toContain(size);
        // The old range, through a raw view of the old size, reads as the data written.
        const view = `json:${JSON.stringify({ driver: 'raw', size: oldSize, file: { driver: 'qcow2', file: { driver: 'file', filename: img } } })}`;
        const cmp = run('qemu-img', ['compare', '-f', 'raw', src.raw, view]);
        expect(cmp.status, `${what}, ${pass}: ${cmp.stdout}${cmp.stderr}`).toBe(0);
        if (pass === 'after the kill') {
          const again = await tsvirt(['img', 'resize', img, String(newSize)]);
          expect(again.status, `${what}: the resize again: ${again.stderr}`).toBe(0);
        }
      }
    }
    console.log(`resize: ${leaky}/${KILLS} kills left leaked clusters`);
  }, 300_000);

  it(`convert of an overlay over a base into qcow2: ${KILLS} kills, the source untouched, no corrupt partial image, the convert again succeeds`, async () => {
    if (!fs.existsSync(DIST)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const rand = rng(0xbadcafe);
    const base = qcow2WithData('base', 64 * MiB, 12 * MiB, 65536, rand);
    const overlay = qcow2WithData('overlay', 64 * MiB, 6 * MiB, 65536, rand, { base });
    const sums = [base.qcow2, overlay.qcow2].map((f) => [f, sha1(f)]);
    const dst = tmp.file('dst.qcow2');
    const args = ['img', 'convert', '-f', 'qcow2', '-O', 'qcow2', overlay.qcow2, dst];
    const full = await tsvirt(args);
    expect(full.status, full.stderr).toBe(0);
    const t0 = (await tsvirt(['img', 'info', overlay.qcow2])).ms;
    const partial = { none: 0, notQcow2: 0, clean: 0, leaks: 0 };
    for (let i = 0; i < KILLS; i++) {
      fs.rmSync(dst, { force: true });
      const killed = await tsvirt(args, killMoment(rand, full.ms, t0));
      expectFinishedOrKilled(killed, `kill ${i}`);
      for (const [f, sum] of sums) expect(sha1(f), `kill ${i}: ${f} changed`).toBe(sum);
      const srcCheck = qemuCheck(overlay.qcow2);
      expect(srcCheck.status, `kill ${i}: the source: ${srcCheck.text}`).toBe(0);
      if (!fs.existsSync(dst)) partial.none++;
      else if (fs.statSync(dst).size < 4 || fs.readFileSync(dst).readUInt32BE(0) !== 0x514649fb) partial.notQcow2++;
      else {
        // tsvirt writes the header, the refcount table and its first block in one write,
        // so every partial qcow2 it leaves opens; qemu-img check may report leaks only.
        const q = qemuCheck(dst);
        expect([0, 3], `kill ${i}: the partial destination: ${q.text}`).toContain(q.status);
        if (q.status === 0) partial.clean++;
        else partial.leaks++;
      }
      const again = await tsvirt(args);
      expect(again.status, `kill ${i}: the convert again: ${again.stderr}`).toBe(0);
      const q = qemuCheck(dst);
      expect(q.status, `kill ${i}: the convert again: ${q.text}`).toBe(0);
      const cmp = run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', overlay.raw, dst]);
      expect(cmp.status, `kill ${i}: the convert again: ${cmp.stdout}${cmp.stderr}`).toBe(0);
    }
    console.log(`convert: destination after the kill: ${JSON.stringify(partial)}`);
  }, 300_000);
});
