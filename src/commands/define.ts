// `tsvirt define FILE.xml` (virsh define): store a libvirt domain definition the VM core can run.
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { defineDomain, lifecyclePaths, readDefinitionFile } from '../lifecycle/index.js';

export default class Define extends BaseCommand {
  static override summary = 'Define (or redefine) a domain from libvirt domain XML.';
  static override args = { file: Args.string({ required: true, description: 'libvirt domain XML (tsvirt dumpxml, virt-install --print-xml, virsh dumpxml)' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Define);
    const r = defineDomain(lifecyclePaths(), readDefinitionFile(args.file));
    this.log(`Domain '${r.name}' defined from ${args.file}`);
    if (r.running) this.log(`Domain '${r.name}' is running: the new definition takes effect when it next starts`);
  }
}
