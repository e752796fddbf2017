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
});
