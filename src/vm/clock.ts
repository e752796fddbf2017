// One virtual clock for every timer (PIT, LAPIC timer, RTC, ACPI PM timer) and the TSC
// (ARCHITECTURE.md "Time"). Real mode follows host monotonic time; deterministic mode
// follows a counter the CPU advances (instructions retired), for reproducible tests.

export interface VirtualClock {
  /** Nanoseconds since the machine started. Never goes backwards. */
  nowNs(): number;
}

export class HostClock implements VirtualClock {
  private readonly start = process.hrtime.bigint();
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.start);
  }
}

/** Advanced explicitly: `advance(ns)`. Used by tests and instruction-count timing. */
export class ManualClock implements VirtualClock {
  private ns = 0;
  nowNs(): number {
    return this.ns;
  }
  advance(ns: number): void {
    if (ns < 0) throw new RangeError('time does not go backwards');
    this.ns += ns;
  }
}

/** TSC frequency reported through CPUID (leaf 0x15 and the hypervisor leaf). */
export const TSC_HZ = 2_000_000_000;
