// Debug counters for the host side of guest networking. Guest input that is dropped (STYLE.md
// §11, "the guest's" failures) is counted by reason and, when a debug sink is given, logged;
// it never throws into the VMM.

export type NetDebugLog = (message: string) => void;

export class NetCounters {
  private readonly counts = new Map<string, number>();

  constructor(private readonly prefix: string, private readonly log?: NetDebugLog) {}

  /** Counts one event; `detail` only goes to the debug log. */
  count(reason: string, detail?: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (this.log) this.log(detail === undefined ? `${this.prefix}: ${reason}` : `${this.prefix}: ${reason}: ${detail}`);
  }

  get(reason: string): number {
    return this.counts.get(reason) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
