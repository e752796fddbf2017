// Bringing a vCPU thread back from KVM_RUN at a steady rate. With the in-kernel LAPIC a
// halted guest sleeps inside KVM_RUN, and a busy one exits only for its own I/O, so the
// thread that owns the devices (and its event loop: console input, stop, power button,
// the RTC's timers) would otherwise never get to run. A POSIX timer with
// SIGEV_THREAD_ID sends a signal to this thread every period; KVM_RUN then returns EINTR
// (KVM API, "KVM_RUN": "a signal is pending") and the machine loop does its chores.
//
// The signal needs a handler that does nothing: without one its default action would end
// the process, and an ignored signal is never pending, so it would not interrupt KVM_RUN.
// A JavaScript callback cannot run in signal context, so the handler is libc's getpid(),
// an async-signal-safe function whose int argument is ignored. SA_RESTART keeps the
// signal from failing other system calls this thread makes (file reads, futex waits);
// KVM_RUN is not restarted by it because KVM returns -EINTR itself.
import * as libc from './libc.js';

let kickSignal: number | undefined;

/** The real-time signal tsvirt uses to interrupt KVM_RUN; its no-op handler is installed once per process. */
export function vcpuKickSignal(): number {
  if (kickSignal !== undefined) return kickSignal;
  const sig = libc.currentSigrtmin() + 6;
  const handler = libc.dlsym(null, 'getpid');
  if (handler === null) throw new Error('dlsym(getpid) failed');
  // struct sigaction (glibc x86-64): sa_handler @0, sa_mask[128] @8, sa_flags @136, sa_restorer @144
  const act = new Uint8Array(152);
  const dv = new DataView(act.buffer);
  dv.setBigUint64(0, libc.address(handler), true);
  dv.setInt32(136, libc.SA_RESTART, true);
  if (libc.sigaction(sig, act, null) < 0) throw new Error(`sigaction(${sig}): ${libc.describeErrno(libc.errno())}`);
  kickSignal = sig;
  return sig;
}

export class VcpuTicker {
  private timer: bigint | undefined;

  /** Starts ticking the calling thread every periodMs. */
  constructor(periodMs: number) {
    const sig = vcpuKickSignal();
    // struct sigevent: sigev_value @0, sigev_signo @8, sigev_notify @12, _tid @16 (64 bytes)
    const sev = new Uint8Array(64);
    const dv = new DataView(sev.buffer);
    dv.setInt32(8, sig, true);
    dv.setInt32(12, libc.SIGEV_THREAD_ID, true);
    dv.setInt32(16, libc.gettid(), true);
    const id = new BigUint64Array(1);
    if (libc.timerCreate(libc.CLOCK_MONOTONIC, sev, id) < 0) throw new Error(`timer_create: ${libc.describeErrno(libc.errno())}`);
    this.timer = id[0];
    const ns = BigInt(Math.max(1, Math.round(periodMs * 1e6)));
    // struct itimerspec { it_interval, it_value }, each { tv_sec, tv_nsec }
    const spec = new BigInt64Array([ns / 1_000_000_000n, ns % 1_000_000_000n, ns / 1_000_000_000n, ns % 1_000_000_000n]);
    if (libc.timerSettime(this.timer, 0, spec, null) < 0) {
      const code = libc.errno();
      this.stop();
      throw new Error(`timer_settime: ${libc.describeErrno(code)}`);
    }
  }

  stop(): void {
    if (this.timer === undefined) return;
    libc.timerDelete(this.timer);
    this.timer = undefined;
  }
}
