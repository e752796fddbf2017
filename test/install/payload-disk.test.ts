import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePayloadDisk } from '../../src/install/payload-disk.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tsvirt-payload-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('payload disk', () => {
  it('is a tar that GNU tar lists and extracts member by member, as the installer does', async () => {
    const f = (name: string, data: string | Buffer) => (writeFileSync(join(dir, name), data), join(dir, name));
    const liveimg = f('root.tar.gz', execFileSync('tar', ['-czf', '-', '-C', '/etc', 'hostname']));
    const disk = join(dir, 'payload.img');
    const size = await writePayloadDisk(disk, { kernelRelease: '6.1.0-1-amd64', kernel: f('k', 'KERNEL'), initrd: f('i', 'INITRD'), liveimg });
    expect(size % 512).toBe(0);
    expect(execFileSync('tar', ['-tf', disk], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      'boot/',
      'boot/vmlinuz-6.1.0-1-amd64',
      'boot/initramfs-6.1.0-1-amd64.img',
      'liveimg',
    ]);
    // tar -xOf DISK liveimg | gunzip | tar -t: the installer's pipeline.
    const inner = execFileSync('sh', ['-c', `tar -xOf '${disk}' liveimg | gunzip | tar -tf -`], { encoding: 'utf8' });
    expect(inner.trim()).toBe('hostname');
  });

  it('leaves no file behind when a member cannot be read', async () => {
    const disk = join(dir, 'broken.img');
    await expect(writePayloadDisk(disk, { kernelRelease: 'x', kernel: '/nonexistent', initrd: '/nonexistent', liveimg: '/nonexistent' })).rejects.toThrow();
    expect(() => execFileSync('test', ['-e', disk])).toThrow();
  });
});
