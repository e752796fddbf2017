// tsvirt-install (bin/tsvirt-install runs `install`): virt-install's command line. Its
// grammar (optional values, repeated suboption options, `--disk none`) is not oclif's, so
// the command takes argv raw and hands it to src/domain; it prints what comes back, or
// runs the plan (src/install/run-domain.ts) with the console on this terminal. The install
// flow (fetching, the VM core) is imported only when there is something to fetch or run,
// so --help, --print-xml and option errors answer at once.
import { BaseCommand } from '../cli/base-command.js';
import { processPlanEnv, runInstallFrontEnd } from '../domain/index.js';
import { abortOnInterrupt } from '../lib/interrupts.js';
import { DefinitionStore } from '../lifecycle/definition-store.js';
import { lifecyclePaths } from '../lifecycle/state-paths.js';

export default class Install extends BaseCommand {
  static override summary = 'Create a virtual machine from install media (virt-install options; see tsvirt-install --help).';
  static override strict = false;

  async run(): Promise<void> {
    // bin/tsvirt-install puts '--' first so oclif leaves --help to virt-install's grammar.
    const argv = this.argv[0] === '--' ? this.argv.slice(1) : this.argv;
    const domains = new DefinitionStore(lifecyclePaths().domainsDir);
    const out = runInstallFrontEnd(argv, { ...processPlanEnv(), domainExists: (name) => domains.has(name) }, this.config.version);
    for (const w of out.warnings) process.stderr.write(`WARNING  ${w}\n`);
    // As virt-install does ("KVM acceleration not available, using 'qemu'"), on stderr only.
    if (out.accelNote) process.stderr.write(`WARNING  ${out.accelNote}\n`);
    if (out.mode === 'dry-run' && out.plan) {
      // The kickstart is fetched and validated, and local media resolved, even in a dry run.
      const [{ checkDryRunMedia }, { createFetcher }] = await Promise.all([import('../install/dry-run-media.js'), import('../install/fetch/index.js')]);
      const lines = await checkDryRunMedia(out.plan, createFetcher());
      process.stdout.write(out.stdout.replace(/Dry run completed successfully\n$/, `${lines.map((l) => `${l}\n`).join('')}Dry run completed successfully\n`));
      return;
    }
    if (out.mode !== 'run' || !out.plan) {
      process.stdout.write(out.stdout);
      return;
    }
    const quiet = out.plan.specs.quiet;
    const [{ runDomain }, { createFetcher }] = await Promise.all([import('../install/run-domain.js'), import('../install/fetch/index.js')]);
    const controller = new AbortController();
    const release = abortOnInterrupt(controller);
    try {
      await runDomain(out.plan, {
        fetcher: createFetcher(),
        console: { stdin: process.stdin, stdout: process.stdout },
        signal: controller.signal,
        lifecycle: lifecyclePaths(),
        progress: quiet ? undefined : (line) => process.stderr.write(`tsvirt-install: ${line}\n`),
      });
    } finally {
      release();
    }
  }
}
