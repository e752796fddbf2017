// How the CPU tests obtain a software CPU: the agreed constructor of src/vm/cpu
// (CpuOptions { mem, bus, clock }), loaded lazily so that the harness code (the
// environment builders, the native runner) can be tested on its own.

import type { IoBus } from '../../../../src/vm/bus.js';
import type { InterruptAcceptor } from '../../../../src/vm/irq.js';
import type { VirtualClock } from '../../../../src/vm/clock.js';
import type { GuestMemory } from '../../../../src/vm/memory.js';
import type { Vcpu } from '../../../../src/vm/vcpu.js';

export interface CpuParts {
  mem: GuestMemory;
  bus: IoBus;
  clock: VirtualClock;
  interrupts?: InterruptAcceptor;
}

/** The subset of the Cpu class the tests use beyond Vcpu. */
export interface TestCpu extends Vcpu {
  reset(): void;
  raiseNmi(): void;
  readonly instructionsRetired: number;
}

export type CpuFactory = (parts: CpuParts) => TestCpu;

export async function loadCpuFactory(): Promise<CpuFactory> {
  const modulePath = '../../../../src/vm/cpu/index.js';
  const mod = (await import(/* @vite-ignore */ modulePath)) as { Cpu: new (opts: CpuParts) => TestCpu };
  return (parts) => new mod.Cpu(parts);
}
