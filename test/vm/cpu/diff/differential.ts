// The differential harness: runs every case of a set of forms natively (native-runner.c,
// one process for the whole batch) and on the software CPU (SnippetMachine), compares
// GPRs, the end RIP (the snippet must fall through to its trailer), the arithmetic
// flags and DF minus the form's undefined flags, XMM0-3 for SSE forms, the data buffer
// for memory forms, and for faulting cases the vector, faulting RIP and registers.
// Leaves out: timing; x87/MMX state and MXCSR only as far as a form stores them to the
// data buffer or a register (FNSTSW/FNSTENV/FXSAVE/STMXCSR/MOVQ).
//
// 32-bit forms run natively in compatibility mode, which needs a 32-bit user code segment
// from the kernel. compat32Support() finds out once per process, with a known answer run
// through the runner, whether this host gives one (Linux's __USER32_CS 0x23, else a
// segment installed in the LDT with modify_ldt); tests that run 32-bit code natively call
// skipUnlessCompat32() and skip, with the reason printed, on a host that gives neither.
// TSVIRT_CPU_DIFF_COMPAT32=auto|gdt|ldt|off|<hex selector> (default auto: 0x23, then the
// LDT) pins the way, turns 32-bit native runs off, or names a selector to use as it is
// (e.g. 2b, a data segment: rehearses the skip path of a host without 32-bit user code).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';
import type { CpuFactory } from '../support/cpu-factory.js';
import { type CaseInput, type CaseOutput, CODE_VA, DATA_BYTES, DEFAULT_RSP, GPR_NAMES, SnippetMachine } from '../support/snippet-machine.js';
import { assembleSnippets, buildC } from '../support/toolchain.js';
import { ARITH_FLAGS, DF, randomCase, Rng } from './cases.js';
import { type Form, undefMask } from './forms.js';

export const RUNNER_SOURCE = fileURLToPath(new URL('./native-runner.c', import.meta.url));

export function nativeRunnerPath(): string {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    throw new Error(`the differential CPU tests need an x86-64 Linux host (this is ${process.platform}/${process.arch})`);
  }
  return buildC(RUNNER_SOURCE, 'native-runner');
}

const hex = (v: bigint) => v.toString(16);
function bytesHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

export function caseLine(c: CaseInput): string {
  return `R ${c.gpr.map(hex).join(' ')} ${hex(c.rflags)} ${c.xmm.map(hex).join(' ')} ${c.data ? bytesHex(c.data) : '-'}`;
}

export function parseAnswer(line: string): CaseOutput {
  const f = line.split(' ');
  const big = (s: string) => BigInt(`0x${s}`);
  if (f[0] === 'O') {
    const out: CaseOutput = {
      kind: 'ok',
      gpr: f.slice(1, 17).map(big),
      rflags: big(f[17]),
      xmm: f.slice(18, 26).map(big),
    };
    if (f[26] !== '-') out.data = new Uint8Array(Buffer.from(f[26], 'hex'));
    return out;
  }
  if (f[0] === 'X') {
    return { kind: 'exception', vector: Number(big(f[1])), rip: big(f[2]), gpr: f.slice(3, 19).map(big), rflags: big(f[19]) };
  }
  throw new Error(`native-runner answered '${line.slice(0, 40)}'`);
}

type NativeBatch = { code: Uint8Array; cases: CaseInput[]; bits?: 32 | 64 };

function runnerInput(batches: readonly NativeBatch[]): string {
  const lines: string[] = [];
  for (const b of batches) {
    lines.push(`${b.bits === 32 ? 'T' : 'S'} ${bytesHex(b.code)}`);
    for (const c of b.cases) lines.push(caseLine(c));
  }
  lines.push('');
  return lines.join('\n');
}

function spawnRunner(batches: readonly NativeBatch[], args: string[]) {
  return spawnSync(nativeRunnerPath(), args, { input: runnerInput(batches), maxBuffer: 1 << 30, encoding: 'utf8' });
}

/**
 * Runs the native side for all (snippet, cases) pairs in one process. 32-bit batches run
 * on the code segment compat32Support() found; on a host without one this throws with
 * the reason (tests that run 32-bit code call skipUnlessCompat32() first).
 */
export function runNative(batches: readonly NativeBatch[]): CaseOutput[][] {
  const args: string[] = [];
  if (batches.some((b) => b.bits === 32)) {
    const compat = compat32Support();
    if (!compat.available) throw new Error(`32-bit snippets cannot run natively on this host: ${compat.reason}`);
    args.push(`--compat32=${compat.way}`);
  }
  const r = spawnRunner(batches, args);
  if (r.status !== 0) throw new Error(`native-runner exited ${r.status ?? r.signal}: ${r.stderr}`);
  const answers = r.stdout.split('\n');
  let k = 0;
  return batches.map((b) => b.cases.map(() => parseAnswer(answers[k++])));
}

// ---- 32-bit code on the host ----

/** Where native-runner.c puts the 64-bit stub that far-jumps into a 32-bit snippet. */
const STUB_TO_COMPAT = CODE_VA + 0x1900;
/** The known answer: DEC EAX in 32-bit code (a REX.W NOP in 64-bit code), then NOP. */
const PROBE_CODE = new Uint8Array([0x48, 0x90]);
const PROBE_EAX = 0x1_0000_0000n;

const VECTOR_NAMES: Record<number, string> = { 0: '#DE', 6: '#UD', 11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 17: '#AC' };

function segmentText(way: string): string {
  if (way === 'gdt') return "Linux's 32-bit user code segment 0x23 (__USER32_CS)";
  if (way === 'ldt') return 'a 32-bit code segment installed in the LDT with modify_ldt (selector 0x7)';
  return `selector 0x${way}`;
}

/**
 * Runs the known answer through the runner with `--compat32=<way>` (gdt, ldt or a hex
 * selector): `.byte 0x48; nop` with EAX = 0x1_0000_0000 must leave EAX = 0xffffffff
 * (as 64-bit code it would leave 0). Returns null when it does, else what happened.
 */
export function probeCompat32(way: string): string | null {
  const gpr = new Array<bigint>(16).fill(0n);
  gpr[0] = PROBE_EAX;
  gpr[4] = BigInt(DEFAULT_RSP);
  const probe: NativeBatch = { code: PROBE_CODE, bits: 32, cases: [{ gpr, rflags: 2n, xmm: new Array(8).fill(0n) }] };
  const r = spawnRunner([probe], [`--compat32=${way}`]);
  const segment = segmentText(way);
  if (r.status !== 0) return `${segment}: native-runner exited ${r.status ?? r.signal}: ${r.stderr.trim()}`;
  const out = parseAnswer(r.stdout.split('\n')[0]);
  if (out.kind === 'exception') {
    const name = VECTOR_NAMES[out.vector] ?? 'exception';
    const rip = Number(out.rip);
    const where =
      rip === STUB_TO_COMPAT ? `on the far jump to ${segment}`
        : rip >= CODE_VA && rip < CODE_VA + PROBE_CODE.length ? `inside the 32-bit snippet, entered through ${segment}`
          : rip === CODE_VA + PROBE_CODE.length ? `on the far jump from ${segment} back to 64-bit code (0x33)`
            : `after the far jump to ${segment}`;
    return `${name} (vector ${out.vector}) ${where}, at rip 0x${hex(out.rip)}`;
  }
  if (out.kind === 'ok' && (out.gpr[0] & 0xffff_ffffn) === 0xffff_ffffn) return null;
  const eax = out.kind === 'ok' ? `0x${hex(out.gpr[0])}` : 'nothing';
  return `${segment}: the DEC EAX known answer gave EAX = ${eax}, not 0xffffffff (0 would mean the bytes ran as 64-bit code)`;
}

export type Compat32Support =
  | { available: true; /** the runner's --compat32 value */ way: string; segment: string }
  | { available: false; reason: string };

let compat32: Compat32Support | undefined;

/** Whether (and how) this host runs the runner's 32-bit code: probed once per process. */
export function compat32Support(): Compat32Support {
  if (compat32) return compat32;
  const setting = process.env.TSVIRT_CPU_DIFF_COMPAT32 ?? 'auto';
  if (setting === 'off') return (compat32 = { available: false, reason: 'turned off by TSVIRT_CPU_DIFF_COMPAT32=off' });
  if (!['auto', 'gdt', 'ldt'].includes(setting) && !/^[0-9a-f]{1,4}$/i.test(setting)) {
    throw new Error(`TSVIRT_CPU_DIFF_COMPAT32 must be auto, gdt, ldt, off or a hex selector, not '${setting}'`);
  }
  const ways = setting === 'auto' ? ['gdt', 'ldt'] : [setting];
  const problems: string[] = [];
  for (const way of ways) {
    const problem = probeCompat32(way);
    if (problem === null) return (compat32 = { available: true, way, segment: segmentText(way) });
    problems.push(problem);
  }
  return (compat32 = { available: false, reason: problems.join('; ') });
}

/**
 * For a test that runs 32-bit code natively: returns when the host can, else skips the
 * test with the reason (in the vitest report and as a stdout line).
 */
export function skipUnlessCompat32(ctx: TestContext): void {
  const compat = compat32Support();
  if (compat.available) return;
  const note = `32-bit code cannot run natively here: ${compat.reason}`;
  console.log(`skipped '${ctx.task.name}': ${note}`);
  ctx.skip(note);
}

export interface FormOutcome {
  form: Form;
  cases: number;
  failures: number;
  /** The first failing case, described for a human. */
  example?: string;
}

function seedOf(name: string, base: number): number {
  return createHash('sha256').update(`${base}:${name}`).digest().readUInt32LE(0);
}

export function makeCases(form: Form, count: number, seed: number): CaseInput[] {
  const rng = new Rng(seedOf(form.name, seed));
  const cases: CaseInput[] = [];
  for (let i = 0; i < count; i++) {
    const c = randomCase(rng, !!form.mem, !!form.sse);
    form.shape?.(c, rng);
    cases.push(c);
  }
  return cases;
}

const FLAG_NAMES: Array<[number, string]> = [[0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x400, 'DF'], [0x800, 'OF']];
function flagText(v: bigint, mask: number): string {
  return FLAG_NAMES.filter(([b]) => mask & b).map(([b, n]) => (Number(v) & b ? n : n.toLowerCase())).join(' ');
}

/** Returns null when the outputs agree, else a description of the first differences. */
export function compare(form: Form, input: CaseInput, want: CaseOutput, got: CaseOutput): string | null {
  if (got.kind === 'stopped') return `software CPU stopped: ${got.why}`;
  if (want.kind !== got.kind) {
    const w = want.kind === 'exception' ? `exception #${want.vector}` : 'completion';
    const g = got.kind === 'exception' ? `exception #${got.vector} at rip 0x${hex(got.rip)}` : 'completion';
    return `host: ${w}, software CPU: ${g}`;
  }
  const diffs: string[] = [];
  // Compatibility mode: only EAX..EDI exist; their upper halves are undefined (SDM Vol. 1 §3.4.1.1).
  const compat = form.bits === 32;
  const regMask = compat ? 0xffff_ffffn : (1n << 64n) - 1n;
  for (let i = 0; i < (compat ? 8 : 16); i++) {
    const w = want.gpr[i] & regMask;
    const g = got.gpr[i] & regMask;
    if (w !== g) diffs.push(`${compat ? `e${GPR_NAMES[i].slice(1)}` : GPR_NAMES[i]} want 0x${hex(w)} got 0x${hex(g)}`);
  }
  const mask = (ARITH_FLAGS | DF) & ~undefMask(form, input);
  if ((Number(want.rflags) & mask) !== (Number(got.rflags) & mask)) {
    diffs.push(`flags want [${flagText(want.rflags, mask)}] got [${flagText(got.rflags, mask)}]`);
  }
  if (want.kind === 'exception' && got.kind === 'exception') {
    if (want.vector !== got.vector) diffs.push(`vector want ${want.vector} got ${got.vector}`);
    if ((want.rip & regMask) !== (got.rip & regMask)) diffs.push(`fault rip want 0x${hex(want.rip)} got 0x${hex(got.rip)}`);
  }
  if (want.kind === 'ok' && got.kind === 'ok') {
    if (form.sse) {
      for (let i = 0; i < 8; i++) {
        if (want.xmm[i] !== got.xmm[i]) diffs.push(`xmm${i >> 1}.${i & 1 ? 'hi' : 'lo'} want 0x${hex(want.xmm[i])} got 0x${hex(got.xmm[i])}`);
      }
    }
    if (want.data && got.data) {
      for (let i = 0; i < DATA_BYTES; i++) {
        if (want.data[i] !== got.data[i]) {
          diffs.push(`data[0x${i.toString(16)}] want 0x${want.data[i].toString(16)} got 0x${got.data[i].toString(16)}`);
          break;
        }
      }
    }
  }
  return diffs.length ? diffs.join('; ') : null;
}

function describeInput(c: CaseInput, form: Form): string {
  const regs = GPR_NAMES.map((n, i) => `${n}=0x${hex(c.gpr[i])}`).join(' ');
  const xmm = form.sse ? ` xmm=[${c.xmm.map((x) => `0x${hex(x)}`).join(',')}]` : '';
  const data = c.data ? ` data=${bytesHex(c.data.subarray(0, 0x100))}` : '';
  return `${regs} rflags=0x${hex(c.rflags)}${xmm}${data}`;
}

export interface RunOptions {
  casesPerForm: number;
  seed: number;
}

/** Runs forms on both sides and returns one outcome per form. */
export function runDifferential(forms: readonly Form[], factory: CpuFactory, opts: RunOptions): FormOutcome[] {
  const codes64 = assembleSnippets(forms.map((f) => (f.bits === 32 ? 'nop' : f.asm)));
  const codes32 = forms.some((f) => f.bits === 32) ? assembleSnippets(forms.map((f) => (f.bits === 32 ? f.asm : 'nop')), 32) : [];
  const batches = forms.map((f, i) => ({
    code: f.bits === 32 ? codes32[i] : codes64[i],
    bits: f.bits ?? 64,
    cases: makeCases(f, Math.max(16, Math.round(opts.casesPerForm * (f.weight ?? 1))), opts.seed),
  }));
  const native = runNative(batches);
  const machine = new SnippetMachine(factory);
  return forms.map((form, i) => {
    machine.loadSnippet(batches[i].code, !!form.sse, form.bits ?? 64);
    const outcome: FormOutcome = { form, cases: batches[i].cases.length, failures: 0 };
    batches[i].cases.forEach((input, k) => {
      let got: CaseOutput;
      try {
        got = machine.runCase(input);
      } catch (e) {
        got = { kind: 'stopped', why: `threw ${(e as Error).message}` };
      }
      const diff = compare(form, input, native[i][k], got);
      if (diff) {
        outcome.failures++;
        outcome.example ??= `${diff}\n      input: ${describeInput(input, form)}`;
      }
    });
    return outcome;
  });
}

/**
 * The compact report: one line per failing form with one example; `maxExampleChars`
 * shortens the example (the full input goes to the report file).
 */
export function formatFailures(outcomes: readonly FormOutcome[], maxExampleChars = Infinity): string {
  return outcomes
    .filter((o) => o.failures > 0)
    .map((o) => {
      const ex = o.example ?? '';
      const shown = ex.length > maxExampleChars ? `${ex.slice(0, maxExampleChars)}...` : ex;
      return `  ${o.form.name}  [${o.form.asm}]  ${o.failures}/${o.cases} failed\n    e.g. ${shown}`;
    })
    .join('\n');
}
