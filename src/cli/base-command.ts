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
    // oclif's flag-parsing errors are the user's too: keep only their first line.
    const message = describeError(err).split('\n')[0];
    process.stderr.write(`ERROR ${message}\n`);
    if (this.debugEnabled && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof TsvirtError ? err.exitCode : 1;
  }
}
