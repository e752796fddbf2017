// `tsvirt img create` (qemu-img create): flags in, createImage, one line out.
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { allowBackingFlag } from '../../cli/image-flags.js';
import { createImage, parseCreateOptions } from '../../storage/create-image.js';
import { parseSize } from '../../storage/size.js';
import { assertFormat } from '../../storage/image-info.js';

export default class ImgCreate extends BaseCommand {
  static override summary = 'Create a raw or qcow2 disk image.';
  static override description = 'Like qemu-img create. SIZE takes k, M, G, T suffixes; with a backing file it may be omitted and is inherited.';
  static override examples = [
    '<%= config.bin %> img create -f qcow2 disk.qcow2 20G',
    '<%= config.bin %> img create -f qcow2 -b base.qcow2 -F qcow2 overlay.qcow2',
    '<%= config.bin %> img create -f raw -o preallocation=falloc disk.raw 4G',
  ];
  static override args = {
    file: Args.string({ required: true, description: 'image file to create' }),
    size: Args.string({ description: 'virtual size (e.g. 20G)' }),
  };
  static override flags = {
    format: Flags.string({ char: 'f', options: ['raw', 'qcow2'], default: 'raw', description: 'image format' }),
    backing: Flags.string({ char: 'b', description: 'backing file (qcow2)' }),
    'backing-format': Flags.string({ char: 'F', options: ['raw', 'qcow2'], description: 'backing file format' }),
    options: Flags.string({ char: 'o', description: 'cluster_size=, preallocation=off|metadata|falloc|full, lazy_refcounts=on|off, refcount_bits=' }),
    quiet: Flags.boolean({ char: 'q', default: false, description: 'print nothing' }),
    'allow-backing': allowBackingFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImgCreate);
    const o = parseCreateOptions(flags.options);
    const img = createImage({
      ...o,
      path: args.file,
      format: assertFormat(flags.format) ?? 'raw',
      sizeBytes: args.size !== undefined ? parseSize(args.size) : o.sizeBytes,
      backingFile: flags.backing ?? o.backingFile,
      backingFormat: assertFormat(flags['backing-format']) ?? o.backingFormat,
      overwrite: true,
      allowBacking: flags['allow-backing'],
    });
    if (!flags.quiet) this.log(`Formatting '${img.path}', fmt=${img.format} size=${img.sizeBytes}`);
  }
}
