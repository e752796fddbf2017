// Time for the user-mode network's protocol timers (TCP retransmission, UDP flow expiry,
// TIME-WAIT): host time by default, or a manually advanced clock so tests fire timers
// deterministically. Not the guest's VirtualClock: these timers pace host sockets.

export interface NetTimer {
  cancel(): void;
}

export interface NetTimers {
  nowMs(): number;
  schedule(delayMs: number, fire: () => void): NetTimer;
}

/** Host timers; unref'd so a forgotten timer never keeps the process alive. */
export const hostTimers: NetTimers = {
  nowMs: () => performance.now(),
  schedule(delayMs, fire) {
    const handle = setTimeout(fire, delayMs);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface PendingTimer {
  dueMs: number;
  order: number;
  fire: () => void;
  cancelled: boolean;
}

/** Timers that fire only when `advance(ms)` moves the clock past them, in due order. */
export class ManualTimers implements NetTimers {
  private now = 0;
  private order = 0;
  private pending: PendingTimer[] = [];

  nowMs(): number {
    return this.now;
  }

  schedule(delayMs: number, fire: () => void): NetTimer {
    const t: PendingTimer = { dueMs: this.now + Math.max(0, delayMs), order: this.order++, fire, cancelled: false };
    this.pending.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }

  /** Moves time forward, firing each timer that falls due (timers they schedule included). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('time does not go backwards');
    const target = this.now + ms;
    for (;;) {
      this.pending = this.pending.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.pending) {
        if (t.dueMs <= target && (!next || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.order < next.order))) next = t;
      }
      if (!next) break;
      this.now = Math.max(this.now, next.dueMs);
      next.cancelled = true;
      next.fire();
    }
    this.now = target;
  }

  /** Timers still waiting (for tests that check nothing is left behind). */
  get pendingCount(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }
}
