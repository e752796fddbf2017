// `tsvirt img resize FILE [+|-]SIZE` (qemu-img resize).
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { allowBackingFlag } from '../../cli/image-flags.js';
import { resizeImage } from '../../storage/resize-image.js';
import { parseSizeChange } from '../../storage/size.js';
import { assertFormat } from '../../storage/image-info.js';

export default class ImgResize extends BaseCommand {
  static override summary = 'Grow (or, for raw with --shrink, shrink) a disk image.';
  static override args = {
    file: Args.string({ required: true, description: 'image file' }),
    size: Args.string({ required: true, description: 'new size, or +SIZE / -SIZE relative to the current one' }),
  };
  static override flags = {
    format: Flags.string({ char: 'f', options: ['raw', 'qcow2'], description: 'image format (probed when omitted)' }),
    shrink: Flags.boolean({ default: false, description: 'allow making a raw image smaller (data past the end is lost)' }),
    quiet: Flags.boolean({ char: 'q', default: false, description: 'print nothing' }),
    'allow-backing': allowBackingFlag,
  };

  async run(): Promise<void> {
    // oclif would take "-1G" for an unknown flag: mark a negative size as an argument.
    const argv = this.argv.includes('--') ? this.argv : this.argv.flatMap((a) => (/^-\d/.test(a) ? ['--', a] : [a]));
    const { args, flags } = await this.parse(ImgResize, argv);
    resizeImage(args.file, parseSizeChange(args.size), { format: assertFormat(flags.format), shrink: flags.shrink, allowBacking: flags['allow-backing'] });
    if (!flags.quiet) this.log('Image resized.');
  }
}
