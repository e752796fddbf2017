// The one place that turns a thrown error into `ERROR <message>` and an exit code
// (STYLE.md §11). Every tsvirt command extends this; nothing below src/commands prints
// errors or exits.
import { Command, Flags } from '@oclif/core';
import { TsvirtError, describeError } from '../lib/errors.js';

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    debug: Flags.boolean({ description: 'Print stack traces and debug logging.', default: false }),
  };

  protected get debugEnabled(): boolean {
    return this.argv.includes('--debug') || process.env.TSVIRT_DEBUG === '1';
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    // oclif's own exit signal (this.exit()) is not an error.
    if (err.oclif?.exit !== undefined && err.name === 'ExitError') throw err;
    // One ERROR line; a TsvirtError may carry context after it (a crashed guest's last
    // console lines). oclif's own parse errors are cut to their first line.
    const [first, ...rest] = describeError(err).split('\n');
    process.stderr.write(`ERROR ${first}\n`);
    if (err instanceof TsvirtError && rest.length) process.stderr.write(`${rest.join('\n')}\n`);
    if (this.debugEnabled && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof TsvirtError ? err.exitCode : 1;
  }
}
