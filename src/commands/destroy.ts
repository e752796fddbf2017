// `tsvirt destroy NAME` (virsh destroy): stop the guest at once, like pulling the plug.
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { destroyDomain, lifecyclePaths } from '../lifecycle/index.js';

export default class Destroy extends BaseCommand {
  static override summary = 'Stop a domain immediately (hard power-off).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Destroy);
    await destroyDomain(lifecyclePaths(), args.name);
    this.log(`Domain '${args.name}' destroyed`);
  }
}
