// The decoder against encodings produced by GNU as: lengths, operand sizes, ModRM/SIB
// fields and immediates for prefix and REX combinations (SDM Vol. 2 Chapter 2).
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/vm/cpu/decoder.js';
import { OPCODES } from '../../../src/vm/cpu/index.js';
import { assemble, CODE_BASE, enterLongMode, makeHarness } from './harness.js';

function decodeOne(source: string, bits: 16 | 32 | 64 = 64) {
  const h = makeHarness(16 << 20);
  const bytes = assemble(source, bits === 16 ? 16 : bits === 32 ? 32 : 64, CODE_BASE);
  enterLongMode(h, bytes);
  return { insn: decode(h.cpu, CODE_BASE, bits), length: bytes.length };
}

describe('decoder', () => {
  const cases: Array<[string, number, Partial<{ osize: number; asize: number; reg: number; rm: number; base: number; index: number; scale: number; disp: number; imm: number }>]> = [
    ['add rax, rbx', 64, { osize: 8, rm: 0, reg: 3 }],
    ['mov r12d, dword ptr [r13 + r14*4 + 0x12345678]', 64, { osize: 4, reg: 12, rm: -1, base: 13, index: 14, scale: 2, disp: 0x12345678 }],
    ['mov ax, word ptr [rsp + 8]', 64, { osize: 2, base: 4, disp: 8 }],
    ['lea eax, [ebx + ecx]', 64, { osize: 4, asize: 4, base: 3, index: 1 }],
    ['add rsp, -8', 64, { osize: 8, imm: -8 }],
    ['mov sil, 7', 64, { osize: 1, reg: 6, imm: 7 }],
    ['mov ah, 7', 64, { osize: 1, reg: 16 }],
    ['push r15', 64, { osize: 8, reg: 15 }],
    ['movabs rax, 0x1122334455667788', 64, { osize: 8, imm: 0x55667788 }],
    ['mov eax, [rip + 0x100]', 64, { base: 16, disp: 0x100 }],
    ['movdqu xmm9, xmmword ptr [rax]', 64, { reg: 9, rm: -1, base: 0 }],
    ['mov eax, dword ptr [bx + si + 4]', 16, { osize: 4, asize: 2, base: 3, index: 6, disp: 4 }],
  ];
  for (const [src, bits, want] of cases) {
    it(`decodes ${src} (${bits}-bit)`, () => {
      const { insn, length } = decodeOne(src, bits as 16 | 64);
      expect(insn.len).toBe(length);
      expect(insn).toMatchObject(want);
    });
  }

  it('has one table entry per opcode and prefix, each with an SDM mnemonic', () => {
    const seen = new Set<string>();
    for (const s of OPCODES) {
      const key = `${s.opcode.toString(16)}/${s.prefix ?? 0}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
      expect(s.mnemonic).toMatch(/^[a-z0-9 ]+$/);
    }
  });
});

describe('self-modifying code', () => {
  it('executes an instruction rewritten by a store in the same page', () => {
    const h = makeHarness();
    enterLongMode(h, assemble(`
      mov ecx, 2
    1: mov byte ptr [rip + patch + 1], 42
    patch: mov al, 1
      dec ecx
      jnz 1b
      hlt
    `));
    expect(h.cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(h.cpu.getRegisters().rax & 0xffn).toBe(42n);
  });
});
