// What the machine asks of a device that keeps time (PIT, LAPIC timer, RTC): when its next
// interrupt is due, and to raise whatever is due by now. The machine sleeps on HLT until
// the earliest deadline instead of busy-spinning (ARCHITECTURE.md "Time").

export interface TimerSource {
  /** Virtual-clock time (ns) of the next event this device will raise; Infinity if none. */
  nextDeadlineNs(): number;
  /** Raises every event due at or before nowNs. */
  poll(nowNs: number): void;
}

/**
 * Whole ticks of a hz-frequency counter after ns nanoseconds, exact for any run length
 * (a plain ns * hz / 1e9 loses integer precision after about an hour at 3.58 MHz).
 */
export function ticksAfterNs(ns: number, hz: number): number {
  const seconds = Math.floor(ns / 1e9);
  return seconds * hz + Math.floor(((ns - seconds * 1e9) * hz) / 1e9);
}

/** The first time (ns) at which ticksAfterNs reaches ticks: the inverse, rounded up. */
export function nsForTicks(ticks: number, hz: number): number {
  const seconds = Math.floor(ticks / hz);
  return seconds * 1e9 + Math.ceil(((ticks - seconds * hz) * 1e9) / hz);
}
