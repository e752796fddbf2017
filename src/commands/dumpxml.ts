// `tsvirt dumpxml NAME` (virsh dumpxml): the live XML of a running domain, else its definition.
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { dumpDomainXml, lifecyclePaths } from '../lifecycle/index.js';

export default class Dumpxml extends BaseCommand {
  static override summary = 'Print a domain as libvirt domain XML.';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };
  static override flags = { inactive: Flags.boolean({ default: false, description: 'the persistent definition, not what the running domain runs' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Dumpxml);
    process.stdout.write(dumpDomainXml(lifecyclePaths(), args.name, { inactive: flags.inactive }));
  }
}
