// How a long-running command (an install, the demo) is interrupted: SIGINT (Ctrl-C),
// SIGTERM and SIGHUP (the terminal closed) all abort the work once, and the work's own
// cleanup (the disk it created, its temporary directory, the guest) then runs to the end:
// further signals while it does are absorbed instead of killing the process half way
// (a second Ctrl-C 5 ms after the first used to leave the disk behind). With the
// terminal gone, writes to stdout/stderr fail with EIO or EPIPE; those errors are
// absorbed too, so they cannot end the process before the cleanup has run.
//
// An error nothing catches (thrown from an event handler or a timer, a promise rejected
// with no handler) would otherwise end Node at once with a stack trace, skipping every
// cleanup: it aborts the work the same way, with the error as the reason, so the command
// ends with one ERROR line after the cleanup.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type InterruptSignal = (typeof SIGNALS)[number];

/** Aborts `controller` on the first signal; returns the function that removes the handlers. */
export function abortOnInterrupt(controller: AbortController): () => void {
  const onSignal = (sig: InterruptSignal): void => {
    if (!controller.signal.aborted) controller.abort(new InterruptedError(`interrupted by ${sig}`));
  };
  const onUncaught = (err: unknown): void => {
    // Later ones (often the same fault seen again while unwinding) are absorbed: the
    // cleanup already under way is what matters.
    if (!controller.signal.aborted) controller.abort(new UncaughtError(err));
  };
  const onStreamError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EIO' && err.code !== 'EPIPE') throw err;
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  return () => {
    for (const sig of SIGNALS) process.off(sig, onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    process.stdout.off('error', onStreamError);
    process.stderr.off('error', onStreamError);
  };
}

/** The abort reason when a signal ended the work. */
export class InterruptedError extends Error {}

/** The abort reason when an error nobody caught ended the work; keeps that error as its cause. */
export class UncaughtError extends Error {
  constructor(readonly original: unknown) {
    super(`internal error: ${original instanceof Error ? original.message : String(original)}`, { cause: original });
  }
}

/** What to tell the user about an aborted signal: "interrupted", or the error that ended it. */
export function abortReasonText(signal: AbortSignal): string {
  return signal.reason instanceof UncaughtError ? `stopped by an ${signal.reason.message}` : 'interrupted';
}
