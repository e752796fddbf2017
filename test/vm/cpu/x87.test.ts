import { describe, expect, it } from 'vitest';
import { assemble, enterLongMode, enterProtectedMode, makeHarness, runToHlt } from './harness.js';

describe('x87 on the software CPU', () => {
  it('passes the kernel FPU probe (FNINIT, FNSTSW, FNSTCW)', () => {
    const h = makeHarness();
    enterLongMode(h, assemble(`
      mov ax, 0x5a5a
      mov [rip + cw], ax
      fninit
      fnstsw ax
      fnstcw [rip + cw]
      movzx ebx, word ptr [rip + cw]
      hlt
    cw: .word 0
    `));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    const r = h.cpu.getRegisters();
    expect(r.rax & 0xffffn).toBe(0n);
    expect(r.rbx).toBe(0x37fn);
  });

  it('loads, computes and stores integers and doubles in 32-bit code', () => {
    const h = makeHarness();
    enterProtectedMode(h, assemble(`
      fninit
      fild dword ptr [a]
      fld qword ptr [b]
      faddp st(1), st
      fmul qword ptr [b]
      fistp dword ptr [out]
      fld1
      fldz
      fcomip st, st(1)
      setb cl
      fstp qword ptr [dbl]
      mov eax, [out]
      hlt
    a: .long 7
    b: .double 2.5
    out: .long 0
    dbl: .double 0
    `, 32, 0x100000));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    const r = h.cpu.getRegisters();
    expect(r.rax).toBe(24n); // (7 + 2.5) * 2.5 = 23.75 -> round to nearest 24
    expect(r.rcx & 0xffn).toBe(1n); // 0 < 1
  });
});
