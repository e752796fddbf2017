// The differential harness must be able to fail: a known answer through the snippet
// machine, a deliberately mismatched pair (host runs ADD, software CPU runs SUB) that the
// comparison must flag, and the exception path (#DE with the faulting RIP) on both sides.
// The 32-bit case skips, with the reason printed, on a host without 32-bit user code.

import { describe, expect, it } from 'vitest';
import { loadCpuFactory } from '../support/cpu-factory.js';
import { CODE_VA, DATA_PAGE0_GPA, DATA_PAGE1_GPA, DATA_VA, DEFAULT_RSP, SnippetMachine, type CaseInput } from '../support/snippet-machine.js';
import { assembleSnippets } from '../support/toolchain.js';
import { compare, makeCases, runNative, skipUnlessCompat32 } from './differential.js';
import type { Form } from './forms.js';

function regs(values: Record<number, bigint>): CaseInput {
  const gpr = Array.from({ length: 16 }, (_, i) => values[i] ?? 0n);
  gpr[4] = BigInt(DEFAULT_RSP);
  return { gpr, rflags: 2n, xmm: new Array(8).fill(0n) };
}

describe('differential harness', () => {
  it('runs a snippet on the software CPU and reads the result back', async () => {
    const machine = new SnippetMachine(await loadCpuFactory());
    const [code] = assembleSnippets(['add eax, ebx']);
    machine.loadSnippet(code, false);
    const out = machine.runCase(regs({ 0: 0xffff_ffff_0000_0005n, 3: 7n }));
    expect(out.kind === 'ok' && out.gpr[0]).toBe(12n);
  });

  it('maps the two halves of the data buffer to distant frames (page-crossing accesses translate twice)', async () => {
    const machine = new SnippetMachine(await loadCpuFactory());
    const [code] = assembleSnippets(['mov qword ptr [r15+0x7c], rbx']);
    machine.loadSnippet(code, false);
    const c = regs({ 3: 0x1122_3344_5566_7788n, 15: BigInt(DATA_VA) });
    c.data = new Uint8Array(256);
    const out = machine.runCase(c);
    expect(out.kind).toBe('ok');
    expect(machine.mem.read32(DATA_PAGE0_GPA + 0xffc)).toBe(0x5566_7788);
    expect(machine.mem.read32(DATA_PAGE1_GPA)).toBe(0x1122_3344);
  });

  it('flags a software result that differs from the host', async () => {
    const machine = new SnippetMachine(await loadCpuFactory());
    const [add, sub] = assembleSnippets(['add eax, ebx', 'sub eax, ebx']);
    const form: Form = { name: 'add r32, r32', group: 'test', asm: 'add eax, ebx' };
    const cases = makeCases(form, 50, 3);
    const host = runNative([{ code: add, cases }])[0];
    machine.loadSnippet(sub, false);
    const mismatches = cases.filter((c, i) => compare(form, c, host[i], machine.runCase(c)) !== null);
    expect(mismatches.length).toBeGreaterThan(40);
  });

  it('flags differing XMM results (SSE forms)', async () => {
    const machine = new SnippetMachine(await loadCpuFactory());
    const [addsd, subsd] = assembleSnippets(['addsd xmm0, xmm1', 'subsd xmm0, xmm1']);
    const sse: Form = { name: 'addsd', group: 'test', asm: 'addsd xmm0, xmm1', sse: true };
    const sseCases = makeCases(sse, 50, 4);
    const sseHost = runNative([{ code: addsd, cases: sseCases }])[0];
    machine.loadSnippet(subsd, true);
    expect(sseCases.filter((c, i) => compare(sse, c, sseHost[i], machine.runCase(c)) !== null).length).toBeGreaterThan(20); // NaN, zero and infinite inputs give equal sums and differences
  });

  it('flags differing 32-bit results (compatibility mode)', async (ctx) => {
    skipUnlessCompat32(ctx);
    const machine = new SnippetMachine(await loadCpuFactory());
    const [inc, dec] = assembleSnippets(['inc eax', 'dec eax'], 32);
    const compat: Form = { name: 'inc', group: 'test', asm: 'inc eax', bits: 32 };
    const compatCases = makeCases(compat, 50, 5);
    const compatHost = runNative([{ code: inc, cases: compatCases, bits: 32 }])[0];
    machine.loadSnippet(dec, false, 32);
    expect(compatCases.filter((c, i) => compare(compat, c, compatHost[i], machine.runCase(c)) !== null).length).toBe(50);
  });

  it('reports #DE on both sides with the faulting RIP', async () => {
    const machine = new SnippetMachine(await loadCpuFactory());
    const [code] = assembleSnippets(['nop; div rcx']);
    const c = regs({ 0: 5n, 1: 0n });
    const form: Form = { name: 'div', group: 'test', asm: 'nop; div rcx', undef: 0x8d5 };
    const [host] = runNative([{ code, cases: [c] }])[0];
    machine.loadSnippet(code, false);
    const got = machine.runCase(c);
    expect(host).toMatchObject({ kind: 'exception', vector: 0, rip: BigInt(CODE_VA + 1) });
    expect(compare(form, c, host, got)).toBeNull();
  });
});
