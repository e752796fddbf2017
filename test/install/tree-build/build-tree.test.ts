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
    expect(order).toContain('kernel/fs/fat/vfat.ko');
    // By default mke2fs comes from the host (--tools-root /) with its interpreter and libraries,
    // so the installer makes the ext4 a kickstart asks for.
    expect(r.stdout).toMatch(/^installer file systems: ext2 swap vfat ext3 ext4 \(mke2fs from \S*\/mke2fs\)$/m);
    expect(tree.installerFilesystems).toEqual(['ext2', 'swap', 'vfat', 'ext3', 'ext4']);
    for (const p of ['usr/sbin/mke2fs', 'lib64/ld-linux-x86-64.so.2', 'lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libext2fs.so.2', 'lib/x86_64-linux-gnu/libe2p.so.2']) {
      expect(listing, p).toContain(p);
    }
    // The copied mke2fs runs with the copied loader and libraries alone, like in the guest.
    const unpacked = join(work, 'unpacked');
    execFileSync('sh', ['-c', `mkdir -p '${unpacked}' && cd '${unpacked}' && gzip -dc '${tree.initrd}' | cpio -id 2>/dev/null`]);
    const version = spawnSync(join(unpacked, 'lib64/ld-linux-x86-64.so.2'), ['--library-path', join(unpacked, 'lib/x86_64-linux-gnu'), '--inhibit-cache', join(unpacked, 'usr/sbin/mke2fs'), '-V'], { encoding: 'utf8' });
    expect(version.stderr).toMatch(/^mke2fs \d+\.\d+/);
  });

  it('without mke2fs, the tree says so and records that its installer makes no ext3/ext4', async () => {
    const out = join(work, 'tree-no-mke2fs');
    const empty = join(work, 'empty-root');
    execFileSync('mkdir', ['-p', empty]);
    const r = tsvirt(['tree', 'build', '--kernel', fixture('KERNEL_AMD64'), '--modules', fixture('MODULES_AMD64'), '--busybox', busybox, '--tools-root', empty, '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^installer file systems: ext2 swap vfat \(no mke2fs in .*empty-root: no ext3\/ext4\)$/m);
    const tree = await resolveLocation(out, createFetcher({ cacheDir: join(work, 'cache') }));
    expect(tree.installerFilesystems).toEqual(['ext2', 'swap', 'vfat']);
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
