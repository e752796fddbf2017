// virt-install's hidden back-compat options and argparse's abbreviations (issue 16): the
// lines tutorials still print (--nographics, --vnc, --file/--file-size, --nodisks,
// --bridge, --mac, -c, --uuid ...) are accepted, and each means what it means to the real
// virt-install 4.1 on this machine: the facts a user chose (display, disk sources, NICs,
// UUID) are compared with `virt-install --connect test:///default --print-xml` (libvirt's
// built-in test driver: no daemon, nothing created).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { split } from 'shlex';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/spawn-cli.js';
import { LEGACY_ERRORS, LEGACY_LINES, LEGACY_NOT_YET } from './legacy-lines.js';

const bin = fileURLToPath(new URL('../../bin/tsvirt-install', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'tsvirt-legacy-'));
const dir = join(root, 'files');
mkdirSync(dir);
for (const f of ['a.img', 'b.img']) writeFileSync(join(dir, f), 'tsvirt legacy fixture\n');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function argv(line: string): string[] {
  const full = line.replace('@IMPORT@', '--import --disk @DIR@/a.img').replaceAll('@DIR@', dir);
  const words = split(full);
  const base = ['--name', 't', '--osinfo', 'linux2022', '--memory', '512'];
  // The abbreviation line names its own OS.
  return words.includes('--os-var') ? ['--name', 't', '--memory', '512', ...words, '--print-xml'] : [...base, ...words, '--print-xml'];
}

interface Facts {
  graphics: string[];
  disks: string[];
  nics: string[];
  uuid?: string;
  acpi: boolean;
}

function facts(xml: string, uuidGiven: boolean): Facts {
  const all = (re: RegExp) => [...xml.matchAll(re)].map((m) => m[1]);
  // The install step when there are two documents: --print-step 1 prints only that one.
  const nics = [...xml.matchAll(/<interface type="(\w+)">([\s\S]*?)<\/interface>/g)].map((m) => {
    const bridge = /<source bridge="([^"]+)"/.exec(m[2])?.[1];
    const mac = /<mac address="(52:54:00:11:22:33)"/.exec(m[2])?.[1];
    // The default NIC: user networking here, libvirt's test driver has no "default" network.
    return [m[1] === 'user' ? 'default' : m[1], bridge, mac].filter(Boolean).join(' ');
  });
  return {
    graphics: all(/<graphics type="(\w+)"/g).filter((g) => g !== 'spice'), // spice: virt-install's default display
    disks: all(/<source file="([^"]+)"/g),
    nics,
    uuid: uuidGiven ? /<uuid>([^<]+)<\/uuid>/.exec(xml)?.[1].replace(/-/g, '') : undefined,
    acpi: /<acpi\/>/.test(xml),
  };
}

/** Both tools run as child processes without blocking the test worker. */
function run(cmd: string, args: string[]): Promise<CliResult> {
  // Without vitest's NODE_ENV=test, which makes oclif warn about the raw-argv command.
  const { NODE_ENV: _, ...env } = process.env;
  return spawnCli(cmd, args, { env: { ...env, HOME: root } });
}

// Concurrent: each case waits on two child processes.
describe.concurrent('virt-install back-compat options', () => {
  it.each(LEGACY_LINES.map((l) => [l]))('%s: the same display, disks, NICs and UUID as virt-install 4.1', async (line) => {
    const args = argv(line);
    const ours = await run(bin, args);
    const theirs = await run('virt-install', ['--connect', 'test:///default', ...args]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(ours.status, ours.stderr).toBe(0);
    const uuidGiven = /--uuid|-u /.test(line);
    const f = facts(ours.stdout, uuidGiven);
    const g = facts(theirs.stdout, uuidGiven);
    // virt-install adds spice when a display is possible and none is named; tsvirt's
    // default is no display (its console is serial), so only an explicit one compares.
    expect({ ...f, acpi: undefined }).toEqual({ ...g, acpi: undefined });
    if (line.includes('--noacpi')) expect(f.acpi).toBe(false);
    if (line.includes('--os-type')) expect(ours.stderr).toMatch(/WARNING {2}--os-type is deprecated and does nothing\. Please stop using it\./);
  });

  it.each(LEGACY_ERRORS.map(([l, e]) => [l, e] as const))('%s: refused as virt-install refuses it', async (line, error) => {
    const args = argv(line);
    const ours = await run(bin, args);
    const theirs = await run('virt-install', ['--connect', 'test:///default', ...args]);
    expect(theirs.status).not.toBe(0);
    expect(theirs.stderr).toMatch(error);
    expect(ours.status).toBe(1);
    expect(ours.stdout).toBe('');
    expect(ours.stderr.split('\n').filter((l) => l.startsWith('ERROR'))).toHaveLength(1);
    expect(ours.stderr).toMatch(error);
  });

  it.each(LEGACY_NOT_YET.map(([l, e]) => [l, e] as const))('%s: virt-install takes it; tsvirt-install says what it lacks', async (line, error) => {
    const args = argv(line);
    expect((await run('virt-install', ['--connect', 'test:///default', ...args])).status).toBe(0);
    expect(await run(bin, args)).toEqual({ status: 1, stdout: '', stderr: `${error}\n` });
  });

  it.each(['--n', '--mem', '--no', '--c', '--v'])('%s is ambiguous among the same options as in virt-install', async (prefix) => {
    const matches = (stderr: string) => /could match (.*?)(;|\n|$)/.exec(stderr)?.[1].split(', ').sort();
    const args = argv(`${prefix} x @IMPORT@`);
    const ours = matches((await run(bin, args)).stderr);
    expect(ours).toEqual(matches((await run('virt-install', ['--connect', 'test:///default', ...args])).stderr));
    expect(ours?.length).toBeGreaterThan(1);
  });

  it.each(['linux2022', 'fedora-unknown', 'generic'])('without --name, --osinfo %s names the guest as virt-install does', async (os) => {
    const args = ['--osinfo', os, '--memory', '512', '--import', '--disk', join(dir, 'a.img'), '--print-xml'];
    const name = (r: CliResult) => /<name>([^<]+)<\/name>/.exec(r.stdout)?.[1];
    const ours = await run(bin, args);
    expect(ours.status, ours.stderr).toBe(0);
    expect(name(ours)).toBe(name(await run('virt-install', ['--connect', 'test:///default', ...args])));
  });

  it('without --name, a name already defined gets the next free -N suffix', async () => {
    const domains = join(root, 'domains');
    mkdirSync(domains, { recursive: true });
    const args = ['--osinfo', 'linux2022', '--memory', '512', '--import', '--disk', join(dir, 'a.img'), '--print-xml'];
    const defineAs = async (name: string) => {
      const xml = (await run(bin, ['--name', name, ...args])).stdout;
      writeFileSync(join(root, `${name}.xml`), xml);
      const r = await spawnCli(fileURLToPath(new URL('../../bin/tsvirt', import.meta.url)), ['define', join(root, `${name}.xml`)], { env: { ...process.env, TSVIRT_DOMAINS_DIR: domains } });
      expect(r.status, r.stderr).toBe(0);
    };
    await defineAs('linux2022');
    await defineAs('linux2022-2');
    const r = await spawnCli(bin, args, { env: { ...process.env, TSVIRT_DOMAINS_DIR: domains } });
    expect(/<name>([^<]+)<\/name>/.exec(r.stdout)?.[1]).toBe('linux2022-3');
  });

  it("names virt-install's options it does not take yet instead of calling them unrecognized", async () => {
    for (const [line, option] of [['--tpm default @IMPORT@', '--tpm'], ['--memb none @IMPORT@', '--memballoon'], ['--cloud-init @IMPORT@', '--cloud-init']]) {
      const r = await run(bin, argv(line));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`ERROR ${option}: this virt-install option is not supported by tsvirt-install yet`);
    }
  });

  it('hides the back-compat options from --help, as virt-install does', async () => {
    const help = (await run(bin, ['--help'])).stdout;
    for (const hidden of ['--nographics', '--vnc', '--file', '--nodisks', '--bridge', '--mac', '--uuid', '--os-type']) expect(help).not.toContain(`${hidden} `);
  });
});
