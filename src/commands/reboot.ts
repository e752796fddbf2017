// `tsvirt reboot NAME` (virsh reboot): power button, then the runner boots the guest again.
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { lifecyclePaths, rebootDomain } from '../lifecycle/index.js';

export default class Reboot extends BaseCommand {
  static override summary = 'Reboot a domain (ACPI power button, then boot it again in the same runner).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Reboot);
    await rebootDomain(lifecyclePaths(), args.name);
    this.log(`Domain '${args.name}' is being rebooted`);
  }
}
