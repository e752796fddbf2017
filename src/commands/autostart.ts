// `tsvirt autostart NAME [--disable]` (virsh autostart): recorded for `tsvirt start --autostart-all`.
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { lifecyclePaths, setDomainAutostart } from '../lifecycle/index.js';

export default class Autostart extends BaseCommand {
  static override summary = 'Mark a domain to be started by `tsvirt start --autostart-all` (at boot).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };
  static override flags = { disable: Flags.boolean({ default: false, description: 'unmark it' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Autostart);
    setDomainAutostart(lifecyclePaths(), args.name, !flags.disable);
    this.log(flags.disable ? `Domain '${args.name}' unmarked as autostarted` : `Domain '${args.name}' marked as autostarted`);
  }
}
