// The worker-thread path: runMachine spawns the vCPU worker (the built dist/ copy when
// running from src/, as `npm test` builds first), streams the console and feeds stdin.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runMachine } from '../../../src/vm/machine/run-machine.js';
import { TsvirtError } from '../../../src/lib/errors.js';
import { acpiPowerOff, bzImageOf, HLT, print, waitForByte } from './guest-programs.js';

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'tsvirt-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function collect() {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('latin1') };
}

describe('runMachine', () => {
  it('streams the console to stdout and a log file, and resolves on ACPI power-off', async () => {
    const { out, text } = collect();
    const log = join(dir, 'serial.log');
    const r = await runMachine(
      { memoryBytes: 32 * MiB, vcpus: 1, kernel: bzImageOf([...print('up\n'), ...acpiPowerOff(), HLT]), cmdline: '' },
      { stdout: out, serialLogPath: log },
    );
    expect(r.kind).toBe('poweroff');
    expect(text()).toBe('up\n');
    expect(readFileSync(log, 'latin1')).toBe('up\n');
  });

  it('feeds stdin (not a TTY) into the UART', async () => {
    const { out, text } = collect();
    const stdin = new PassThrough();
    const done = runMachine(
      { memoryBytes: 32 * MiB, vcpus: 1, kernel: bzImageOf([...print('ready\n'), ...waitForByte(0x21), ...print('got it\n'), ...acpiPowerOff(), HLT]), cmdline: '' },
      { stdin, stdout: out },
    );
    stdin.write('x!');
    const r = await done;
    expect(r.kind).toBe('poweroff');
    expect(text()).toBe('ready\ngot it\n');
  });

  it('stops the guest when the signal aborts and when --wait runs out', async () => {
    const ac = new AbortController();
    const spinForever = bzImageOf([0xeb, 0xfe]); // jmp .
    setTimeout(() => ac.abort(), 300);
    expect((await runMachine({ memoryBytes: 32 * MiB, vcpus: 1, kernel: spinForever, cmdline: '' }, { signal: ac.signal })).kind).toBe('stopped');
    expect((await runMachine({ memoryBytes: 32 * MiB, vcpus: 1, kernel: spinForever, cmdline: '', timeoutMs: 300 })).kind).toBe('timeout');
  });

  it('passes user errors from the worker as TsvirtError (a file that is no kernel)', async () => {
    const bad = join(dir, 'not-a-kernel');
    await import('node:fs').then((fs) => fs.writeFileSync(bad, 'hello'));
    const err = await runMachine({ memoryBytes: 32 * MiB, vcpus: 1, kernel: bad, cmdline: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TsvirtError);
    expect((err as Error).message).toMatch(/not-a-kernel is not a bootable Linux bzImage/);
  });
});
