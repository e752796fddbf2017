// kill -9 at random moments, tsvirt next to QEMU on the same inputs (issue 15). Three loops:
//   writer   a process writing random extents (and discarding 64 KiB-aligned ranges) with
//            a flush now and then: bench/storage/crash-writer.mjs through the built
//            BlockDevice, and qemu-io running the same operations as -c commands;
//   resize   `tsvirt img resize IMG SIZE` and `qemu-img resize IMG SIZE` growing images
//            that hold data to 16 GiB..64 TiB (16..40 GiB for 512-byte clusters, where
//            the L1 table grows to 10 MiB and the refcount table with it);
//   convert  `tsvirt img convert -O qcow2 SRC DST` and `qemu-img convert -O qcow2 SRC DST`;
// each over three kinds of image: fresh (qcow2, 64 KiB clusters; empty for the writer,
// with data for the others), backing (a qcow2 overlay over a qcow2 base, both with data)
// and c512 (512-byte clusters, the destination of convert too).
//
// After each kill, `qemu-img check` is the judge (exit 2 = corruption, 3 = leaked clusters,
// allowed and counted; 1 = it cannot open the image, counted as corruption), and:
//   writer   every byte written before the last flush the tool reported (tsvirt: the "F"
//            line crash-writer prints once flush() returned; qemu-io: the output of the
//            `length` command that follows each `flush`, under `stdbuf -oL` since qemu-io's
//            stdout is fully buffered on a pipe) reads back, through `qemu-img convert -O raw`;
//   resize   the virtual size is the old or the new one, the old range reads as before
//            (qemu-img compare against the untouched image, through a raw view of that
//            size), the grown range reads as zeros (9 samples and the allocated-cluster
//            count); then the same resize again must succeed and pass the same checks;
//   convert  the source (and its backing file) is byte for byte unchanged and checks
//            clean; a partial destination that is a qcow2 is not corrupt (leaks counted);
//            then the same convert again to the same destination must succeed and give
//            an image identical to the source that checks clean.
// A finished run (the tool exited before the kill) gets the same checks.
//
// Kill moments: T is a full run of the tool on the same kind of input (the median of three
// for writer and convert, a run on a copy of the same input for resize, whose target size
// differs from run to run), T0 its start-up (a run that does nothing: no operations, a
// resize by +0, `img info`). Half the kills are drawn uniformly in [0, T], half in [T0, T],
// so that start-up (about 0.3 s of node and oclif for tsvirt, next to nothing for QEMU)
// does not take most of them. Both tools get the same inputs and the same random draws.
//
// Columns: tried; finished (exited 0 before the kill); killed; clean error (exited non-zero
// by itself with a message); stack trace (a stack on stderr, or killed by another signal);
// hang (a process past its deadline, or alive 10 s after SIGKILL); corruption; leaks; lost
// (writer: a flushed byte that does not read back; resize: wrong size or data; convert:
// a changed source); retry failed (the operation run again after the kill failed).
// Counts are not speed ratios, so there is no BENCH-RESULT line (bench/lib/result.mjs).
// Exit status 1 when tsvirt has any corruption, lost data, stack trace, hang, clean error
// or failed retry; QEMU's counts are only reported.
//
// Usage: node bench/storage/crash-loop.mjs [--runs N] [--seed S] [--loops writer,resize,convert]
//   [--kinds fresh,backing,c512] [--tools tsvirt,qemu] [--only-run I] [--dir DIR]
// --runs: runs per loop, kind and tool (default 100); --only-run replays run I of each
// (the same inputs and kill fraction; the kill moment scales with T measured anew).
// Failing runs' images are kept under DIR/failed (the scratch directory is kept then).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../../test/support/mulberry32.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSVIRT = path.join(ROOT, 'bin/tsvirt');
const WRITER = path.join(ROOT, 'bench/storage/crash-writer.mjs');
const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;
const SIGKILL_GRACE_MS = 10_000;

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = { runs: 100, seed: 1, loops: ['writer', 'resize', 'convert'], kinds: ['fresh', 'backing', 'c512'], tools: ['tsvirt', 'qemu'], onlyRun: undefined, dir: os.tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    const list = (allowed) => {
      const l = v().split(',');
      for (const x of l) if (!allowed.includes(x)) throw new Error(`unknown value ${x}: one of ${allowed.join(', ')}`);
      return l;
    };
    switch (argv[i]) {
      case '--runs': o.runs = Number(v()); break;
      case '--seed': o.seed = Number(v()); break;
      case '--loops': o.loops = list(['writer', 'resize', 'convert']); break;
      case '--kinds': o.kinds = list(['fresh', 'backing', 'c512']); break;
      case '--tools': o.tools = list(['tsvirt', 'qemu']); break;
      case '--only-run': o.onlyRun = Number(v()); break;
      case '--dir': o.dir = v(); break;
      default: throw new Error(`unknown argument ${argv[i]} (see the comment at the top of ${path.basename(fileURLToPath(import.meta.url))})`);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(o.seed)) throw new Error('--seed must be an integer');
  return o;
}

// ---------------------------------------------------------------- randomness

/** One seed per (seed, loop, kind, run, ...): FNV-1a over the parts' text. */
function seedOf(...parts) {
  let h = 0x811c9dc5;
  for (const c of parts.join('/')) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

const int = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

let pool;
/** Seeded pseudo-random bytes: a slice of a fixed 16 MiB pool at a random offset. */
function randomBytes(rand, len) {
  if (!pool) {
    const r = rng(0x5eed);
    const words = new Uint32Array(4 * MiB);
    for (let i = 0; i < words.length; i++) words[i] = (r() * 4294967296) >>> 0;
    pool = Buffer.from(words.buffer);
  }
  const at = Math.floor(rand() * (pool.length - len));
  return pool.subarray(at, at + len);
}

// ---------------------------------------------------------------- processes
/**
 * Runs a process, SIGKILLs it at killAtMs (if given) and at deadlineMs (a hang). Resolves
 * once its output is closed, with what it printed, how it ended and when.
 */
function runProcess(cmd, args, { killAtMs, deadlineMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let weKilled = false;
    let hung = false;
    let exitMs;
    let graceTimer;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const kill = () => {
      if (exitMs !== undefined) return;
      weKilled = true;
      child.kill('SIGKILL');
      graceTimer = setTimeout(() => { hung = true; }, SIGKILL_GRACE_MS);
    };
    const killTimer = killAtMs === undefined ? undefined : setTimeout(kill, killAtMs);
    const deadline = setTimeout(() => { hung = true; kill(); }, deadlineMs);
    child.on('exit', () => {
      exitMs = performance.now() - t0;
      clearTimeout(killTimer);
      clearTimeout(deadline);
      clearTimeout(graceTimer);
    });
    child.on('error', (err) => { stderr += `spawn failed: ${err.message}\n`; });
    child.on('close', (status, signal) => resolve({ status, signal, weKilled, hung, ms: exitMs ?? performance.now() - t0, stdout, stderr }));
  });
}

/** How a run ended, one of the table's process columns. */
function classify(r) {
  if (r.hung) return 'hang';
  if (r.signal === 'SIGKILL' && r.weKilled) return 'killed';
  if (r.signal) return 'stack';
  if (r.status === 0) return 'finished';
  if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr) || /Assertion .* failed|core dumped/.test(r.stderr)) return 'stack';
  return 'error';
}

/** A synchronous helper run (checks, image building); a hang is reported, not waited for. */
function sync(cmd, args, deadlineMs = 300_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * MiB, timeout: deadlineMs, killSignal: 'SIGKILL' });
  const hung = r.error?.code === 'ETIMEDOUT';
  if (r.error && !hung) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', hung };
}

function must(cmd, args) {
  const r = sync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---------------------------------------------------------------- images and checks
/** A sparse raw file of `sizeBytes` with about `dataBytes` of random extents (1 B..256 KiB). */
function makeRaw(file, sizeBytes, dataBytes, rand, from) {
  if (from) fs.copyFileSync(from, file);
  const fd = fs.openSync(file, from ? 'r+' : 'w');
  try {
    if (!from) fs.ftruncateSync(fd, sizeBytes);
    for (let done = 0; done < dataBytes;) {
      const len = int(rand, 1, 256 * KiB);
      fs.writeSync(fd, randomBytes(rand, len), 0, len, int(rand, 0, sizeBytes - len));
      done += len;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function qcow2FromRaw(raw, out, clusterSize, backing) {
  const args = ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`];
  if (backing) args.push('-B', backing, '-F', 'qcow2');
  must('qemu-img', [...args, raw, out]);
}

function emptyQcow2(out, sizeBytes, clusterSize, backing) {
  const args = ['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${clusterSize}`];
  if (backing) args.push('-b', backing, '-F', 'qcow2');
  must('qemu-img', [...args, out, String(sizeBytes)]);
}

/** qemu-img check: 'clean' | 'leaks' | 'corrupt' (exit 2, or 1: it cannot check) | 'hang'. */
function qemuCheck(img) {
  const r = sync('qemu-img', ['check', '--output', 'json', '-f', 'qcow2', img]);
  if (r.hung) return { state: 'hang', text: 'qemu-img check hung' };
  const state = r.status === 0 ? 'clean' : r.status === 3 ? 'leaks' : 'corrupt';
  let json = {};
  try {
    json = JSON.parse(r.stdout);
  } catch { /* exit 1: no report */ }
  return { state, status: r.status, json, text: `qemu-img check exit ${r.status}: ${(r.stderr + r.stdout).trim().slice(0, 400)}` };
}

function virtualSize(img) {
  const r = sync('qemu-img', ['info', '--output', 'json', '-f', 'qcow2', img]);
  return r.status === 0 ? JSON.parse(r.stdout)['virtual-size'] : undefined;
}

function sha1(file) {
  const h = crypto.createHash('sha1');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------- counting
const COLUMNS = ['tried', 'finished', 'killed', 'error', 'stack', 'hang', 'corruption', 'leaks', 'lost', 'retryFailed'];
const HEADINGS = ['tried', 'finished', 'killed', 'clean error', 'stack trace', 'hang', 'corruption', 'leaks', 'lost', 'retry failed'];

class Tally {
  constructor() {
    this.rows = new Map();
  }

  row(loop, kind, tool) {
    const key = `${loop}/${kind}/${tool}`;
    if (!this.rows.has(key)) this.rows.set(key, { loop, kind, tool, counts: Object.fromEntries(COLUMNS.map((c) => [c, 0])), failures: [], t: 0, t0: 0, fullRuns: [], measureFailed: 0 });
    return this.rows.get(key);
  }
}

// ---------------------------------------------------------------- the loops
/** Shared by the loops: one run's judgement, turned into counts and failure notes. */
function record(row, run, proc, outcome) {
  row.counts.tried++;
  row.counts[proc.kind]++;
  for (const c of ['corruption', 'leaks', 'lost', 'retryFailed']) if (outcome[c]) row.counts[c]++;
  const bad = ['error', 'stack', 'hang'].includes(proc.kind) || outcome.corruption || outcome.lost || outcome.retryFailed;
  if (bad) row.failures.push({ run, killAtMs: proc.killAtMs, notes: [...(proc.kind === 'finished' || proc.kind === 'killed' ? [] : [`process: ${proc.kind}: ${proc.stderr.trim().slice(0, 600)}`]), ...outcome.notes] });
  return bad;
}

function killMoment(rand, t, t0) {
  const mixed = rand() < 0.5;
  const u = rand();
  return mixed && t > t0 ? t0 + u * (t - t0) : u * t;
}

class Loops {
  constructor(opts, work) {
    this.o = opts;
    this.work = work;
    this.tally = new Tally();
    this.failedDir = path.join(work, 'failed');
    this.anyFailure = false;
  }

  /**
   * One directory per loop and kind holds its templates and the run's files: tsvirt follows
   * a backing file name only within the image's own directory (qcow2/backing.ts).
   */
  dirFor(loop, kind) {
    const d = path.join(this.work, `${loop}-${kind}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /**
   * The load of a shared machine drifts: T is measured again (a full run on the same
   * input) every fifth run, and the kills use the median of the last three measurements.
   */
  remeasure(run) {
    return run % 5 === 0 && run > 0;
  }

  runIndices() {
    return this.o.onlyRun === undefined ? [...Array(this.o.runs).keys()] : [this.o.onlyRun];
  }

  keep(files, loop, kind, tool, run) {
    const d = path.join(this.failedDir, `${loop}-${kind}-${tool}-run${run}`);
    fs.mkdirSync(d, { recursive: true });
    for (const f of files) if (fs.existsSync(f)) fs.copyFileSync(f, path.join(d, path.basename(f)));
    this.anyFailure = true;
  }

  // ---------------- writer
  writerTemplate(kind) {
    const d = this.dirFor('writer', kind);
    const size = 32 * MiB;
    const img = path.join(d, `${kind}.qcow2`);
    let initial = Buffer.alloc(size);
    if (kind === 'backing') {
      const rand = rng(seedOf(this.o.seed, 'writer-template', kind));
      const rawA = path.join(d, 'base.raw');
      const rawB = path.join(d, 'overlay.raw');
      makeRaw(rawA, size, 12 * MiB, rand);
      makeRaw(rawB, size, 4 * MiB, rand, rawA);
      const base = path.join(d, 'base.qcow2');
      qcow2FromRaw(rawA, base, 65536);
      qcow2FromRaw(rawB, img, 65536, base);
      initial = fs.readFileSync(rawB);
    } else {
      emptyQcow2(img, size, kind === 'c512' ? 512 : 65536);
    }
    return { img, size, initial, ops: kind === 'c512' ? 350 : 500 };
  }

  /** The operations of one writer run: "W off len byte", "D off len" (64 KiB-aligned), "F". */
  writerOps(rand, size, count) {
    const ops = [];
    for (let i = 0; i < count; i++) {
      if (rand() < 0.08) {
        const len = 65536 * int(rand, 1, 4);
        ops.push({ k: 'D', off: 65536 * int(rand, 0, (size - len) / 65536), len });
      } else {
        const len = int(rand, 1, rand() < 0.2 ? 300_000 : 20_000);
        ops.push({ k: 'W', off: int(rand, 0, size - len), len, b: int(rand, 1, 255) });
      }
      if (rand() < 0.15) ops.push({ k: 'F' });
    }
    return ops;
  }

  writerCommand(tool, img, ops, opsFile) {
    if (tool === 'tsvirt') {
      fs.writeFileSync(opsFile, ops.map((o) => (o.k === 'W' ? `W ${o.off} ${o.len} ${o.b}` : o.k === 'D' ? `D ${o.off} ${o.len}` : 'F')).join('\n') + '\n');
      return [process.execPath, [WRITER, img, opsFile]];
    }
    // `length` prints a line once the flush before it has completed; stdbuf makes qemu-io
    // write each line at once (its stdout is fully buffered on a pipe).
    const c = ops.flatMap((o) => (o.k === 'W' ? ['-c', `write -q -P ${o.b} ${o.off} ${o.len}`] : o.k === 'D' ? ['-c', `discard -q ${o.off} ${o.len}`] : ['-c', 'flush', '-c', 'length']));
    return ['stdbuf', ['-oL', 'qemu-io', '-f', 'qcow2', '-t', 'writeback', '-d', 'unmap', ...c, img]];
  }

  flushesReported(tool, stdout) {
    const re = tool === 'tsvirt' ? /^F$/gm : /^[\d.]+ (bytes|KiB|MiB|GiB|TiB)$/gm;
    return (stdout.match(re) ?? []).length;
  }

  async writer(kind) {
    const tpl = this.writerTemplate(kind);
    const runDir = this.dirFor('writer', kind);
    const img = path.join(runDir, 'img.qcow2');
    const opsFile = path.join(runDir, 'ops.txt');
    const raw = path.join(runDir, 'readback.raw');
    // Measure T (three full runs) and T0 (no operations).
    for (const tool of this.o.tools) {
      const row = this.tally.row('writer', kind, tool);
      const ts = [];
      const t0s = [];
      for (let i = 0; i < 3; i++) {
        fs.copyFileSync(tpl.img, img);
        const [cmd, args] = this.writerCommand(tool, img, this.writerOps(rng(seedOf(this.o.seed, 'writer-measure', kind, i)), tpl.size, tpl.ops), opsFile);
        const r = await runProcess(cmd, args);
        if (r.status !== 0) throw new Error(`writer ${tool} ${kind}: the measuring run failed: ${r.stderr}`);
        fullRun(row, r.ms);
        fs.copyFileSync(tpl.img, img);
        const [cmd0, args0] = this.writerCommand(tool, img, [], opsFile);
        t0s.push((await runProcess(cmd0, args0)).ms);
      }
      row.t0 = median(t0s);
    }
    const expected = Buffer.alloc(tpl.size);
    const unknown = new Uint8Array(tpl.size);
    for (const run of this.runIndices()) {
      const rand = rng(seedOf(this.o.seed, 'writer', kind, run));
      const ops = this.writerOps(rand, tpl.size, tpl.ops);
      const mixDraw = rand();
      const uDraw = rand();
      for (const tool of this.o.tools) {
        const row = this.tally.row('writer', kind, tool);
        const [cmd, args] = this.writerCommand(tool, img, ops, opsFile);
        if (this.remeasure(run)) {
          fs.copyFileSync(tpl.img, img);
          measured(row, run, await runProcess(cmd, args));
        }
        fs.copyFileSync(tpl.img, img);
        const killAtMs = killMoment(seqRand([mixDraw, uDraw]), row.t, row.t0);
        const r = await runProcess(cmd, args, { killAtMs, deadlineMs: Math.max(60_000, 20 * row.t) });
        const proc = { kind: classify(r), killAtMs, stderr: r.stderr };
        const outcome = { notes: [] };
        // What must be there: every operation up to the last reported flush (all of them
        // after a clean exit, which flushes on close); later ones may or may not be.
        const flushes = proc.kind === 'finished' ? Infinity : this.flushesReported(tool, r.stdout);
        initialModel(expected, unknown, tpl.initial);
        let seen = 0;
        for (const o of ops) {
          if (o.k === 'F') {
            seen++;
            continue;
          }
          if (seen < flushes) {
            expected.fill(o.k === 'W' ? o.b : 0, o.off, o.off + o.len);
            unknown.fill(0, o.off, o.off + o.len);
          } else {
            unknown.fill(1, o.off, o.off + o.len);
          }
        }
        const q = qemuCheck(img);
        judgeCheck(q, outcome, 'image');
        if (q.state !== 'hang') {
          const c = sync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', img, raw]);
          if (c.hung) proc.kind = 'hang';
          else if (c.status !== 0) {
            outcome.corruption = true;
            outcome.notes.push(`qemu-img convert cannot read the image: ${c.stderr.trim()}`);
          } else {
            const got = fs.readFileSync(raw);
            const bad = firstMismatch(got, expected, unknown);
            if (bad >= 0) {
              outcome.lost = true;
              outcome.notes.push(`byte ${bad} reads ${got[bad]}, the flushed value is ${expected[bad]} (${flushes} flushes reported)`);
            }
          }
        }
        if (record(row, run, proc, outcome)) this.keep([img, opsFile], 'writer', kind, tool, run);
      }
      progress('writer', kind, run);
    }
  }

  // ---------------- resize
  resizeTemplates(kind) {
    const d = this.dirFor('resize', kind);
    const rand = rng(seedOf(this.o.seed, 'resize-templates', kind));
    const out = [];
    if (kind === 'fresh') {
      for (let i = 0; i < 4; i++) {
        const raw = path.join(d, `fresh${i}.raw`);
        makeRaw(raw, 256 * MiB, int(rand, 8, 32) * MiB, rand);
        out.push(path.join(d, `fresh${i}.qcow2`));
        qcow2FromRaw(raw, out[i], 65536);
        fs.rmSync(raw);
      }
    } else if (kind === 'backing') {
      const rawA = path.join(d, 'base.raw');
      makeRaw(rawA, 256 * MiB, 16 * MiB, rand);
      const base = path.join(d, 'base.qcow2');
      qcow2FromRaw(rawA, base, 65536);
      for (let i = 0; i < 4; i++) {
        const rawB = path.join(d, `overlay${i}.raw`);
        makeRaw(rawB, 256 * MiB, int(rand, 2, 8) * MiB, rand, rawA);
        out.push(path.join(d, `overlay${i}.qcow2`));
        qcow2FromRaw(rawB, out[i], 65536, base);
        fs.rmSync(rawB);
      }
      fs.rmSync(rawA);
    } else {
      // 4..12 MiB of data in 64 MiB: the refcount table (64 entries, 8 MiB at first) has to
      // grow along with the L1 table; the last image's file ends just before the end of
      // what its refcount table covers, the case that once re-entered the table growth.
      for (let i = 0; i < 4; i++) {
        const raw = path.join(d, `c512-${i}.raw`);
        makeRaw(raw, 64 * MiB, int(rand, 4, 12) * MiB, rand);
        out.push(path.join(d, `c512-${i}.qcow2`));
        qcow2FromRaw(raw, out[i], 512);
        fs.rmSync(raw);
      }
      const full = path.join(d, 'c512-table-full.qcow2');
      emptyQcow2(full, 64 * MiB, 512);
      must('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 7900K', full]);
      out.push(full);
    }
    return out.map((img) => ({ img, size: virtualSize(img), allocated: qemuCheck(img).json['allocated-clusters'] }));
  }

  resizeCommand(tool, img, size) {
    return tool === 'tsvirt' ? [process.execPath, [TSVIRT, 'img', 'resize', img, size]] : ['qemu-img', ['resize', '-f', 'qcow2', img, size]];
  }

  /** The resize checks: size old or new, old range as before, grown range zero. */
  judgeResize(img, tpl, newSize, outcome, what, requireNew) {
    const q = qemuCheck(img);
    judgeCheck(q, outcome, what);
    if (q.state === 'hang' || q.state === 'corrupt') return;
    const size = virtualSize(img);
    if (size !== tpl.size && size !== newSize || (requireNew && size !== newSize)) {
      outcome.lost = true;
      outcome.notes.push(`${what}: virtual size ${size}, neither ${tpl.size} nor ${newSize}`);
      return;
    }
    // The old range through a raw view of the old size: compare reads just that.
    const view = `json:${JSON.stringify({ driver: 'raw', size: tpl.size, file: { driver: 'qcow2', file: { driver: 'file', filename: img } } })}`;
    const c = sync('qemu-img', ['compare', '-f', 'qcow2', tpl.img, view]);
    if (c.status !== 0) {
      outcome.lost = true;
      outcome.notes.push(`${what}: the old range differs: ${(c.stdout + c.stderr).trim()}`);
    }
    if (q.json['allocated-clusters'] !== tpl.allocated) {
      outcome.lost = true;
      outcome.notes.push(`${what}: ${q.json['allocated-clusters']} allocated clusters, ${tpl.allocated} before`);
    }
    if (size > tpl.size) {
      const rand = rng(seedOf(newSize, tpl.size));
      const starts = [tpl.size, size - 65536, ...Array.from({ length: 7 }, () => tpl.size + Math.floor((rand() * (size - tpl.size - 65536)) / 512) * 512)];
      const r = sync('qemu-io', ['-r', '-f', 'qcow2', ...starts.flatMap((s) => ['-c', `read -q -P 0 ${s} 65536`]), img]);
      if (r.status !== 0 || /verification failed|failed/i.test(r.stdout + r.stderr)) {
        outcome.lost = true;
        outcome.notes.push(`${what}: the grown range does not read as zeros: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
      }
    }
  }

  async resize(kind) {
    const tpls = this.resizeTemplates(kind);
    const runDir = this.dirFor('resize', kind);
    const img = path.join(runDir, 'img.qcow2');
    const t0Img = path.join(runDir, 't0.qcow2');
    for (const tool of this.o.tools) {
      const t0s = [];
      for (let i = 0; i < 3; i++) {
        fs.copyFileSync(tpls[0].img, t0Img);
        const [cmd, args] = this.resizeCommand(tool, t0Img, '+0');
        t0s.push((await runProcess(cmd, args)).ms);
      }
      this.tally.row('resize', kind, tool).t0 = median(t0s);
    }
    const [minSize, maxSize] = kind === 'c512' ? [16 * GiB, 40 * GiB] : [16 * GiB, 64 * TiB];
    for (const run of this.runIndices()) {
      const rand = rng(seedOf(this.o.seed, 'resize', kind, run));
      const tpl = tpls[int(rand, 0, tpls.length - 1)];
      const newSize = Math.floor(Math.exp(Math.log(minSize) + rand() * Math.log(maxSize / minSize)) / MiB) * MiB;
      const mixDraw = rand();
      const uDraw = rand();
      for (const tool of this.o.tools) {
        const row = this.tally.row('resize', kind, tool);
        const [cmd, args] = this.resizeCommand(tool, img, String(newSize));
        // T: this very resize, run to the end on a copy.
        fs.copyFileSync(tpl.img, img);
        const full = await runProcess(cmd, args, { deadlineMs: 600_000 });
        if (!measured(row, run, full)) continue;
        fs.copyFileSync(tpl.img, img);
        const killAtMs = killMoment(seqRand([mixDraw, uDraw]), full.ms, row.t0);
        const r = await runProcess(cmd, args, { killAtMs, deadlineMs: Math.max(60_000, 20 * full.ms) });
        const proc = { kind: classify(r), killAtMs, stderr: r.stderr };
        const outcome = { notes: [`resize to ${newSize} bytes of ${path.basename(tpl.img)}, full run ${full.ms.toFixed(0)} ms`] };
        this.judgeResize(img, tpl, newSize, outcome, 'after the kill', false);
        const before = path.join(runDir, 'after-kill.qcow2');
        fs.copyFileSync(img, before);
        const again = await runProcess(cmd, args, { deadlineMs: Math.max(60_000, 20 * full.ms) });
        if (again.status !== 0) {
          outcome.retryFailed = true;
          outcome.notes.push(`the resize again: ${classify(again)}: ${again.stderr.trim().slice(0, 400)}`);
        } else {
          const o2 = { notes: [] };
          this.judgeResize(img, tpl, newSize, o2, 'after the resize again', true);
          if (o2.corruption || o2.lost) {
            outcome.retryFailed = true;
            outcome.notes.push(...o2.notes);
          }
        }
        if (record(row, run, proc, outcome)) this.keep([before, img], 'resize', kind, tool, run);
      }
      progress('resize', kind, run);
    }
  }

  // ---------------- convert
  convertSource(kind) {
    const d = this.dirFor('convert', kind);
    const rand = rng(seedOf(this.o.seed, 'convert-source', kind));
    const src = path.join(d, `${kind}.qcow2`);
    const files = [src];
    if (kind === 'fresh') {
      const raw = path.join(d, 'src.raw');
      makeRaw(raw, 512 * MiB, 64 * MiB, rand);
      qcow2FromRaw(raw, src, 65536);
      fs.rmSync(raw);
    } else if (kind === 'backing') {
      const rawA = path.join(d, 'base.raw');
      const rawB = path.join(d, 'overlay.raw');
      makeRaw(rawA, 512 * MiB, 48 * MiB, rand);
      makeRaw(rawB, 512 * MiB, 16 * MiB, rand, rawA);
      const base = path.join(d, 'base.qcow2');
      qcow2FromRaw(rawA, base, 65536);
      qcow2FromRaw(rawB, src, 65536, base);
      files.push(base);
      fs.rmSync(rawA);
      fs.rmSync(rawB);
    } else {
      const raw = path.join(d, 'src.raw');
      makeRaw(raw, 64 * MiB, 12 * MiB, rand);
      qcow2FromRaw(raw, src, 512);
      fs.rmSync(raw);
    }
    const pristine = files.map((f) => {
      const copy = `${f}.pristine`;
      fs.copyFileSync(f, copy);
      return { file: f, copy, sha1: sha1(f) };
    });
    return { src, pristine, clusterSize: kind === 'c512' ? 512 : 65536 };
  }

  convertCommand(tool, src, dst, clusterSize) {
    const o = ['-O', 'qcow2', '-o', `cluster_size=${clusterSize}`];
    return tool === 'tsvirt' ? [process.execPath, [TSVIRT, 'img', 'convert', '-f', 'qcow2', ...o, src, dst]] : ['qemu-img', ['convert', '-f', 'qcow2', ...o, src, dst]];
  }

  /** What a finished convert must give: an image that checks clean and reads as the source. */
  judgeConverted(src, dst, outcome, what) {
    const q = qemuCheck(dst);
    if (q.state !== 'clean') {
      outcome.retryFailed = true;
      outcome.notes.push(`${what}: ${q.text}`);
      return;
    }
    const c = sync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', src, dst]);
    if (c.status !== 0) {
      outcome.retryFailed = true;
      outcome.notes.push(`${what}: differs from the source: ${(c.stdout + c.stderr).trim()}`);
    }
  }

  async convert(kind) {
    const source = this.convertSource(kind);
    const runDir = this.dirFor('convert', kind);
    const dst = path.join(runDir, 'dst.qcow2');
    for (const tool of this.o.tools) {
      const row = this.tally.row('convert', kind, tool);
      const t0s = [];
      const [cmd, args] = this.convertCommand(tool, source.src, dst, source.clusterSize);
      for (let i = 0; i < 3; i++) {
        fs.rmSync(dst, { force: true });
        const r = await runProcess(cmd, args, { deadlineMs: 600_000 });
        if (r.status !== 0) throw new Error(`convert ${tool} ${kind}: the measuring run failed: ${r.stderr}`);
        fullRun(row, r.ms);
        const info = tool === 'tsvirt' ? [process.execPath, [TSVIRT, 'img', 'info', source.src]] : ['qemu-img', ['info', source.src]];
        t0s.push((await runProcess(...info)).ms);
      }
      const check = { notes: [] };
      this.judgeConverted(source.src, dst, check, 'the measuring run');
      if (check.retryFailed) throw new Error(`convert ${tool} ${kind}: ${check.notes.join('; ')}`);
      row.t0 = median(t0s);
    }
    for (const run of this.runIndices()) {
      const rand = rng(seedOf(this.o.seed, 'convert', kind, run));
      const mixDraw = rand();
      const uDraw = rand();
      for (const tool of this.o.tools) {
        const row = this.tally.row('convert', kind, tool);
        const [cmd, args] = this.convertCommand(tool, source.src, dst, source.clusterSize);
        if (this.remeasure(run)) {
          fs.rmSync(dst, { force: true });
          measured(row, run, await runProcess(cmd, args, { deadlineMs: 600_000 }));
        }
        fs.rmSync(dst, { force: true });
        const killAtMs = killMoment(seqRand([mixDraw, uDraw]), row.t, row.t0);
        const r = await runProcess(cmd, args, { killAtMs, deadlineMs: Math.max(60_000, 20 * row.t) });
        const proc = { kind: classify(r), killAtMs, stderr: r.stderr };
        const outcome = { notes: [] };
        for (const p of source.pristine) {
          if (sha1(p.file) !== p.sha1) {
            outcome.lost = true;
            outcome.notes.push(`${path.basename(p.file)} changed`);
            this.keep([p.file], 'convert', kind, tool, run);
            fs.copyFileSync(p.copy, p.file);
          }
        }
        judgeCheck(qemuCheck(source.src), outcome, 'the source', true);
        const partial = describePartial(dst);
        row.partial ??= {};
        row.partial[partial.what] = (row.partial[partial.what] ?? 0) + 1;
        if (partial.example) (row.partialExamples ??= new Set()).add(partial.example.replace(/'[^']*'/g, "'DST'"));
        if (partial.check) judgeCheck(partial.check, outcome, 'the partial destination');
        const kept = path.join(runDir, 'dst-after-kill.qcow2');
        if (fs.existsSync(dst)) fs.copyFileSync(dst, kept);
        else fs.rmSync(kept, { force: true });
        const again = await runProcess(cmd, args, { deadlineMs: Math.max(60_000, 20 * row.t) });
        if (again.status !== 0) {
          outcome.retryFailed = true;
          outcome.notes.push(`the convert again: ${classify(again)}: ${again.stderr.trim().slice(0, 400)}`);
        } else {
          this.judgeConverted(source.src, dst, outcome, 'the convert again');
        }
        if (record(row, run, proc, outcome)) this.keep([kept, dst], 'convert', kind, tool, run);
      }
      progress('convert', kind, run);
    }
  }
}

/** Adds a full run's duration to T's measurements; T is the median of the last three. */
function fullRun(row, ms) {
  row.fullRuns.push(ms);
  row.t = median(row.fullRuns.slice(-3));
}

/** A measuring (full, never killed) run: it must succeed; false (and counted) if not. */
function measured(row, run, r) {
  if (r.status === 0) {
    fullRun(row, r.ms);
    return true;
  }
  row.measureFailed++;
  row.failures.push({ run, killAtMs: NaN, notes: [`a full run (measuring T) failed: ${classify(r)}: ${r.stderr.trim().slice(0, 600)}`] });
  return false;
}

/** A random source that replays given draws, so both tools get the same kill fraction. */
function seqRand(draws) {
  let i = 0;
  return () => draws[i++];
}

function initialModel(expected, unknown, initial) {
  initial.copy(expected);
  unknown.fill(0);
}

/** First byte where a known expected value differs from what was read, or -1. */
function firstMismatch(got, expected, unknown) {
  if (got.length !== expected.length) return Math.min(got.length, expected.length);
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i] && !unknown[i]) return i;
  return -1;
}

/** Counts qemu-img check's verdict; `mustBeClean` makes leaks a failure (the source). */
function judgeCheck(q, outcome, what, mustBeClean = false) {
  if (q.state === 'clean') return;
  if (q.state === 'leaks' && !mustBeClean) {
    outcome.leaks = true;
    return;
  }
  if (q.state === 'hang') outcome.notes.push(`${what}: qemu-img check hung`);
  else outcome.notes.push(`${what}: ${q.text}`);
  outcome.corruption = true;
}

/** What a kill left at DST: nothing, a file that is not (yet) a qcow2, or a qcow2 to check. */
function describePartial(dst) {
  if (!fs.existsSync(dst)) return { what: 'no file' };
  const head = Buffer.alloc(4);
  const fd = fs.openSync(dst, 'r');
  const n = fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  if (n < 4 || head.readUInt32BE(0) !== 0x514649fb) return { what: 'not a qcow2 yet' };
  const check = qemuCheck(dst);
  // Exit 1: qemu-img could not open it to check it (a header whose tables are not written
  // yet): not an image anyone could have used, so counted apart from corruption (exit 2).
  if (check.status === 1) return { what: 'qcow2 qemu-img cannot open', example: check.text };
  return { what: `qcow2 ${check.state}`, check };
}

let lastProgress = 0;
function progress(loop, kind, run) {
  const now = Date.now();
  if (now - lastProgress < 15_000) return;
  lastProgress = now;
  process.stderr.write(`  ${loop} ${kind}: run ${run} done\n`);
}

// ---------------------------------------------------------------- report
function table(rows) {
  const head = ['kind', 'tool', 'T ms', 'T0 ms', ...HEADINGS];
  // The writer has nothing to run again after the kill: its retry column is '-'.
  const lines = rows.map((r) => [r.kind, r.tool === 'tsvirt' ? 'tsvirt' : r.qemuName, median(r.fullRuns).toFixed(0), r.t0.toFixed(0), ...COLUMNS.map((c) => (c === 'retryFailed' && r.loop === 'writer' ? '-' : String(r.counts[c])))]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [fmt(head), ...lines.map(fmt)].join('\n');
}

const QEMU_NAMES = { writer: 'qemu-io', resize: 'qemu-img', convert: 'qemu-img' };

async function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const t of ['qemu-img', 'qemu-io', 'stdbuf']) {
    if (sync('sh', ['-c', `command -v ${t}`]).status !== 0) throw new Error(`${t} is missing (qemu-utils, coreutils)`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/storage/open-image.js'))) throw new Error('dist/ is missing: run bench/storage/crash-loop.sh (it builds first)');
  const work = fs.mkdtempSync(path.join(o.dir, 'tsvirt-crash-loop-'));
  const loops = new Loops(o, work);
  const started = Date.now();
  console.log(`crash-loop: seed ${o.seed}, ${o.onlyRun === undefined ? `${o.runs} runs` : `run ${o.onlyRun} only`} per loop, kind and tool; ${qemuVersion()}; ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; scratch ${work}`);
  console.log('T: a full run (median of all; writer and convert: measured 3 times first and again every 5th run, each kill using the last 3; resize: every run\'s own input, run to the end first), T0: start-up (a run that does nothing); kills in [0, T] and [T0, T], half each');
  for (const loop of o.loops) {
    const t = Date.now();
    for (const kind of o.kinds) await loops[loop](kind);
    const rows = [...loops.tally.rows.values()].filter((r) => r.loop === loop).map((r) => ({ ...r, qemuName: QEMU_NAMES[loop] }));
    console.log(`\n== ${loop}: kill -9 of ${loop === 'writer' ? 'a writer (crash-writer.mjs / qemu-io)' : `img ${loop} (tsvirt / qemu-img ${loop})`}, ${((Date.now() - t) / 1000).toFixed(0)} s`);
    console.log(table(rows));
    if (loop === 'convert') {
      for (const r of rows) {
        console.log(`  ${r.kind} ${r.tool === 'tsvirt' ? 'tsvirt' : 'qemu-img'}: destination after the kill (or the end): ${Object.entries(r.partial ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        for (const e of [...(r.partialExamples ?? [])].slice(0, 3)) console.log(`    (${e})`);
      }
    }
    for (const r of rows) {
      if (r.measureFailed > 0) console.log(`  ${r.kind} ${r.tool}: ${r.measureFailed} full runs (measuring T) failed`);
      for (const f of r.failures.slice(0, 5)) console.log(`  FAIL ${loop} ${r.kind} ${r.tool === 'tsvirt' ? 'tsvirt' : r.qemuName} run ${f.run} (${Number.isNaN(f.killAtMs) ? 'no kill' : `kill at ${f.killAtMs.toFixed(0)} ms`}; replay: --seed ${o.seed} --loops ${loop} --kinds ${r.kind} --only-run ${f.run}): ${f.notes.join('; ')}`);
      if (r.failures.length > 5) console.log(`  ... and ${r.failures.length - 5} more failing ${r.kind} ${r.tool} runs`);
    }
  }
  console.log(`\ncrash-loop: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  const ours = [...loops.tally.rows.values()].filter((r) => r.tool === 'tsvirt');
  const bad = ours.some((r) => r.measureFailed > 0 || ['error', 'stack', 'hang', 'corruption', 'lost', 'retryFailed'].some((c) => r.counts[c] > 0));
  if (loops.anyFailure) console.log(`crash-loop: failing runs' images are under ${loops.failedDir}`);
  else fs.rmSync(work, { recursive: true, force: true });
  if (bad) {
    console.log('crash-loop: FAILED: tsvirt has failures (above)');
    process.exitCode = 1;
  }
}

function qemuVersion() {
  return sync('qemu-img', ['--version']).stdout.split('\n')[0];
}

await main();
