// `tsvirt img info` (qemu-img info): human or JSON with qemu-img's keys.
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { allowBackingFlag } from '../../cli/image-flags.js';
import { assertFormat, formatImageInfo, getImageInfo } from '../../storage/image-info.js';

export default class ImgInfo extends BaseCommand {
  static override summary = 'Show the format, sizes and backing file of a disk image.';
  static override args = { file: Args.string({ required: true, description: 'image file' }) };
  static override flags = {
    output: Flags.string({ options: ['human', 'json'], default: 'human', description: 'output format' }),
    format: Flags.string({ char: 'f', options: ['raw', 'qcow2'], description: 'image format (probed when omitted)' }),
    'force-share': Flags.boolean({ char: 'U', default: false, description: 'open without taking the shared lock' }),
    'allow-backing': allowBackingFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImgInfo);
    const info = getImageInfo(args.file, { format: assertFormat(flags.format), forceShare: flags['force-share'], allowBacking: flags['allow-backing'] });
    if (flags.output === 'json') this.log(JSON.stringify(info, null, 4));
    else process.stdout.write(formatImageInfo(info));
  }
}
