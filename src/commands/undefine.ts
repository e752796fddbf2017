// `tsvirt undefine NAME [--remove-all-storage]` (virsh undefine).
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { lifecyclePaths, undefineDomain } from '../lifecycle/index.js';

export default class Undefine extends BaseCommand {
  static override summary = 'Remove a domain definition (a running domain runs on as a transient one).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };
  static override flags = { 'remove-all-storage': Flags.boolean({ default: false, description: "also delete the domain's writable disk images" }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Undefine);
    const r = undefineDomain(lifecyclePaths(), args.name, { removeAllStorage: flags['remove-all-storage'] });
    for (const p of r.removed) this.log(`Volume '${p}' removed.`);
    for (const p of r.kept) this.log(`Volume '${p}' kept (read-only or shared).`);
    this.log(`Domain '${args.name}' has been undefined`);
    if (r.stillRunning) this.log(`Domain '${args.name}' is still running as a transient domain`);
  }
}
