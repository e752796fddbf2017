import { describe, expect, it } from 'vitest';
import { assemble, enterLongMode, makeHarness, runToHlt } from './harness.js';

describe('SSE2 on the software CPU', () => {
  it('moves 128 bits through xmm registers and memory', () => {
    const h = makeHarness();
    enterLongMode(h, assemble(`
      movdqu xmm0, [rip + src]
      pxor xmm1, xmm1
      paddq xmm1, xmm0
      movdqu [rip + dst], xmm1
      mov rax, [rip + dst]
      mov rbx, [rip + dst + 8]
      hlt
    src: .quad 0x1122334455667788, 0x99aabbccddeeff00
    dst: .quad 0, 0
    `));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    const r = h.cpu.getRegisters();
    expect(r.rax.toString(16)).toBe('1122334455667788');
    expect(r.rbx.toString(16)).toBe('99aabbccddeeff00');
  });
});
