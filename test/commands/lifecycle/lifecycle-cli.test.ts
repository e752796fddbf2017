// The built `tsvirt` lifecycle verbs end to end (bin/tsvirt, npm test builds first), on a
// private state/domains directory pair (TSVIRT_STATE_DIR, TSVIRT_DOMAINS_DIR) and the tiny
// real guest of test/lifecycle/helpers.ts: virsh-style messages, one ERROR line for each
// of the user's mistakes, and the console on a real terminal (tmux): raw mode, Ctrl-]
// detaching without stopping the guest, a runner that outlives the terminal it started in.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probeRunner } from '../../../src/lifecycle/runner-lock.js';
import { guestXml, makeSandbox, qcow2, tsvirtCli, until } from '../../lifecycle/helpers.js';

const bin = fileURLToPath(new URL('../../../bin/tsvirt', import.meta.url));
const box = makeSandbox('tsvirt-cli-');
const session = `tsvirt-lc-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const pane = (target = session) => tmux('capture-pane', '-p', '-S', '-100', '-t', target);

afterAll(async () => {
  try {
    tmux('kill-session', '-t', session);
  } catch { /* not started or already gone */ }
  for (const name of ['vm1', 'vm2']) await tsvirt('destroy', name);
  box.cleanup();
});

const { run: tsvirt, ok } = tsvirtCli(box);

async function waitForPane(re: RegExp, target = session): Promise<string> {
  return until(() => (re.test(pane(target)) ? pane(target) : ''), `${re} on the terminal`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; screen:\n${pane(target)}`);
  });
}

const disk = qcow2(box.file('vm1.qcow2'));
fs.writeFileSync(box.file('vm1.xml'), guestXml({ name: 'vm1', uuid: 'a1b2c3d4-0000-4000-8000-000000000001', kernel: box.kernel, disk }));
fs.writeFileSync(box.file('bad.xml'), '<domain type="kvm"><name>x</name>');

describe('tsvirt lifecycle verbs: the user\'s mistakes', () => {
  // Every message is covered through the library (test/lifecycle); these check the CLI
  // prints each as one ERROR line with exit 1. Run together: the CLI takes a while to start.
  it('print one ERROR line and exit 1', async () => {
    const cases: Array<[string[], string]> = [
      [['start', 'nope'], "ERROR failed to get domain 'nope'; no domain with that name is defined or running (see 'tsvirt list --all')"],
      [['start'], 'ERROR no domain name given; tsvirt start NAME, or tsvirt start --autostart-all'],
      [['console', 'nope'], "ERROR failed to get domain 'nope'; no domain with that name is defined or running (see 'tsvirt list --all')"],
      [['shutdown', '../x'], "ERROR invalid domain name '../x'; use up to 64 letters, digits, \".\", \"_\", \"+\" or \"-\", starting with a letter or digit"],
      [['define', 'bad.xml'], 'ERROR domain XML: not well-formed: Unclosed tag \'domain\'. (line 1); fix the XML or define the domain with tsvirt-install'],
    ];
    const results = await Promise.all(cases.map(([args]) => tsvirt(...args)));
    results.forEach((r, i) => {
      expect(r.status, cases[i][0].join(' ')).toBe(1);
      expect(r.stderr).toBe(`${cases[i][1]}\n`);
    });
  });
});

describe('tsvirt lifecycle verbs', () => {
  it('define, list --all, autostart, start --autostart-all, list, dumpxml, start twice', async () => {
    expect(await ok('define', 'vm1.xml')).toBe("Domain 'vm1' defined from vm1.xml\n");
    expect(await ok('list', '--all')).toBe([
      ' Name   State      PID   vCPUs   Memory',
      '----------------------------------------',
      ' vm1    shut off   -     1       32 MiB',
      '',
      '',
    ].join('\n'));
    expect(await ok('autostart', 'vm1')).toBe("Domain 'vm1' marked as autostarted\n");
    expect(await ok('start', '--autostart-all')).toBe("Domain 'vm1' started\n");
    const pid = fs.readFileSync(`${box.paths.stateDir}/vm1.pid`, 'utf8').trim();
    expect(await ok('list')).toMatch(new RegExp(`^ vm1    running   ${pid}\\s+1\\s+32 MiB$`, 'm'));
    const xml = await ok('dumpxml', 'vm1');
    fs.writeFileSync(box.file('dumped.xml'), xml);
    execFileSync('virt-xml-validate', [box.file('dumped.xml'), 'domain']);
    const again = await tsvirt('start', 'vm1');
    expect(again.stderr).toBe("ERROR domain 'vm1' is already running; see 'tsvirt list'\n");
  });

  it('console on a terminal: raw keys reach the guest, Ctrl-] detaches, the guest keeps running', async () => {
    const env = Object.entries({ TSVIRT_STATE_DIR: box.paths.stateDir, TSVIRT_DOMAINS_DIR: box.paths.domainsDir }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', ...env, 'bash', '--norc', '--noprofile');
    tmux('send-keys', '-t', session, `PS1='prompt$ '; ${bin} console vm1; echo "console-exit=$?"`, 'Enter');
    await waitForPane(/Escape character is \^\] \(Ctrl \+ \]\)/);
    // Raw mode: no line buffering, no local echo; each key goes to the guest, which echoes it.
    tmux('send-keys', '-t', session, '-l', 'typed-raw');
    await waitForPane(/typed-raw/);
    tmux('send-keys', '-t', session, 'C-]');
    await waitForPane(/console-exit=0/);
    expect((await ok('list')).split('\n')[2]).toMatch(/^ vm1\s+running/);
    expect(fs.readFileSync(`${box.paths.stateDir}/vm1.log`, 'latin1')).toContain('guest up\ntyped-raw');
  });

  it('a runner started from a terminal outlives it (own session; no SIGHUP)', async () => {
    qcow2(box.file('vm2.qcow2'));
    fs.writeFileSync(box.file('vm2.xml'), guestXml({ name: 'vm2', kernel: box.kernel, disk: box.file('vm2.qcow2') }));
    await ok('define', 'vm2.xml');
    tmux('send-keys', '-t', session, `clear; ${bin} start vm2 --console`, 'Enter');
    // The guest may print before the console connects (then only the log has it): wait
    // for both, not for the guest's line on the pane.
    await waitForPane(/Domain 'vm2' started[\s\S]*Connected to domain 'vm2'/);
    await until(() => fs.readFileSync(`${box.paths.stateDir}/vm2.log`, 'latin1').includes('guest up'), 'vm2 to come up');
    tmux('kill-session', '-t', session); // the terminal goes away with the console attached
    const rows = await ok('list');
    expect(rows).toMatch(/^ vm2\s+running/m);
    expect(await ok('shutdown', 'vm2')).toBe("Domain 'vm2' is being shutdown\n");
    // Poll through the library (a CLI call per poll is slow); the CLI's list is checked above.
    await until(() => !probeRunner(`${box.paths.stateDir}/vm2.pid`).running, 'vm2 to power off');
    expect(fs.readFileSync(`${box.paths.stateDir}/vm2.log`, 'latin1')).toContain('power button');
  });

  it('reboot, destroy, undefine --remove-all-storage', async () => {
    expect(await ok('reboot', 'vm1')).toBe("Domain 'vm1' is being rebooted\n");
    await until(() => (fs.readFileSync(`${box.paths.stateDir}/vm1.log`, 'latin1').match(/guest up/g) ?? []).length === 2, 'the guest to boot again');
    expect(await ok('destroy', 'vm1')).toBe("Domain 'vm1' destroyed\n");
    expect((await tsvirt('destroy', 'vm1')).stderr).toBe("ERROR domain 'vm1' is not running; start it with 'tsvirt start'\n");
    expect(await ok('undefine', 'vm1', '--remove-all-storage')).toBe(`Volume '${disk}' removed.\nDomain 'vm1' has been undefined\n`);
    expect(fs.existsSync(disk)).toBe(false);
    expect(await ok('autostart', 'vm2', '--disable')).toBe("Domain 'vm2' unmarked as autostarted\n");
    expect(await ok('undefine', 'vm2')).toBe("Domain 'vm2' has been undefined\n");
    expect(await ok('list', '--all')).toBe(' Name   State   PID   vCPUs   Memory\n-------------------------------------\n\n');
  });
});
