// The user's kind of failure (STYLE.md §11): bad options, images, URLs, kickstarts.
// Library code throws TsvirtError; only the CLI layer prints it, as one `ERROR ...` line.

export class TsvirtError extends Error {
  override readonly name = 'TsvirtError';
  /** What the user can do about it, printed after the message ("; hint"). */
  readonly hint?: string;
  /** Process exit code the CLI uses; 1 unless a command's contract says otherwise. */
  readonly exitCode: number;

  constructor(message: string, hint?: string, opts?: { exitCode?: number; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = hint;
    this.exitCode = opts?.exitCode ?? 1;
  }
}

/** Renders any thrown value as the one-line message the CLI prints (no stack). */
export function describeError(err: unknown): string {
  if (err instanceof TsvirtError) return err.hint ? `${err.message}; ${err.hint}` : err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // Node's system errors already name the path; keep them on one line.
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
