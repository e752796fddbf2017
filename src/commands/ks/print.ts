// `tsvirt ks print FILE|URL`: the kickstart normalized (includes expanded, comments
// dropped, canonical order and quoting). Problems go to stderr; an invalid file exits 1.
import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { createFetcher } from '../../install/fetch/index.js';
import { formatProblem, printKickstart, validateKickstartSource } from '../../install/kickstart/index.js';
import { TsvirtError } from '../../lib/errors.js';

export default class KsPrint extends BaseCommand {
  static override summary = 'Print a kickstart file normalized.';
  static override args = { source: Args.string({ required: true, description: 'kickstart path or http(s) URL' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(KsPrint);
    const result = await validateKickstartSource(args.source, createFetcher());
    for (const p of result.problems) this.logToStderr(formatProblem(p));
    if (!result.valid) throw new TsvirtError(`kickstart ${args.source} is invalid`, `run 'tsvirt ks validate ${args.source}'`);
    process.stdout.write(printKickstart(result.kickstart));
  }
}
