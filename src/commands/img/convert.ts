// `tsvirt img convert` (qemu-img convert): sparse-aware copy into raw or qcow2, with -p
// progress (a bar on a TTY, plain percentage lines otherwise).
import { Args, Flags } from '@oclif/core';
import cliProgress from 'cli-progress';
import { BaseCommand } from '../../cli/base-command.js';
import { allowBackingFlag } from '../../cli/image-flags.js';
import { convertImage } from '../../storage/convert-image.js';
import { parseCreateOptions } from '../../storage/create-image.js';
import { assertFormat } from '../../storage/image-info.js';

export default class ImgConvert extends BaseCommand {
  static override summary = 'Convert a disk image to raw or qcow2 (sparse, flattening backing files).';
  static override args = {
    src: Args.string({ required: true, description: 'source image' }),
    dst: Args.string({ required: true, description: 'destination image (replaced if it exists)' }),
  };
  static override flags = {
    format: Flags.string({ char: 'f', options: ['raw', 'qcow2'], description: 'source format (probed when omitted)' }),
    'output-format': Flags.string({ char: 'O', options: ['raw', 'qcow2'], default: 'raw', description: 'destination format' }),
    options: Flags.string({ char: 'o', description: 'destination options (cluster_size=)' }),
    progress: Flags.boolean({ char: 'p', default: false, description: 'show progress' }),
    'allow-backing': allowBackingFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImgConvert);
    const o = parseCreateOptions(flags.options);
    let bar: cliProgress.SingleBar | undefined;
    let lastPct = -1;
    const onProgress = !flags.progress ? undefined : (done: number, total: number): void => {
      const pct = total === 0 ? 100 : Math.floor((done * 100) / total);
      if (process.stderr.isTTY) {
        bar ??= new cliProgress.SingleBar({ stream: process.stderr, format: 'converting [{bar}] {percentage}% | {value}/{total} MiB' }, cliProgress.Presets.shades_classic);
        if (lastPct < 0) bar.start(Math.ceil(total / 2 ** 20), 0);
        bar.update(Math.floor(done / 2 ** 20));
      } else if (pct !== lastPct && (pct % 10 === 0 || lastPct < 0)) {
        process.stderr.write(`    (${pct.toFixed(2)}/100%)\n`);
      }
      lastPct = pct;
    };
    try {
      convertImage({
        src: args.src, srcFormat: assertFormat(flags.format), dst: args.dst,
        dstFormat: assertFormat(flags['output-format']) ?? 'raw', clusterSizeBytes: o.clusterSizeBytes, onProgress, allowBacking: flags['allow-backing'],
      });
    } finally {
      bar?.stop();
    }
  }
}
