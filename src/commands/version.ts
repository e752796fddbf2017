import { BaseCommand } from '../cli/base-command.js';

export default class Version extends BaseCommand {
  static override summary = 'Print the tsvirt version.';
  async run(): Promise<void> {
    await this.parse(Version);
    this.log(`tsvirt ${this.config.version}`);
  }
}
