// Image locks: a writer excludes everyone, readers share; the scheme is QEMU's, so
// qemu-io / qemu-img see tsvirt's locks and tsvirt sees theirs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TsvirtError } from '../../src/lib/errors.js';
import { createImage } from '../../src/storage/create-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { makeTmpDir, run } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());

function expectLocked(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TsvirtError);
  expect((caught as Error).message).toMatch(pattern);
}

describe('image locking', () => {
  for (const format of ['qcow2', 'raw'] as const) {
    it(`${format}: writer excludes writers and readers; readers share`, () => {
      const p = tmp.file(`l.${format}`);
      createImage({ path: p, format, sizeBytes: 2 ** 20 });
      const w = openImage(p, { readOnly: false });
      expectLocked(() => openImage(p, { readOnly: false }), /in use: cannot get the exclusive write lock \(held by this process/);
      expectLocked(() => openImage(p, { readOnly: true }), /being written: cannot get a shared/);
      const peek = openImage(p, { readOnly: true, forceShare: true });
      peek.close();
      w.close();
      const r1 = openImage(p, { readOnly: true });
      const r2 = openImage(p, { readOnly: true });
      expectLocked(() => openImage(p, { readOnly: false }), /in use/);
      r1.close();
      r2.close();
      openImage(p, { readOnly: false }).close();
    });
  }

  it('tsvirt holding an image for writing stops qemu-img and qemu-io', () => {
    const p = tmp.file('held.qcow2');
    createImage({ path: p, format: 'qcow2', sizeBytes: 2 ** 20 });
    const w = openImage(p, { readOnly: false });
    try {
      const info = run('qemu-img', ['info', p]);
      expect(info.status).toBe(1);
      expect(info.stderr).toMatch(/Failed to get shared "write" lock/);
      expect(run('qemu-img', ['info', '-U', p]).status).toBe(0);
      const io = run('qemu-io', ['-c', 'write 0 4k', p]);
      expect(io.stderr).toMatch(/Failed to get "write" lock/);
    } finally {
      w.close();
    }
    expect(run('qemu-img', ['info', p]).status).toBe(0);
  });

  it('qemu-io holding an image: tsvirt refuses and names the holder', async () => {
    const p = tmp.file('qemu-held.qcow2');
    createImage({ path: p, format: 'qcow2', sizeBytes: 2 ** 20 });
    const child = spawn('qemu-io', ['-c', 'sleep 20000', p], { stdio: 'ignore' });
    try {
      // Wait until qemu-io has taken its lock bytes.
      const ino = fs.statSync(p).ino;
      for (let i = 0; i < 200 && !fs.readFileSync('/proc/locks', 'utf8').includes(`:${ino} 201 201`); i++) await new Promise((r) => setTimeout(r, 25));
      expectLocked(() => openImage(p, { readOnly: false }), new RegExp(`held by pid ${child.pid} \\(qemu-io\\)`));
      expectLocked(() => openImage(p, { readOnly: true }), /being written/);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    openImage(p, { readOnly: false }).close();
  });
});
