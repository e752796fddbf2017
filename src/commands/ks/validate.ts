// `tsvirt ks validate FILE|URL`: ksvalidator for tsvirt. Problems print as
// `FILE:LINE: message` on stdout; exit 0 when valid (warnings allowed), 1 when not.
import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { createFetcher } from '../../install/fetch/index.js';
import { formatProblem, validateKickstartSource } from '../../install/kickstart/index.js';
import { TsvirtError } from '../../lib/errors.js';

export default class KsValidate extends BaseCommand {
  static override summary = 'Check a kickstart file for errors (like ksvalidator).';
  static override args = { source: Args.string({ required: true, description: 'kickstart path or http(s) URL' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(KsValidate);
    const result = await validateKickstartSource(args.source, createFetcher());
    for (const p of result.problems) this.log(formatProblem(p));
    if (!result.valid) {
      const n = result.problems.filter((p) => p.severity === 'error').length;
      throw new TsvirtError(`kickstart ${args.source} is invalid (${n} error${n === 1 ? '' : 's'})`);
    }
  }
}
