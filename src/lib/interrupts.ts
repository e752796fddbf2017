// How a long-running command (an install, the demo) is interrupted: SIGINT (Ctrl-C),
// SIGTERM and SIGHUP (the terminal closed) all abort the work once, and the work's own
// cleanup (the disk it created, its temporary directory, the guest) then runs to the end:
// further signals while it does are absorbed instead of killing the process half way
// (a second Ctrl-C 5 ms after the first used to leave the disk behind). With the
// terminal gone, writes to stdout/stderr fail with EIO or EPIPE; those errors are
// absorbed too, so they cannot end the process before the cleanup has run.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type InterruptSignal = (typeof SIGNALS)[number];

/** Aborts `controller` on the first signal; returns the function that removes the handlers. */
export function abortOnInterrupt(controller: AbortController): () => void {
  const onSignal = (sig: InterruptSignal): void => {
    if (!controller.signal.aborted) controller.abort(new Error(`interrupted by ${sig}`));
  };
  const onStreamError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EIO' && err.code !== 'EPIPE') throw err;
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  return () => {
    for (const sig of SIGNALS) process.off(sig, onSignal);
    process.stdout.off('error', onStreamError);
    process.stderr.off('error', onStreamError);
  };
}
