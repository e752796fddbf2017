// `tsvirt img check` (qemu-img check): exit 0 clean, 2 corruptions, 3 leaks only,
// 1 could not check; `-r leaks|all` repairs.
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { checkExitCode, checkImage, checkReportJson, formatCheckReport } from '../../storage/check-image.js';
import { assertFormat } from '../../storage/image-info.js';

export default class ImgCheck extends BaseCommand {
  static override summary = 'Check a qcow2 image for refcount and L1/L2 consistency.';
  static override description = 'Exit codes as qemu-img: 0 no errors, 1 the check could not be completed, 2 corruptions found, 3 only leaked clusters found.';
  static override args = { file: Args.string({ required: true, description: 'image file' }) };
  static override flags = {
    repair: Flags.string({ char: 'r', options: ['leaks', 'all'], description: 'repair leaked clusters (leaks) or also refcount and COPIED-flag errors (all)' }),
    output: Flags.string({ options: ['human', 'json'], default: 'human', description: 'output format' }),
    format: Flags.string({ char: 'f', options: ['raw', 'qcow2'], description: 'image format (probed when omitted)' }),
    'force-share': Flags.boolean({ char: 'U', default: false, description: 'check without taking the shared lock' }),
    quiet: Flags.boolean({ char: 'q', default: false, description: 'print nothing' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImgCheck);
    const report = checkImage(args.file, { format: assertFormat(flags.format), repair: flags.repair as 'leaks' | 'all' | undefined, forceShare: flags['force-share'] });
    if (!flags.quiet) {
      for (const m of report.messages) process.stderr.write(`${m}\n`);
      if (flags.output === 'json') this.log(JSON.stringify(checkReportJson(report), null, 4));
      else process.stdout.write(formatCheckReport(report));
    }
    process.exitCode = checkExitCode(report);
  }
}
