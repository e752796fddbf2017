// `tsvirt start NAME [--console]` and `tsvirt start --autostart-all` (virsh start; the
// latter for a boot-time systemd unit).
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { TsvirtError, describeError } from '../lib/errors.js';
import { lifecyclePaths, startAutostartDomains, startDomain } from '../lifecycle/index.js';
import { attach } from './console.js';

export default class Start extends BaseCommand {
  static override summary = 'Start a defined domain in a detached runner.';
  static override args = { name: Args.string({ required: false, description: 'domain name' }) };
  static override flags = {
    console: Flags.boolean({ default: false, description: 'attach to the serial console once started' }),
    'autostart-all': Flags.boolean({ default: false, description: 'start every domain marked with `tsvirt autostart`', exclusive: ['console'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Start);
    const paths = lifecyclePaths();
    if (paths.note) this.warn(paths.note);
    if (flags['autostart-all']) {
      if (args.name) throw new TsvirtError('give either a domain name or --autostart-all', 'not both');
      const results = await startAutostartDomains(paths);
      let failed = 0;
      for (const r of results) {
        if (r.alreadyRunning) this.log(`Domain '${r.name}' is already running`);
        else if (r.error === undefined) this.log(`Domain '${r.name}' started`);
        else {
          failed++;
          process.stderr.write(`ERROR domain '${r.name}': ${describeError(r.error)}\n`);
        }
      }
      if (failed) throw new TsvirtError(`${failed} of ${results.length} autostart domain(s) failed to start`);
      return;
    }
    if (!args.name) throw new TsvirtError('no domain name given', 'tsvirt start NAME, or tsvirt start --autostart-all');
    await startDomain(paths, args.name);
    this.log(`Domain '${args.name}' started`);
    if (flags.console) await attach(args.name);
  }
}
