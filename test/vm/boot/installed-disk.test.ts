import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/lib/errors.js';
import { parseExtlinuxConf, chooseExtlinuxEntry } from '../../../src/vm/boot/boot-config.js';
import { findDiskBoot } from '../../../src/vm/boot/installed-disk.js';
import { writePartitionTable, spaceAfter } from '../../../src/storage/partition/partition-table.js';
import { RawImage } from '../../../src/storage/raw-image.js';

const MiB = 1024 * 1024;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tsvirt-diskboot-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KERNEL = Buffer.from('pretend bzImage bytes');
const INITRD = Buffer.from('pretend initramfs bytes');

function tree(name: string, files: Record<string, string | Buffer>): string {
  const root = join(dir, name);
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
  return root;
}

/** A disk partitioned by tsvirt whose partitions get file systems made from trees. */
function disk(name: string, scheme: 'mbr' | 'gpt', parts: Array<{ mib: number; kind: 'linux' | 'swap'; tree?: string }>): string {
  const path = join(dir, `${name}.img`);
  writeFileSync(path, '');
  truncateSync(path, 128 * MiB);
  const dev = RawImage.open(path, { readOnly: false });
  const table = writePartitionTable(
    dev,
    scheme,
    parts.map((p, i) => ({ kind: p.kind, sizeBytes: p.mib ? p.mib * MiB : spaceAfter(dev.size, scheme, parts.slice(0, i).reduce((n, q) => n + q.mib * MiB, 0)) })),
  );
  dev.close();
  table.partitions.forEach((p, i) => {
    const t = parts[i].tree;
    if (!t) return;
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', `offset=${p.startBytes}`, '-d', t, path, `${p.sizeBytes / 1024}k`], { stdio: 'pipe' });
  });
  return path;
}

function boot(path: string) {
  const dev = RawImage.open(path, { readOnly: true });
  try {
    return findDiskBoot(dev);
  } finally {
    dev.close();
  }
}

describe('booting an installed disk (pygrub-style)', () => {
  it('finds extlinux.conf on a separate /boot partition (MBR: boot, swap, root)', () => {
    const bootTree = tree('sep-boot', {
      'extlinux/extlinux.conf': 'TIMEOUT 1\nDEFAULT linux\nLABEL rescue\n  KERNEL /vmlinuz-rescue\nLABEL linux\n  KERNEL ../vmlinuz\n  INITRD /initrd.img\n  APPEND root=UUID=1234 console=ttyS0 quiet\n',
      vmlinuz: KERNEL,
      'initrd.img': INITRD,
    });
    const rootTree = tree('sep-root', { 'etc/hostname': 'guest\n' });
    const b = boot(disk('sep', 'mbr', [{ mib: 32, kind: 'linux', tree: bootTree }, { mib: 16, kind: 'swap' }, { mib: 0, kind: 'linux', tree: rootTree }]));
    expect(b.source).toBe('partition 1: /extlinux/extlinux.conf (linux)');
    expect(Buffer.from(b.kernel).equals(KERNEL)).toBe(true);
    expect(Buffer.from(b.initrd!).equals(INITRD)).toBe(true);
    expect(b.cmdline).toBe('root=UUID=1234 console=ttyS0 quiet');
  });

  it('finds /boot/extlinux/extlinux.conf on a single GPT root, with initrd= on the APPEND line', () => {
    const t = tree('gpt-root', {
      'boot/extlinux/extlinux.conf': 'LABEL only\n  LINUX /boot/vmlinuz\n  APPEND initrd=/boot/initrd.img root=/dev/vda1\n',
      'boot/vmlinuz': KERNEL,
      'boot/initrd.img': INITRD,
    });
    const b = boot(disk('gpt', 'gpt', [{ mib: 0, kind: 'linux', tree: t }]));
    expect(b.source).toBe('partition 1: /boot/extlinux/extlinux.conf (only)');
    expect(b.cmdline).toBe('root=/dev/vda1');
    expect(Buffer.from(b.initrd!).equals(INITRD)).toBe(true);
  });

  it('falls back to the newest BLS entry, expanding $kernelopts from grubenv', () => {
    const t = tree('bls', {
      'boot/loader/entries/a-5.14.0.conf': 'title Old\nversion 5.14.0\nlinux /vmlinuz-5.14.0\ninitrd /initramfs-5.14.0.img\noptions $kernelopts\n',
      'boot/loader/entries/a-5.9.0.conf': 'title Older\nversion 5.9.0\nlinux /vmlinuz-5.9.0\noptions ro\n',
      'boot/grub2/grubenv': '# GRUB Environment Block\nkernelopts=root=UUID=abcd ro console=ttyS0\n####\n',
      'boot/vmlinuz-5.14.0': KERNEL,
      'boot/initramfs-5.14.0.img': INITRD,
    });
    const b = boot(disk('bls', 'gpt', [{ mib: 0, kind: 'linux', tree: t }]));
    expect(b.source).toBe('partition 1: /boot/loader/entries (Old)');
    expect(b.cmdline).toBe('root=UUID=abcd ro console=ttyS0');
    expect(Buffer.from(b.kernel).equals(KERNEL)).toBe(true);
  });

  it('reads an unpartitioned disk holding one file system', () => {
    const t = tree('whole', { 'boot/extlinux/extlinux.conf': 'LABEL x\nKERNEL /boot/k\n', 'boot/k': KERNEL });
    const path = join(dir, 'whole.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', t, path, '16M'], { stdio: 'pipe' });
    expect(boot(path).source).toBe('the whole disk: /boot/extlinux/extlinux.conf (x)');
  });

  it('says what it looked for when nothing boots, and names a missing kernel', () => {
    const empty = disk('empty', 'gpt', [{ mib: 0, kind: 'linux', tree: tree('empty-root', { 'etc/x': 'y' }) }]);
    const msg = (() => {
      try {
        boot(empty);
        return '';
      } catch (err) {
        return describeError(err);
      }
    })();
    expect(msg).toMatch(/^no boot configuration found on the disk \(looked on 1 ext2\/3\/4 file system\(s\) for \/boot\/extlinux\/extlinux.conf, .*\/loader\/entries\); /);
    const t = tree('nokernel', { 'boot/extlinux/extlinux.conf': 'LABEL x\nKERNEL /boot/missing\n' });
    expect(() => boot(disk('nokernel', 'mbr', [{ mib: 0, kind: 'linux', tree: t }]))).toThrow(/names \/boot\/missing, which is not on the disk/);
  });

  it('parses extlinux.conf the way syslinux does', () => {
    const cfg = parseExtlinuxConf('default B\nlabel A\nkernel a\nlabel B\nmenu label Bee\nlinux b\ninitrd i1,i2\n', '/boot/extlinux/extlinux.conf');
    expect(chooseExtlinuxEntry(cfg, 'x')).toEqual({ label: 'B', title: 'Bee', kernel: '/boot/extlinux/b', initrd: ['/boot/extlinux/i1', '/boot/extlinux/i2'], append: '' });
    expect(() => chooseExtlinuxEntry(parseExtlinuxConf('TIMEOUT 5\n', '/e.conf'), '/e.conf')).toThrow(/has no LABEL with a KERNEL/);
  });
});
