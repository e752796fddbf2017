// The reference side on its own: the native runner must be right before the software
// CPU is judged against it. Known answers from the SDM (ADD flags, DIV by zero -> #DE,
// RIP-relative LEA at CODE_VA, string ops moving data), determinism over a batch, and
// that every form of the table assembles. The 32-bit known answer skips, with the reason
// printed, on a host that gives user space no 32-bit code segment (compat32Support()).

import { describe, expect, it } from 'vitest';
import { CODE_VA, DATA_BYTES, DATA_VA, DEFAULT_RSP, type CaseInput } from '../support/snippet-machine.js';
import { assembleSnippets } from '../support/toolchain.js';
import { CF, OF, PF, SF, ZF, AF } from './cases.js';
import { makeCases, probeCompat32, runNative, skipUnlessCompat32 } from './differential.js';
import { FORMS } from './forms.js';

function input(regs: Partial<Record<number, bigint>>, rflags = 2n, data?: Uint8Array): CaseInput {
  const gpr = Array.from({ length: 16 }, (_, i) => regs[i] ?? 0n);
  gpr[4] = regs[4] ?? BigInt(DEFAULT_RSP);
  return { gpr, rflags, xmm: new Array(8).fill(0n), data };
}

function runOne(asm: string, c: CaseInput) {
  const [code] = assembleSnippets([asm]);
  return runNative([{ code, cases: [c] }])[0][0];
}

describe('native differential runner', () => {
  it('assembles every form of the table', () => {
    for (const bits of [32, 64] as const) {
      const forms = FORMS.filter((f) => (f.bits ?? 64) === bits);
      const codes = assembleSnippets(forms.map((f) => f.asm), bits);
      expect(codes).toHaveLength(forms.length);
      for (const [i, c] of codes.entries()) expect(c.length, forms[i].name).toBeGreaterThan(0);
    }
    expect(new Set(FORMS.map((f) => f.name)).size).toBe(FORMS.length);
  });

  it('runs ADD and reports the flags the SDM defines', () => {
    const out = runOne('add eax, ebx', input({ 0: 0xffff_ffffn, 3: 1n, 8: 0x1234n }));
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.gpr[0]).toBe(0n);
    expect(out.gpr[8]).toBe(0x1234n);
    expect(Number(out.rflags) & (CF | PF | AF | ZF | SF | OF)).toBe(CF | PF | AF | ZF);
  });

  it('loads and stores every GPR and the input flags unchanged around a NOP', () => {
    const c = input(Object.fromEntries(Array.from({ length: 16 }, (_, i) => [i, BigInt.asUintN(64, 0x1111_1111_1111_1111n * BigInt(i + 1))])), 0x8d7n);
    c.gpr[4] = BigInt(DEFAULT_RSP);
    const out = runOne('nop', c);
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.gpr).toEqual(c.gpr);
    expect(Number(out.rflags) & 0xdd7).toBe(0x8d7); // IF is set in user mode; only inputs compared
  });

  it('reports #DE with the faulting RIP for DIV by zero and for quotient overflow', () => {
    const zero = runOne('div rcx', input({ 0: 5n, 1: 0n }));
    expect(zero).toMatchObject({ kind: 'exception', vector: 0, rip: BigInt(CODE_VA) });
    const overflow = runOne('nop; div cl', input({ 0: 0x1000n, 1: 2n }));
    expect(overflow).toMatchObject({ kind: 'exception', vector: 0, rip: BigInt(CODE_VA + 1) });
  });

  it('runs 32-bit snippets in compatibility mode (0x48 is DEC EAX there, not REX.W)', (ctx) => {
    skipUnlessCompat32(ctx);
    const [code] = assembleSnippets(['.byte 0x48; nop'], 32);
    const out = runNative([{ code, cases: [input({ 0: 0x1_0000_0000n })], bits: 32 }])[0][0];
    expect(out.kind === 'ok' && out.gpr[0] & 0xffff_ffffn).toBe(0xffff_ffffn);
  });

  it('the 32-bit probe fails, naming the fault, when the selector is not a 32-bit code segment', () => {
    // __USER_DS (0x2b) is a data segment: a far jump to it is #GP on every x86-64 Linux host.
    expect(probeCompat32('2b')).toBe('#GP (vector 13) on the far jump to selector 0x2b, at rip 0x20001900');
  });

  it('runs the snippet at CODE_VA, so RIP-relative addresses match the guest side', () => {
    const out = runOne('lea rax, [rip+0x10]', input({}));
    expect(out.kind === 'ok' && out.gpr[0]).toBe(BigInt(CODE_VA + 7 + 0x10));
  });

  it('moves the data buffer at DATA_VA (REP MOVSB)', () => {
    const data = new Uint8Array(DATA_BYTES).map((_, i) => i);
    const out = runOne('rep movsb', input({ 1: 4n, 6: BigInt(DATA_VA), 7: BigInt(DATA_VA + 0x80) }, 2n, data));
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect([...out.data!.subarray(0x80, 0x86)]).toEqual([0, 1, 2, 3, 0x84, 0x85]);
    expect(out.gpr[1]).toBe(0n);
  });

  it('gives the same answers for the same inputs (batch of mixed forms)', () => {
    const forms = FORMS.filter((f, i) => i % 40 === 0 && f.bits !== 32);
    const codes = assembleSnippets(forms.map((f) => f.asm));
    const batches = forms.map((f, i) => ({ code: codes[i], cases: makeCases(f, 20, 7) }));
    expect(runNative(batches)).toEqual(runNative(batches));
  });
});
