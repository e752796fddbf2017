// Paging on the software CPU from 32-bit protected mode: 2-level paging with 4 MiB pages
// (PSE), PAE with NX, accessed/dirty bits, and a #PF through a 32-bit interrupt gate
// with CR2 and the error code (SDM Vol. 3A §4.3, §4.4, §4.7, §6.12).
import { describe, expect, it } from 'vitest';
import { assemble, enterProtectedMode, makeHarness, runToHlt } from './harness.js';

const PF_HANDLER_32 = `
    pf:
      mov eax, cr2
      mov [0x7000], eax
      pop eax
      mov [0x7004], eax
      mov eax, [0x7008]
      or dword ptr [eax], 1
      invlpg [0xc0001000]
      iretd
    idt_setup:
      lea eax, [pf]
      mov word ptr [0x6000 + 14 * 8], ax
      mov word ptr [0x6000 + 14 * 8 + 2], 0x18
      mov word ptr [0x6000 + 14 * 8 + 4], 0x8e00
      shr eax, 16
      mov word ptr [0x6000 + 14 * 8 + 6], ax
      lidt [idtr]
      ret
    idtr: .word 256 * 8 - 1
      .long 0x6000
`;

describe('paging from 32-bit protected mode', () => {
  it('walks 2-level tables with 4 MiB pages, sets A/D bits and faults on a not-present page', () => {
    const h = makeHarness();
    enterProtectedMode(h, assemble(`
      call idt_setup
      mov dword ptr [0x1000], 0x83
      mov dword ptr [0x1004], 0x400083
      mov dword ptr [0x1000 + 0x300 * 4], 0x2003
      mov dword ptr [0x2000], 0x200003
      mov dword ptr [0x2004], 0x201002
      mov dword ptr [0x7008], 0x2004
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x1000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80010000
      mov cr0, eax
      mov dword ptr [0xc0000004], 0x12345678
      mov ebx, [0x200004]
      mov ecx, [0x2000]
      mov dword ptr [0xc0001008], 0xabcdef
      mov edx, [0x201008]
      hlt
    ${PF_HANDLER_32}
    `, 32, 0x100000));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    const r = h.cpu.getRegisters();
    expect(r.rbx).toBe(0x12345678n);
    expect(r.rcx & 0x60n).toBe(0x60n); // accessed and dirty
    expect(r.rdx).toBe(0xabcdefn);
    expect(h.mem.read32(0x7000)).toBe(0xc0001008); // CR2
    expect(h.mem.read32(0x7004)).toBe(2); // not present, write, supervisor
  });

  it('walks PAE tables and raises #PF with I/D for a fetch from an NX page', () => {
    const h = makeHarness();
    enterProtectedMode(h, assemble(`
      call idt_setup
      mov dword ptr [0x1000], 0x3001
      mov dword ptr [0x3000], 0x83
      mov dword ptr [0x3008], 0x4003
      mov dword ptr [0x4008], 0x500003
      mov dword ptr [0x400c], 0x80000000
      mov byte ptr [0x500000], 0xc3
      mov dword ptr [0x7008], 0x400c
      mov ecx, 0xc0000080
      rdmsr
      or eax, 0x800
      wrmsr
      mov eax, cr4
      or eax, 0x20
      mov cr4, eax
      mov eax, 0x1000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov eax, 0x201000
      mov dword ptr [0x7008], 0x400c
      call eax
      hlt
    pf:
      mov eax, cr2
      mov [0x7000], eax
      pop eax
      mov [0x7004], eax
      and dword ptr [0x400c], 0x7fffffff
      invlpg [0x201000]
      iretd
    idt_setup:
      lea eax, [pf]
      mov word ptr [0x6000 + 14 * 8], ax
      mov word ptr [0x6000 + 14 * 8 + 2], 0x18
      mov word ptr [0x6000 + 14 * 8 + 4], 0x8e00
      shr eax, 16
      mov word ptr [0x6000 + 14 * 8 + 6], ax
      lidt [idtr]
      ret
    idtr: .word 256 * 8 - 1
      .long 0x6000
    `, 32, 0x100000));
    expect(runToHlt(h)).toEqual({ kind: 'hlt' });
    expect(h.mem.read32(0x7000)).toBe(0x201000);
    expect(h.mem.read32(0x7004)).toBe(0x11); // present, instruction fetch
  });
});
