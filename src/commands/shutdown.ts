// `tsvirt shutdown NAME` (virsh shutdown): the ACPI power button; returns at once.
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { lifecyclePaths, shutdownDomain } from '../lifecycle/index.js';

export default class Shutdown extends BaseCommand {
  static override summary = 'Shut a domain down gracefully (ACPI power button).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Shutdown);
    await shutdownDomain(lifecyclePaths(), args.name);
    this.log(`Domain '${args.name}' is being shutdown`);
  }
}
