// Real runner processes (detached, the built dist/ runner as `npm test` builds first)
// running a tiny real guest on the VM core (helpers.ts): the lock, the pid file, the
// control socket, console fan-out, the ACPI power button, reboot, destroy, SIGKILL.
import fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defineDomain, destroyDomain, dumpDomainXml, listDomains, rebootDomain, setDomainAutostart, shutdownDomain,
  startAutostartDomains, startDomain, undefineDomain, waitUntilStopped, defineAndStart, waitForShutdown,
} from '../../src/lifecycle/domains.js';
import { attachConsole } from '../../src/lifecycle/console-attach.js';
import { requestRunner } from '../../src/lifecycle/runner-client.js';
import { DomainRunner } from '../../src/lifecycle/runner.js';
import { runtimeFiles } from '../../src/lifecycle/state-paths.js';
import { bzImageOf, HLT, outb, print, waitForByte } from '../vm/machine/guest-programs.js';
import { guestXml, makeSandbox, qcow2, until } from './helpers.js';

const box = makeSandbox('tsvirt-lc-');
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
  box.cleanup();
});

const log = (name: string) => fs.readFileSync(runtimeFiles(box.paths.stateDir, name).log, 'latin1');
const count = (s: string, re: RegExp) => (s.match(new RegExp(re, 'g')) ?? []).length;

async function start(name: string): Promise<number> {
  const { pid } = await startDomain(box.paths, name);
  started.push(pid);
  return pid;
}

function collector() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => { text += c.toString('latin1'); });
  return { stdin, stdout, text: () => text };
}

describe('domain runner', () => {
  it('starts detached in its own session, holds the lock, and serves a 0600 socket; list shows it running', async () => {
    const disk = qcow2(box.file('a.qcow2'));
    defineDomain(box.paths, guestXml({ name: 'a', kernel: box.kernel, disk }));
    const pid = await start('a');
    const files = runtimeFiles(box.paths.stateDir, 'a');
    expect(fs.readFileSync(files.pid, 'utf8').trim()).toBe(String(pid));
    expect(fs.statSync(files.socket).mode & 0o777).toBe(0o600);
    // /proc/PID/stat fields 5 and 6: process group and session; setsid made both the pid.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    expect([Number(stat[2]), Number(stat[3])]).toEqual([pid, pid]);
    await until(() => log('a').includes('guest up'), 'the guest banner in the console log');
    expect(listDomains(box.paths, { all: false })).toEqual([{ name: 'a', state: 'running', pid, vcpus: 1, memoryKiB: 32768, persistent: true, autostart: false }]);
    const r = await requestRunner(files.socket, 'a', { op: 'status' });
    expect(r).toMatchObject({ ok: true, status: { name: 'a', pid, state: 'running' } });
  });

  it('refuses a second runner of the same domain, through start and directly', async () => {
    await expect(startDomain(box.paths, 'a')).rejects.toThrow(/domain 'a' is already running/);
    const errors: unknown[] = [];
    const direct = new DomainRunner({ stateDir: box.paths.stateDir, name: 'a', xmlPath: `${box.paths.domainsDir}/a.xml`, onReady: (e) => errors.push(e) });
    await expect(direct.run()).rejects.toThrow(/domain 'a' is already running \(runner pid \d+\)/);
    expect(errors).toHaveLength(1);
  });

  it('start --autostart-all skips a domain that already runs', async () => {
    setDomainAutostart(box.paths, 'a', true);
    expect(await startAutostartDomains(box.paths)).toEqual([{ name: 'a', alreadyRunning: true }]);
    setDomainAutostart(box.paths, 'a', false);
  });

  it('answers garbage on the control socket with an error and keeps running', async () => {
    const net = await import('node:net');
    const files = runtimeFiles(box.paths.stateDir, 'a');
    const answer = await new Promise<string>((resolve) => {
      const s = net.createConnection(files.socket, () => s.write('{"op":"format-host-disk"}\n'));
      let got = '';
      s.on('data', (d) => { got += d.toString(); });
      s.on('close', () => resolve(got));
    });
    expect(JSON.parse(answer)).toEqual({ ok: false, error: 'unknown request "format-host-disk"' });
    expect(listDomains(box.paths, { all: false }).map((r) => r.state)).toEqual(['running']);
  });

  it('fans the console out to two attachments; Ctrl-] detaches one and the guest runs on', async () => {
    const files = runtimeFiles(box.paths.stateDir, 'a');
    const one = collector();
    const two = collector();
    const endOne = attachConsole(files.socket, 'a', one);
    const endTwo = attachConsole(files.socket, 'a', two);
    await until(async () => (await requestRunner(files.socket, 'a', { op: 'status' })).status?.consoles === 2, 'two consoles attached');
    one.stdin.write('hello');
    await until(() => one.text().includes('hello') && two.text().includes('hello'), 'the echo on both consoles');
    one.stdin.write(Buffer.from([0x21, 0x1d, 0x41])); // "!" reaches the guest, Ctrl-] detaches, "A" is not sent
    expect(await endOne).toBe('detached');
    two.stdin.write('?');
    await until(() => two.text().includes('hello!?'), 'the second console still attached');
    expect(two.text()).not.toContain('A');
    expect(listDomains(box.paths, { all: false })[0].state).toBe('running');
    // The history is in the console log.
    expect(log('a')).toContain('guest up\nhello!?');
    two.stdin.end();
    expect(await endTwo).toBe('detached');
  });

  it('shutdown presses the ACPI power button; the guest powers off and the runner cleans up', async () => {
    const files = runtimeFiles(box.paths.stateDir, 'a');
    const watcher = collector();
    const ended = attachConsole(files.socket, 'a', watcher);
    await until(async () => (await requestRunner(files.socket, 'a', { op: 'status' })).status?.consoles === 1, 'console attached');
    await shutdownDomain(box.paths, 'a');
    expect(await ended).toBe('guest-stopped');
    expect(watcher.text()).toContain('power button');
    expect(await waitUntilStopped(box.paths, 'a', 30_000)).toBe(true);
    expect(listDomains(box.paths, { all: true })).toEqual([{ name: 'a', state: 'shut off', pid: undefined, vcpus: 1, memoryKiB: 32768, persistent: true, autostart: false }]);
    expect(listDomains(box.paths, { all: false })).toEqual([]);
    for (const f of [files.pid, files.socket, files.liveXml]) expect(fs.existsSync(f), f).toBe(false);
    expect(log('a')).toMatch(/domain 'a' poweroff/);
    await expect(shutdownDomain(box.paths, 'a')).rejects.toThrow(/domain 'a' is not running/);
    expect(spawnSync('qemu-img', ['check', box.file('a.qcow2')]).status).toBe(0);
  });

  it('reboot: power button, then the same runner boots the guest again', async () => {
    const before = count(log('a'), /guest up/);
    const pid = await start('a');
    await until(() => count(log('a'), /guest up/) === before + 1, 'the banner');
    await rebootDomain(box.paths, 'a');
    await until(() => count(log('a'), /guest up/) === before + 2, 'the guest booting again');
    expect(log('a')).toMatch(/power button\n\r\n\[tsvirt\] \S+ domain 'a' poweroff\r\n\r\n\[tsvirt\] \S+ domain 'a' starting\r\nguest up\n$/);
    expect(listDomains(box.paths, { all: false })).toMatchObject([{ name: 'a', state: 'running', pid }]);
  });

  it('SIGTERM (systemd stopping the unit) presses the power button; the guest powers off', async () => {
    const pid = listDomains(box.paths, { all: false })[0].pid!;
    const before = count(log('a'), /power button/);
    process.kill(pid, 'SIGTERM');
    expect(await waitUntilStopped(box.paths, 'a', 30_000)).toBe(true);
    expect(count(log('a'), /power button/)).toBe(before + 1);
    expect(log('a')).toMatch(/domain 'a' poweroff\r\n$/);
    await start('a');
  });

  it('destroy stops it at once', async () => {
    expect(await destroyDomain(box.paths, 'a')).toEqual({ killed: false });
    expect(listDomains(box.paths, { all: true })[0].state).toBe('shut off');
    expect(log('a')).toMatch(/domain 'a' stopped\r\n$/);
    await expect(destroyDomain(box.paths, 'a')).rejects.toThrow(/domain 'a' is not running/);
  });

  it('a runner killed with SIGKILL reads as shut off; start works again; qemu-img check is clean or reports leaks only', async () => {
    const pid = await start('a');
    process.kill(pid, 'SIGKILL');
    // The kernel releases the lock once the last thread (the vCPU worker too) has exited.
    await until(() => listDomains(box.paths, { all: true })[0].state === 'shut off', 'the killed runner to read as shut off');
    const files = runtimeFiles(box.paths.stateDir, 'a');
    expect(fs.existsSync(files.pid)).toBe(true); // stale, left behind by the kill
    expect(listDomains(box.paths, { all: true })[0]).toMatchObject({ name: 'a', state: 'shut off', pid: undefined });
    expect(listDomains(box.paths, { all: false })).toEqual([]);
    const check = spawnSync('qemu-img', ['check', box.file('a.qcow2')]);
    expect([0, 3], check.stdout.toString()).toContain(check.status);
    const again = await start('a');
    expect(again).not.toBe(pid);
    expect(listDomains(box.paths, { all: false })).toMatchObject([{ name: 'a', state: 'running', pid: again }]);
  });

  it('a running domain: redefine keeps the live XML until the next start; undefine makes it transient; storage removal is refused', async () => {
    const live = dumpDomainXml(box.paths, 'a');
    const uuid = /<uuid>([^<]+)<\/uuid>/.exec(live)![1];
    const r = defineDomain(box.paths, guestXml({ name: 'a', kernel: box.kernel, disk: box.file('a.qcow2'), uuid, memoryMiB: 48 }));
    expect(r).toEqual({ name: 'a', replaced: true, running: true });
    expect(dumpDomainXml(box.paths, 'a')).toContain('<memory>32768</memory>');
    expect(dumpDomainXml(box.paths, 'a', { inactive: true })).toContain('<memory>49152</memory>');
    expect(() => undefineDomain(box.paths, 'a', { removeAllStorage: true })).toThrow(/domain 'a' is running: its storage cannot be removed/);
    expect(undefineDomain(box.paths, 'a')).toEqual({ removed: [], kept: [], stillRunning: true });
    expect(listDomains(box.paths, { all: true })).toMatchObject([{ name: 'a', state: 'running', persistent: false }]);
    expect(() => undefineDomain(box.paths, 'a')).toThrow(/cannot undefine transient domain 'a'/);
    await destroyDomain(box.paths, 'a');
    expect(listDomains(box.paths, { all: true })).toEqual([]);
    expect(fs.existsSync(box.file('a.qcow2'))).toBe(true);
  });

  it('undefine --remove-all-storage deletes the writable images and keeps read-only media', async () => {
    const disk = qcow2(box.file('b.qcow2'));
    const iso = box.file('media.raw');
    fs.writeFileSync(iso, Buffer.alloc(1 << 20));
    const ro = `\n    <disk type="file" device="disk">\n      <driver name="qemu" type="raw"/>\n      <source file="${iso}"/>\n      <target dev="vdb" bus="virtio"/>\n      <readonly/>\n    </disk>`;
    defineDomain(box.paths, guestXml({ name: 'b', kernel: box.kernel, disk, extraDevices: ro }));
    await start('b');
    await destroyDomain(box.paths, 'b');
    expect(undefineDomain(box.paths, 'b', { removeAllStorage: true })).toEqual({ removed: [disk], kept: [iso], stillRunning: false });
    expect(fs.existsSync(disk)).toBe(false);
    expect(fs.existsSync(iso)).toBe(true);
    expect(fs.readdirSync(box.paths.domainsDir).filter((f) => f.startsWith('b'))).toEqual([]);
  });

  it('defineAndStart + waitForShutdown (tsvirt-install --noautoconsole --wait): 0 returns at once, N waits for the power-off', async () => {
    const { parseDomainXml } = await import('../../src/domain/xml/parse.js');
    const { pid } = await defineAndStart(box.paths, parseDomainXml(guestXml({ name: 'w', kernel: box.kernel })));
    started.push(pid);
    expect(await waitForShutdown(box.paths, 'w', 0)).toBe(false);
    await until(() => log('w').includes('guest up'), 'the banner');
    await shutdownDomain(box.paths, 'w');
    expect(await waitForShutdown(box.paths, 'w', 1)).toBe(true);
    expect(await waitForShutdown(box.paths, 'w', -1)).toBe(true);
    undefineDomain(box.paths, 'w');
  });

  it('a guest reboot (0xCF9 reset) restarts it in the same runner; on_reboot=destroy ends it', async () => {
    // Prints its banner, waits for "r" on the UART, then asks the reset control register
    // for a full reset (SYS_RST | RST_CPU), as Linux's reboot=pci does.
    const resetter = box.file('reset-guest.bzImage');
    fs.writeFileSync(resetter, bzImageOf([...print('reset guest up\n'), ...waitForByte(0x72), ...outb(0xcf9, 0x06), HLT]));
    const send = async (name: string) => {
      const io = collector();
      const end = attachConsole(runtimeFiles(box.paths.stateDir, name).socket, name, io);
      io.stdin.write('r');
      io.stdin.end();
      await end;
    };
    defineDomain(box.paths, guestXml({ name: 'rr', kernel: resetter }));
    const pid = await start('rr');
    await until(() => count(log('rr'), /reset guest up/) === 1, 'the banner');
    await send('rr');
    await until(() => count(log('rr'), /reset guest up/) === 2, 'the guest to boot again');
    expect(listDomains(box.paths, { all: false }).find((r) => r.name === 'rr')).toMatchObject({ state: 'running', pid });
    await destroyDomain(box.paths, 'rr');
    defineDomain(box.paths, guestXml({ name: 'rd', kernel: resetter, onReboot: 'destroy' }));
    await start('rd');
    await until(() => log('rd').includes('reset guest up'), 'the banner');
    await send('rd');
    expect(await waitUntilStopped(box.paths, 'rd', 30_000)).toBe(true);
    expect(log('rd')).toMatch(/domain 'rd' reset\r\n$/);
    expect(listDomains(box.paths, { all: true }).find((r) => r.name === 'rd')?.state).toBe('shut off');
    undefineDomain(box.paths, 'rr');
    undefineDomain(box.paths, 'rd');
  });

  it('start reports errors before the guest runs: a missing kernel, an image another writer holds', async () => {
    const uuid = '5d0c8bb7-1b6f-4d0a-9d43-6f1e1a1b2c3d';
    defineDomain(box.paths, guestXml({ name: 'c', uuid, kernel: box.file('nope.bzImage') }));
    await expect(startDomain(box.paths, 'c')).rejects.toThrow(/domain 'c': the kernel .*nope\.bzImage does not exist/);
    const disk = qcow2(box.file('c.qcow2'));
    defineDomain(box.paths, guestXml({ name: 'c', uuid, kernel: box.kernel, disk }));
    const { pid } = await startDomain(box.paths, 'c');
    started.push(pid);
    defineDomain(box.paths, guestXml({ name: 'd', kernel: box.kernel, disk }));
    await expect(startDomain(box.paths, 'd')).rejects.toThrow(/c\.qcow2 is in use: cannot get the exclusive write lock/);
    expect(listDomains(box.paths, { all: true }).map((r) => [r.name, r.state])).toEqual([['c', 'running'], ['d', 'shut off']]);
    await destroyDomain(box.paths, 'c');
    execFileSync('qemu-img', ['check', disk]);
  });
});
