// The differential test between accelerators (issue 9): the same guest programs on KVM
// (in-kernel irqchip) and on tsvirt's software CPU (with tsvirt's own LAPIC, IOAPIC and
// i8259s at the same addresses) must print the same console output and status.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/vm/clock.js';
import { Cpu } from '../../../src/vm/cpu/index.js';
import { ApicBus } from '../../../src/vm/devices/apic-bus.js';
import { I8259Pair } from '../../../src/vm/devices/i8259-pic.js';
import { Ioapic } from '../../../src/vm/devices/ioapic.js';
import { Lapic } from '../../../src/vm/devices/lapic.js';
import { BufferGuestMemory } from '../../../src/vm/memory.js';
import { IRQ_GSI, longModeProgram, prepare, protectedModeProgram, realModeProgram } from './support/guest-programs.js';
import { programBus, runOnKvm, runProgram, type ProgramRun } from './support/harness.js';

const MEMORY = 32 << 20;


function onSoftwareCpu(mode: 16 | 32 | 64, program: Uint8Array): ProgramRun {
  const mem = BufferGuestMemory.allocate(MEMORY);
  const clock = new ManualClock();
  const apicBus = new ApicBus();
  const pic = new I8259Pair();
  const ioapic = new Ioapic(apicBus);
  const lapic = new Lapic(0, { apicBus, clock, pic, onLevelEoi: (v) => ioapic.eoi(v) });
  apicBus.attach(lapic);
  let cpu: Cpu | undefined;
  const irq = { raise: () => ioapic.setIrq(IRQ_GSI, true), lower: () => ioapic.setIrq(IRQ_GSI, false) };
  const { bus, result } = programBus(() => cpu!, irq);
  bus.registerPio(0x20, 2, pic.masterPorts, 'pic-master');
  bus.registerPio(0xa0, 2, pic.slavePorts, 'pic-slave');
  bus.registerMmio(0xfee0_0000, 0x1000, lapic, 'lapic');
  bus.registerMmio(0xfec0_0000, 0x1000, ioapic, 'ioapic');
  cpu = new Cpu({ mem, bus, clock, interrupts: lapic });
  cpu.setRegisters(prepare(mem, mode, program));
  return runProgram(cpu, result);
}

describe.runIf(existsSync('/dev/kvm'))('KVM and the software CPU run the same programs identically', () => {
  it.each([
    ['real mode', 16, realModeProgram],
    ['32-bit protected mode', 32, protectedModeProgram],
    ['64-bit long mode with an IOAPIC interrupt and MMIO', 64, longModeProgram],
  ] as const)('%s', (_name, mode, build) => {
    const program = build();
    const kvm = runOnKvm(mode, program, MEMORY);
    const ts = onSoftwareCpu(mode, program);
    expect(kvm.status).toBe(0);
    expect(kvm.console.length).toBeGreaterThan(10);
    expect({ console: ts.console, status: ts.status, exits: ts.exits }).toEqual({ console: kvm.console, status: kvm.status, exits: kvm.exits });
  });
});
