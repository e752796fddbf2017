// `tsvirt define FILE.xml` (virsh define): store a libvirt domain definition the VM core can run.
import fs from 'node:fs';
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { TsvirtError } from '../lib/errors.js';
import { defineDomain, lifecyclePaths } from '../lifecycle/index.js';

export default class Define extends BaseCommand {
  static override summary = 'Define (or redefine) a domain from libvirt domain XML.';
  static override args = { file: Args.string({ required: true, description: 'libvirt domain XML (tsvirt dumpxml, virt-install --print-xml, virsh dumpxml)' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Define);
    let xml: string;
    try {
      xml = fs.readFileSync(args.file, 'utf8');
    } catch (err) {
      throw new TsvirtError(`cannot read ${args.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'check the path');
    }
    const r = defineDomain(lifecyclePaths(), xml);
    this.log(`Domain '${r.name}' defined from ${args.file}`);
    if (r.running) this.log(`Domain '${r.name}' is running: the new definition takes effect when it next starts`);
  }
}
