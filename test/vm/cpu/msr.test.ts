// The time-stamp counter MSRs of the software CPU: the TSC follows the machine clock at
// TSC_HZ, IA32_TSC_ADJUST is the offset a WRMSR to either register moves (SDM Vol. 3B
// §18.17.3), and CPUID advertises TSC_ADJUST next to the invariant TSC.
import { describe, expect, it } from 'vitest';
import { ManualClock, TSC_HZ } from '../../../src/vm/clock.js';
import { cpuid, Cpu } from '../../../src/vm/cpu/index.js';
import { MSR_IA32_TSC, MSR_IA32_TSC_ADJUST } from '../../../src/vm/cpu/msr.js';
import { IoBus } from '../../../src/vm/bus.js';
import { BufferGuestMemory } from '../../../src/vm/memory.js';

function machine() {
  const clock = new ManualClock();
  const mem = new BufferGuestMemory([{ gpa: 0, bytes: new Uint8Array(0x10000) }]);
  const bus = new IoBus();
  const cpus = [0, 1].map((index) => new Cpu({ index, mem, bus, clock }));
  return { clock, cpus };
}

describe('TSC and IA32_TSC_ADJUST', () => {
  it('counts TSC_HZ per second of the machine clock, starting at zero with TSC_ADJUST zero', () => {
    const { clock, cpus: [cpu] } = machine();
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(0n);
    expect(cpu.getMsr(MSR_IA32_TSC_ADJUST)).toBe(0n);
    clock.advance(1.5e9);
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(BigInt(TSC_HZ * 1.5));
  });

  it('moves TSC_ADJUST by what a TSC write moved the TSC, and the TSC by a TSC_ADJUST write', () => {
    const { clock, cpus: [cpu, other] } = machine();
    clock.advance(1e9);
    cpu.setMsr(MSR_IA32_TSC, 5n);
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(5n);
    // Negative adjust reads back as its 64-bit two's complement.
    expect(cpu.getMsr(MSR_IA32_TSC_ADJUST)).toBe(BigInt.asUintN(64, 5n - BigInt(TSC_HZ)));
    clock.advance(1e9);
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(5n + BigInt(TSC_HZ));
    cpu.setMsr(MSR_IA32_TSC_ADJUST, 0n);
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(2n * BigInt(TSC_HZ));
    cpu.setMsr(MSR_IA32_TSC_ADJUST, 1000n);
    expect(cpu.getMsr(MSR_IA32_TSC)).toBe(2n * BigInt(TSC_HZ) + 1000n);
    // Per vCPU: the other vCPU's TSC still reads the clock.
    expect(other.getMsr(MSR_IA32_TSC)).toBe(2n * BigInt(TSC_HZ));
    expect(other.getMsr(MSR_IA32_TSC_ADJUST)).toBe(0n);
  });

  it('advertises TSC_ADJUST (CPUID.7.0:EBX[1]) with the invariant TSC (CPUID.80000007H:EDX[8])', () => {
    expect((cpuid(7, 0, 0)[1] >>> 1) & 1).toBe(1);
    expect((cpuid(0x8000_0007, 0, 0)[3] >>> 8) & 1).toBe(1);
  });
});
