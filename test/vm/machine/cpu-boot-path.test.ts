// Instructions on the Linux boot path that the platform depends on, run on the software
// CPU from the exact entry state src/vm/boot hands it. Each case is the first place a
// Debian kernel stopped on this machine; they reproduce CPU bugs for the CPU's owner.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/vm/bus.js';
import { ManualClock } from '../../../src/vm/clock.js';
import { Cpu } from '../../../src/vm/cpu/index.js';
import { BufferGuestMemory } from '../../../src/vm/memory.js';
import { setupLongModeEntry, setupProtectedModeEntry } from '../../../src/vm/boot/entry-state.js';

function boot(mode: 64 | 32, code: number[]) {
  const mem = BufferGuestMemory.allocate(64 << 20);
  const regs = mode === 64 ? setupLongModeEntry(mem, 0x100000, 0x7000) : setupProtectedModeEntry(mem, 0x100000, 0x7000);
  const cpu = new Cpu({ mem, bus: new IoBus(), clock: new ManualClock() });
  cpu.setRegisters(regs);
  mem.slice(0x100000, code.length).set(code);
  return { mem, cpu };
}

describe('software CPU on the Linux boot path', () => {
  it('startup_64 (arch/x86/boot/compressed/head_64.S): LGDT (%rax) in 64-bit mode loads limit and base', () => {
    // lea 0xf9(%rip),%rax ; lgdt (%rax) ; hlt   -- descriptor at 0x100100
    const { mem, cpu } = boot(64, [0x48, 0x8d, 0x05, 0xf9, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x10, 0xf4]);
    mem.write16(0x100100, 0x2f);
    mem.write64(0x100102, 0xe81010n);
    expect(cpu.run(100).kind).toBe('hlt');
    expect(cpu.getRegisters().gdt).toEqual({ base: 0xe81010n, limit: 0x2f });
  });

  it('startup_32 (head_32.S): LGDT in 32-bit flat protected mode loads limit and base', () => {
    // mov $0x100100,%eax ; lgdtl (%eax) ; hlt
    const { mem, cpu } = boot(32, [0xb8, 0x00, 0x01, 0x10, 0x00, 0x0f, 0x01, 0x10, 0xf4]);
    mem.write16(0x100100, 0x1f);
    mem.write32(0x100102, 0x00123450);
    expect(cpu.run(100).kind).toBe('hlt');
    expect(cpu.getRegisters().gdt).toEqual({ base: 0x123450n, limit: 0x1f });
  });

  it('secondary_startup_64 (arch/x86/kernel/head_64.S): MOV r64, m64 from an upper-half address reads all 8 bytes', () => {
    // Debian 6.1 cloud kernel, rip 0xffffffff810000f9: 48 8b 25 28 9c bf 01 (mov initial_stack(%rip),%rsp)
    // loaded 0 although memory held 0xffffffff82a03f58; the next push then triple-faulted.
    // Cause: on a TLB miss Mmu.translate() forms the page offset from `lin + 2 ** 64`, which a
    // double cannot hold exactly (its ulp there is 2048), so the offset is rounded.
    // Here: the kernel's 2 MiB alias of low memory at 0xffffffff80000000 (PML4[511] -> PDPT[510]).
    for (const offset of [0x101000, 0x101001, 0x101004, 0x101008]) {
      const mem = BufferGuestMemory.allocate(64 << 20);
      const regs = setupLongModeEntry(mem, 0x100000, 0x7000);
      mem.write64(0x9000 + 511 * 8, 0xf000n | 3n);
      mem.write64(0xf000 + 510 * 8, 0xb000n | 3n);
      const cpu = new Cpu({ mem, bus: new IoBus(), clock: new ManualClock() });
      cpu.setRegisters(regs);
      const a = 0xffffffff80000000n + BigInt(offset);
      const imm = Array.from({ length: 8 }, (_, i) => Number((a >> BigInt(8 * i)) & 0xffn));
      // movabs $a,%rbx ; mov (%rbx),%rax ; hlt
      mem.slice(0x100000, 14).set([0x48, 0xbb, ...imm, 0x48, 0x8b, 0x03, 0xf4]);
      mem.write64(offset, 0xffffffff82a03f58n);
      expect(cpu.run(100).kind).toBe('hlt');
      expect(cpu.getRegisters().rax.toString(16), `offset 0x${offset.toString(16)}`).toBe('ffffffff82a03f58');
    }
  });
});
