// `tsvirt console NAME` (virsh console): attach to a running guest's serial console.
import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { consoleDomain, lifecyclePaths } from '../lifecycle/index.js';

export default class Console extends BaseCommand {
  static override summary = 'Attach to a running domain\'s serial console (Ctrl-] detaches; the guest keeps running).';
  static override args = { name: Args.string({ required: true, description: 'domain name' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Console);
    await attach(args.name);
  }
}

/** Shared with `start --console`. */
export async function attach(name: string): Promise<void> {
  const end = await consoleDomain(lifecyclePaths(), name, {
    stdin: process.stdin,
    stdout: process.stdout,
    onAttached: () => process.stderr.write(`Connected to domain '${name}'\r\nEscape character is ^] (Ctrl + ])\r\n`),
  });
  process.stderr.write(end === 'detached' ? '\r\n' : `\r\nDomain '${name}' stopped\r\n`);
}
