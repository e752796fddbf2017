import { describe, expect, it } from 'vitest';
import { assemble, enterLongMode, makeHarness, runToHlt } from './harness.js';

describe('64-bit long mode basics', () => {
  it('runs a loop that writes to the serial port and halts', () => {
    const h = makeHarness();
    enterLongMode(h, assemble(`
      mov ecx, 5
      mov dx, 0x3f8
      mov al, 'a'
    1: out dx, al
      inc al
      dec ecx
      jnz 1b
      hlt
    `));
    const exit = runToHlt(h);
    expect(exit).toEqual({ kind: 'hlt' });
    expect(h.serial.text()).toBe('abcde');
  });

  it('does 64-bit arithmetic, calls, pushes and memory', () => {
    const h = makeHarness();
    enterLongMode(h, assemble(`
      mov rax, 0x123456789abcdef0
      mov rbx, 0x0fedcba987654321
      add rax, rbx
      mov [rip + data], rax
      call f
      mov rcx, [rip + data]
      hlt
    f: push rbx
      pop rdx
      ret
    data: .quad 0
    `));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    const r = h.cpu.getRegisters();
    expect(r.rax).toBe(0x123456789abcdef0n + 0x0fedcba987654321n);
    expect(r.rcx).toBe(r.rax);
    expect(r.rdx).toBe(0x0fedcba987654321n);
  });
});
