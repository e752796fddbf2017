// tsvirt-install (bin/tsvirt-install runs `install`): virt-install's command line. Its
// grammar (optional values, repeated suboption options, `--disk none`) is not oclif's, so
// the command takes argv raw and hands it to src/domain; it prints what comes back.
import { BaseCommand } from '../cli/base-command.js';
import { processPlanEnv, runInstallFrontEnd } from '../domain/index.js';

export default class Install extends BaseCommand {
  static override summary = 'Create a virtual machine from install media (virt-install options; see tsvirt-install --help).';
  static override strict = false;

  async run(): Promise<void> {
    // bin/tsvirt-install puts '--' first so oclif leaves --help to virt-install's grammar.
    const argv = this.argv[0] === '--' ? this.argv.slice(1) : this.argv;
    const { stdout, warnings } = runInstallFrontEnd(argv, processPlanEnv(), this.config.version);
    for (const w of warnings) process.stderr.write(`WARNING  ${w}\n`);
    process.stdout.write(stdout);
  }
}
