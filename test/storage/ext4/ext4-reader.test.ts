import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/lib/errors.js';
import { Ext4Reader } from '../../../src/storage/ext4/ext4-reader.js';
import { RawImage } from '../../../src/storage/raw-image.js';

// Real file systems made by Debian's mke2fs from a directory tree (-d), read back through
// the reader and compared with the source files.
let work: string;
let tree: string;
const files: Record<string, Buffer> = {};

function pseudoRandom(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-ext4-'));
  tree = join(work, 'tree');
  mkdirSync(join(tree, 'boot/extlinux'), { recursive: true });
  mkdirSync(join(tree, 'etc'), { recursive: true });
  mkdirSync(join(tree, 'many'), { recursive: true });
  const put = (rel: string, data: Buffer): void => {
    writeFileSync(join(tree, rel), data);
    files[rel] = data;
  };
  put('boot/extlinux/extlinux.conf', Buffer.from('DEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND root=UUID=x console=ttyS0\n'));
  put('boot/vmlinuz', pseudoRandom(3 * 1024 * 1024 + 123, 1)); // many blocks: extents / double indirect at 1 KiB
  put('etc/hostname', Buffer.from('guest\n'));
  put('empty', Buffer.alloc(0));
  for (let i = 0; i < 400; i++) put(`many/file-${i}`, Buffer.from(`entry ${i}\n`)); // a multi-block (htree) directory
  // A sparse file: data, a 2 MiB hole, data.
  const sparse = join(tree, 'sparse');
  const fd = openSync(sparse, 'w');
  writeSync(fd, Buffer.from('head'), 0, 4, 0);
  writeSync(fd, Buffer.from('tail'), 0, 4, 2 * 1024 * 1024 + 4);
  ftruncateSync(fd, 2 * 1024 * 1024 + 8);
  closeSync(fd);
  files.sparse = readFileSync(sparse);
  symlinkSync('extlinux/extlinux.conf', join(tree, 'boot/fast-link'));
  symlinkSync(`../boot/${'x/'.repeat(0)}extlinux/${'./'.repeat(40)}extlinux.conf`, join(tree, 'etc/slow-link')); // > 60 bytes: stored in a block
  symlinkSync('/etc/hostname', join(tree, 'absolute-link'));
  symlinkSync('loop-b', join(tree, 'loop-a'));
  symlinkSync('loop-a', join(tree, 'loop-b'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function makeFs(name: string, mkfsArgs: string[], sizeMiB = 16): string {
  const img = join(work, `${name}.img`);
  execFileSync('mke2fs', ['-q', '-F', ...mkfsArgs, '-L', name, '-d', tree, img, `${sizeMiB}M`], { stdio: 'pipe' });
  return img;
}

describe.each([
  ['ext4', ['-t', 'ext4']],
  ['ext4-1k', ['-t', 'ext4', '-b', '1024']],
  ['ext4-64bit', ['-t', 'ext4', '-O', '64bit']],
  ['ext3', ['-t', 'ext3']],
  ['ext2', ['-t', 'ext2']],
  ['ext2-1k', ['-t', 'ext2', '-b', '1024']],
  ['ext2-nofiletype', ['-t', 'ext2', '-O', '^filetype']],
])('%s', (name, args) => {
  let img: string;
  let dev: RawImage;
  let fs: Ext4Reader;
  beforeAll(() => {
    img = makeFs(name, args);
    dev = RawImage.open(img, { readOnly: true });
    fs = Ext4Reader.open(dev);
  });
  afterAll(() => dev.close());

  it('reads every file byte-identical, including holes', () => {
    for (const [rel, data] of Object.entries(files)) expect(Buffer.from(fs.readFile(rel)).equals(data), rel).toBe(true);
  });

  it('lists directories, with types', () => {
    const names = fs.readDir('/boot').map((e) => `${e.name}:${e.type}`).sort();
    const expected = ['.:directory', '..:directory', 'extlinux:directory', 'fast-link:symlink', 'vmlinuz:file'];
    expect(names).toEqual((name.includes('nofiletype') ? expected.map((n) => n.replace(/:.*/, ':other')) : expected).sort());
    expect(fs.readDir('/many').filter((e) => e.name.startsWith('file-'))).toHaveLength(400);
  });

  it('follows fast, slow, relative and absolute symlinks', () => {
    expect(fs.readlink('/boot/fast-link')).toBe('extlinux/extlinux.conf');
    expect(Buffer.from(fs.readFile('/boot/fast-link')).toString()).toMatch(/^DEFAULT linux/);
    expect(fs.readlink('/etc/slow-link').length).toBeGreaterThan(60);
    expect(Buffer.from(fs.readFile('/etc/slow-link')).toString()).toMatch(/^DEFAULT linux/);
    expect(Buffer.from(fs.readFile('/absolute-link')).toString()).toBe('guest\n');
    expect(fs.stat('/boot/vmlinuz')).toMatchObject({ type: 'file', size: files['boot/vmlinuz'].length });
  });

  it('reports the label and the UUID blkid reports', () => {
    expect(fs.sb.label).toBe(name);
    const uuid = execFileSync('blkid', ['-o', 'value', '-s', 'UUID', img], { encoding: 'utf8' }).trim();
    expect(fs.sb.uuid).toBe(uuid);
  });

  it('fails clearly on missing paths and symlink loops', () => {
    expect(() => fs.readFile('/nope')).toThrow(/\/nope: no such file or directory/);
    expect(fs.exists('/boot/vmlinuz')).toBe(true);
    expect(fs.exists('/boot/nope')).toBe(false);
    expect(() => fs.readFile('/loop-a')).toThrow(/too many levels of symbolic links/);
    expect(() => fs.readFile('/boot/vmlinuz', 1024)).toThrow(/more than the 1024 allowed/);
  });
});

describe('hostile ext4 images', () => {
  let serial = 0;
  function openError(mutate: (img: Buffer) => void, victim?: string, path = '/boot/vmlinuz'): string {
    const img = victim ?? makeFs(`hostile-${serial++}`, ['-t', 'ext4'], 8);
    const bytes = readFileSync(img);
    mutate(bytes);
    writeFileSync(img, bytes);
    const dev = RawImage.open(img, { readOnly: true });
    try {
      Ext4Reader.open(dev).readFile(path);
      return 'no error';
    } catch (err) {
      return describeError(err);
    } finally {
      dev.close();
    }
  }
  const blockSize = (img: string): number => 1024 << readFileSync(img).readUInt32LE(1024 + 24);
  const inodeOffset = (img: string, path: string): number => {
    // debugfs "imap" prints the block and offset of an inode.
    const out = execFileSync('debugfs', ['-R', `imap ${path}`, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out);
    if (!m) throw new Error(`debugfs imap: ${out}`);
    return Number(m[1]) * blockSize(img) + parseInt(m[2], 16);
  };

  it('a bad magic', () => {
    expect(openError((b) => b.writeUInt16LE(0x1234, 1024 + 56))).toMatch(/not a readable ext2\/3\/4 file system: bad superblock magic/);
  });
  it('a block count larger than the device', () => {
    expect(openError((b) => b.writeUInt32LE(0x7fffffff, 1024 + 4))).toMatch(/do not fit the .*-byte device/);
  });
  it('an absurd block size', () => {
    expect(openError((b) => b.writeUInt32LE(30, 1024 + 24))).toMatch(/block size .* out of range/);
  });
  it('an unsupported incompatible feature', () => {
    expect(openError((b) => b.writeUInt32LE(b.readUInt32LE(1024 + 96) | 0x10000, 1024 + 96))).toMatch(/feature encrypt is not supported yet/);
  });
  it('a corrupt extent header, and an extent beyond the file system', () => {
    const a = makeFs('extent-victim-a', ['-t', 'ext4'], 8);
    expect(openError((b) => b.writeUInt16LE(0xdead, inodeOffset(a, '/boot/vmlinuz') + 40), a)).toMatch(/inode \d+: bad extent header magic/);
    // The root extent's first entry: an index (ei_leaf_lo at +4) or a leaf (ee_start_lo at +8).
    const b = makeFs('extent-victim-b', ['-t', 'ext4'], 8);
    const off = inodeOffset(b, '/boot/vmlinuz');
    const depth = readFileSync(b).readUInt16LE(off + 40 + 6);
    expect(openError((img) => img.writeUInt32LE(0x0fffffff, off + 40 + 12 + (depth ? 4 : 8)), b)).toMatch(
      /inode \d+: (block \d+\+\d+ is outside the file system|extent index points at block \d+)/,
    );
  });
  it('a directory entry whose length runs past its block', () => {
    const img = makeFs('dirent-victim', ['-t', 'ext4'], 8);
    const out = execFileSync('debugfs', ['-R', 'blocks /boot', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const block = Number(out.trim().split(/\s+/)[0]);
    expect(openError((b) => b.writeUInt16LE(0xfff0, block * blockSize(img) + 4), img)).toMatch(/inode \d+: bad directory entry/);
  });
});
