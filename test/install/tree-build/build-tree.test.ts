import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { resolveLocation } from '../../../src/install/location/index.js';
import { fixture } from '../../support/fixtures.js';

const bin = fileURLToPath(new URL('../../../bin/tsvirt', import.meta.url));
let work: string;
let busybox: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-tree-'));
  const root = join(fixture('MODULES_AMD64'), '..', '..', '..');
  const bb = readdirSync(join(root)).find((d) => d.startsWith('busybox-static') && d.endsWith('_amd64'));
  busybox = join(root, bb!, 'bin', 'busybox');
  writeFileSync(join(work, 'rootfs.tar.gz'), execFileSync('tar', ['-czf', '-', '-C', '/etc', 'hostname']));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tsvirt(args: string[]) {
  return spawnSync(bin, args, { encoding: 'utf8' });
}

describe('tsvirt tree build', () => {
  it('builds a tree that --location resolves as a tsvirt tree, with an installer initramfs the kernel can unpack', async () => {
    const out = join(work, 'tree');
    const r = tsvirt(['tree', 'build', '--kernel', fixture('KERNEL_AMD64'), '--modules', fixture('MODULES_AMD64'), '--busybox', busybox, '--rootfs', join(work, 'rootfs.tar.gz'), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tree for kernel 6\.\S+-amd64 written to /);
    const tree = await resolveLocation(out, createFetcher({ cacheDir: join(work, 'cache') }));
    expect(tree.family).toBe('tsvirt');
    expect(tree.liveimg).toMatch(/rootfs\.tar\.gz$/);
    // Debian's cpio lists the installer initramfs: /init, busybox, /bin/sh, modules in load order.
    const listing = execFileSync('sh', ['-c', `gzip -dc '${tree.initrd}' | cpio -t 2>/dev/null`], { encoding: 'utf8' }).split('\n');
    for (const p of ['init', 'bin/busybox', 'bin/sh', 'lib/modules/load-order', 'lib/modules/kernel/fs/ext4/ext4.ko', 'lib/modules/kernel/drivers/block/virtio_blk.ko']) {
      expect(listing).toContain(p);
    }
    const order = execFileSync('sh', ['-c', `cd '${work}' && gzip -dc '${tree.initrd}' | cpio -i --to-stdout lib/modules/load-order 2>/dev/null`], { encoding: 'utf8' }).trim().split('\n');
    expect(order.indexOf('kernel/fs/jbd2/jbd2.ko')).toBeLessThan(order.indexOf('kernel/fs/ext4/ext4.ko'));
  });

  it('refuses bad input clearly and leaves nothing behind', () => {
    const out = join(work, 'bad');
    const cases: Array<[string[], RegExp]> = [
      [['--kernel', '/etc/hostname'], /is not a Linux bzImage/],
      [['--busybox', '/etc/hostname'], /is not a static 64-bit busybox/],
      [['--modules', '/tmp'], /has no modules for kernel/],
      [['--rootfs', '/etc/hostname'], /is not a \.tar, \.tar\.gz or \.tar\.xz/],
    ];
    for (const [override, message] of cases) {
      const args = { '--kernel': fixture('KERNEL_AMD64'), '--modules': fixture('MODULES_AMD64'), '--busybox': busybox, '--out': out } as Record<string, string>;
      args[override[0]] = override[1];
      const r = tsvirt(['tree', 'build', ...Object.entries(args).flat()]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^ERROR .*${message.source}`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(work).filter((n) => n.startsWith('bad'))).toEqual([]);
    }
  });
});
