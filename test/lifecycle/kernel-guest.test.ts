// The "Show" with a real Debian kernel on the software CPU, through the built CLI:
// a defined guest starts detached, `tsvirt list` shows it running, `tsvirt console` (on a
// tmux terminal) reaches its shell and runs a command, `tsvirt shutdown` powers it off
// through the ACPI power button (busybox acpid in the guest), `tsvirt start` brings it
// back, `tsvirt destroy` stops it hard, a SIGKILLed runner reads as shut off and leaves
// an image qemu-img check accepts, and `tsvirt undefine --remove-all-storage` leaves
// nothing behind. It always runs: it used to skip when a 90-second boot probe missed its
// marker, which on a loaded machine skipped a real check for a reason that was only load.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../support/fixtures.js';
import { ACPI_POWEROFF, buildAcpidInitramfs, SHELL_READY } from './acpid-initramfs.js';
import { makeSandbox, qcow2, tsvirtCli, until } from './helpers.js';

const BOOT_MS = 15 * 60_000;

describe('a Debian kernel under the runner', () => {
  const bin = fileURLToPath(new URL('../../bin/tsvirt', import.meta.url));
  const box = makeSandbox('tsvirt-kg-');
  const session = `tsvirt-kg-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  const pane = () => tmux('capture-pane', '-p', '-S', '-100', '-t', session);
  const consoleLog = () => fs.readFileSync(`${box.paths.stateDir}/deb.log`, 'latin1');
  const count = (s: string, what: string) => s.split(what).length - 1;
  const disk = box.file('deb.qcow2');

  afterAll(async () => {
    try {
      tmux('kill-session', '-t', session);
    } catch { /* gone */ }
    await tsvirt('destroy', 'deb');
    box.cleanup();
  });

  const { run: tsvirt, ok } = tsvirtCli(box);
  const state = async () => /^ deb\s+(running|shut off)/m.exec(await ok('list', '--all'))?.[1];

  it('define + start: list shows it running; the console log shows the shell', { timeout: BOOT_MS }, async () => {
    qcow2(disk, '64M');
    const initrd = buildAcpidInitramfs(box.file('acpid.cpio.gz'));
    fs.writeFileSync(box.file('deb.xml'), `<domain type="qemu">
  <name>deb</name>
  <uuid>d0d0d0d0-1111-4222-8333-444444444444</uuid>
  <memory unit="MiB">256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch="x86_64" machine="q35">hvm</type>
    <kernel>${fixture('KERNEL_CLOUD_AMD64')}</kernel>
    <initrd>${initrd}</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="${disk}"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <console type="pty"/>
  </devices>
</domain>
`);
    await ok('define', 'deb.xml');
    expect(await ok('start', 'deb')).toBe("Domain 'deb' started\n");
    expect(await state()).toBe('running');
    await until(() => consoleLog().includes(SHELL_READY), 'the shell marker', BOOT_MS);
  });

  it('console on a terminal runs a shell command; Ctrl-] detaches', { timeout: 5 * 60_000 }, async () => {
    const env = [`TSVIRT_STATE_DIR=${box.paths.stateDir}`, `TSVIRT_DOMAINS_DIR=${box.paths.domainsDir}`].flatMap((e) => ['-e', e]);
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '40', ...env, `${bin} console deb; echo console-exit=$?; sleep 600`);
    await until(() => pane().includes('Escape character'), 'the console banner');
    tmux('send-keys', '-t', session, 'echo hi-$((6*7))', 'Enter');
    await until(() => /^hi-42\s*$/m.test(pane()), 'the command output', 4 * 60_000);
    tmux('send-keys', '-t', session, 'C-]');
    await until(() => pane().includes('console-exit=0'), 'the console to detach');
    expect(await state()).toBe('running');
  });

  it('shutdown powers it off through ACPI; start brings it back; destroy stops it hard', { timeout: BOOT_MS }, async () => {
    expect(await ok('shutdown', 'deb')).toBe("Domain 'deb' is being shutdown\n");
    await until(async () => (await state()) === 'shut off', 'the guest to power off', 5 * 60_000);
    expect(consoleLog()).toContain(ACPI_POWEROFF);
    expect(consoleLog()).toMatch(/domain 'deb' poweroff/);
    await ok('start', 'deb');
    await until(() => count(consoleLog(), SHELL_READY) === 2, 'the second boot', BOOT_MS);
    expect(await ok('destroy', 'deb')).toBe("Domain 'deb' destroyed\n");
    expect(await state()).toBe('shut off');
  });

  it('a SIGKILLed runner reads as shut off; qemu-img check is clean or leaks only; start works again', { timeout: BOOT_MS }, async () => {
    await ok('start', 'deb');
    const pid = Number(fs.readFileSync(`${box.paths.stateDir}/deb.pid`, 'utf8'));
    await until(() => count(consoleLog(), SHELL_READY) === 3, 'the third boot', BOOT_MS);
    process.kill(pid, 'SIGKILL');
    await until(async () => (await state()) === 'shut off', 'list to say shut off');
    const check = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
    expect([0, 3], check.stdout + check.stderr).toContain(check.status);
    await ok('start', 'deb');
    expect(await state()).toBe('running');
    await ok('destroy', 'deb');
  });

  it('undefine --remove-all-storage leaves nothing behind', async () => {
    expect(await ok('undefine', 'deb', '--remove-all-storage')).toBe(`Volume '${disk}' removed.\nDomain 'deb' has been undefined\n`);
    expect(fs.existsSync(disk)).toBe(false);
    expect(fs.readdirSync(box.paths.stateDir)).toEqual([]);
    expect(fs.readdirSync(box.paths.domainsDir)).toEqual([]);
  });
});
