// Every way out of a running install undoes it, exactly once: SIGHUP (the terminal closed),
// two SIGINTs 5 ms apart (an impatient Ctrl-C) and an error nothing catches (injected by a
// test preload) during the install phase end
// tsvirt-install with one ERROR line, and leave neither the disk it created nor its
// tsvirt-install-* temporary directory (issue 15: both used to stay behind).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kickstart, serveInstallTree, type ServedTree } from '../install/support/install-e2e.js';

const bin = fileURLToPath(new URL('../../bin/tsvirt-install', import.meta.url));
let t: ServedTree;

beforeAll(async () => {
  t = await serveInstallTree();
  writeFileSync(join(t.www, 'ks.cfg'), kickstart(t));
});
afterAll(async () => t?.close());

const faultPreload = fileURLToPath(new URL('../support/fault-on-signal.mjs', import.meta.url));

async function interruptDuringInstall(name: string, send: (pid: number) => Promise<void>, fault?: 'throw' | 'reject') {
  const scratch = join(t.work, name);
  const tmp = join(scratch, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const disk = join(scratch, `${name}.qcow2`);
  // With a fault to inject, the preload that raises it on SIGUSR2 goes in first.
  const child = spawn(process.execPath, [
    ...(fault ? ['--import', faultPreload] : []), bin,
    '--name', name, '--memory', '512', '--disk', `path=${disk},size=1,format=qcow2`, '--os-variant', 'linux2022',
    '--location', `${t.server.url}/tree`, '--extra-args', `inst.ks=${t.server.url}/ks.cfg`, '--graphics', 'none', '--transient',
  ], {
    env: { PATH: process.env.PATH, ...(fault ? { TSVIRT_TEST_FAULT: fault } : {}), HOME: scratch, TMPDIR: tmp, TSVIRT_DOMAINS_DIR: join(scratch, 'domains'), TSVIRT_STATE_DIR: join(scratch, 'run') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stdout.resume();
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    // The disk exists and the installer's guest is starting: interrupt now.
    if (!sent && /tsvirt-install: starting the install/.test(stderr)) {
      sent = true;
      expect(existsSync(disk)).toBe(true);
      void send(child.pid!);
    }
  });
  const code = await exit;
  return { code, stderr, sent, disk, leftInTmp: readdirSync(tmp) };
}

describe('tsvirt-install interrupted during the install', () => {
  it.each([
    ['SIGHUP', async (pid: number) => void process.kill(pid, 'SIGHUP')],
    ['SIGINT twice, 5 ms apart', async (pid: number) => {
      process.kill(pid, 'SIGINT');
      await new Promise((r) => setTimeout(r, 5));
      process.kill(pid, 'SIGINT');
    }],
    ['SIGTERM', async (pid: number) => void process.kill(pid, 'SIGTERM')],
  ] as const)('%s: one ERROR line, the disk and the temporary directory removed', async (label, send) => {
    const r = await interruptDuringInstall(`int-${label.split(' ')[0].toLowerCase()}`, send);
    expect(r.sent).toBe(true);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ERROR'))).toEqual(['ERROR the install was interrupted; the disks it created were removed']);
    expect(existsSync(r.disk)).toBe(false);
    expect(r.leftInTmp).toEqual([]);
  }, 180_000);

  it.each(['throw', 'reject'] as const)('an uncaught error (%s) during the install: one ERROR line naming it, no stack trace, the disk and the temporary directory removed', async (fault) => {
    const r = await interruptDuringInstall(`fault-${fault}`, async (pid) => void process.kill(pid, 'SIGUSR2'), fault);
    expect(r.sent).toBe(true);
    expect(r.code).toBe(1);
    const what = fault === 'throw' ? 'an exception nobody catches' : 'a rejection nobody handles';
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ERROR'))).toEqual([`ERROR the install was stopped by an internal error: injected fault: ${what}; the disks it created were removed`]);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(r.disk)).toBe(false);
    expect(r.leftInTmp).toEqual([]);
  }, 180_000);
});
