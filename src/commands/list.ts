// `tsvirt list [--all]` (virsh list): running domains; --all adds those shut off.
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { listDomains } from '../lifecycle/domain-state.js';
import { lifecyclePaths } from '../lifecycle/state-paths.js';
import { formatDomainList } from '../lifecycle/format-list.js';

export default class List extends BaseCommand {
  static override summary = 'List domains (running ones; --all adds those shut off).';
  static override flags = { all: Flags.boolean({ default: false, description: 'also list domains that are shut off' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    process.stdout.write(formatDomainList(listDomains(lifecyclePaths(), { all: flags.all })));
  }
}
