// The ISO9660 reader on images built by Debian's xorriso, and on hostile images.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeSync, closeSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { Iso9660Image, ISO_SECTOR_BYTES } from '../../../src/install/iso9660/index.js';
import { resolveLocation } from '../../../src/install/location/index.js';
import { TsvirtError } from '../../../src/lib/errors.js';
import { serveDirectory } from '../helpers/static-server.js';
import { INITRD, KERNEL, writeFedoraTree, writeTreeFile } from '../helpers/trees.js';

const LONG_NAME = `${'n'.repeat(200)}.txt`;
let work: string;
let rrIso: string;
let jolietIso: string;
let plainIso: string;
let debianIso: string;

function mkiso(out: string, dir: string, flags: string[]): void {
  execFileSync('xorriso', ['-as', 'mkisofs', ...flags, '-V', 'TSVIRT_TEST', '-o', out, dir], { stdio: 'pipe' });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-iso-'));
  const tree = join(work, 'tree');
  writeFedoraTree(tree);
  writeTreeFile(tree, 'a/very-long-directory-name-for-rock-ridge/Mixed.Case.File.txt', 'deep');
  writeTreeFile(tree, 'loop/inner/x', 'x');
  // A name too long for the record's system-use area: xorriso continues it in a CE area.
  writeTreeFile(tree, `long/${LONG_NAME}`, 'long');
  rrIso = join(work, 'rr.iso');
  mkiso(rrIso, tree, ['-R', '-J']);
  jolietIso = join(work, 'joliet.iso');
  mkiso(jolietIso, tree, ['--norock', '-J', '-joliet-long']);
  const plain = join(work, 'plain');
  writeTreeFile(plain, 'BOOT/VMLINUZ', KERNEL);
  writeTreeFile(plain, 'BOOT/INITRD.IMG', INITRD);
  plainIso = join(work, 'plain.iso');
  mkiso(plainIso, plain, ['--norock']);
  const deb = join(work, 'debian');
  writeTreeFile(deb, '.disk/info', 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04');
  writeTreeFile(deb, 'install.amd/vmlinuz', KERNEL);
  writeTreeFile(deb, 'install.amd/initrd.gz', INITRD);
  debianIso = join(work, 'debian.iso');
  mkiso(debianIso, deb, ['-R', '-J']);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<TsvirtError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TsvirtError);
  return err as TsvirtError;
}

describe('Iso9660Image', () => {
  it('reads Rock Ridge names (case, length, dots) from an xorriso image', async () => {
    const iso = await Iso9660Image.open(rrIso);
    try {
      expect(iso.nameScheme).toBe('rockridge');
      expect(iso.volumeId).toBe('TSVIRT_TEST');
      const names = (await iso.list('/')).map((e) => e.name).sort();
      expect(names).toEqual(['.treeinfo', 'a', 'images', 'long', 'loop']);
      expect(readFileSync(rrIso).includes(Buffer.from([0x43, 0x45, 0x1c, 0x01]))).toBe(true); // an SUSP "CE" entry
      expect((await iso.list('long')).map((e) => e.name)).toEqual([LONG_NAME]);
      expect(Buffer.from(await iso.readFile(`long/${LONG_NAME}`)).toString()).toBe('long');
      const deep = await iso.readFile('a/very-long-directory-name-for-rock-ridge/Mixed.Case.File.txt');
      expect(Buffer.from(deep).toString()).toBe('deep');
      expect(await iso.lookup('images/pxeboot/missing')).toBeUndefined();
    } finally {
      await iso.close();
    }
  });

  it('reads Joliet names when there is no Rock Ridge, and plain ISO9660 names', async () => {
    const j = await Iso9660Image.open(jolietIso);
    expect(j.nameScheme).toBe('joliet');
    expect(Buffer.from(await j.readFile('.treeinfo')).toString()).toMatch(/family = Fedora/);
    await j.close();
    const p = await Iso9660Image.open(plainIso);
    expect(p.nameScheme).toBe('iso');
    expect(Buffer.from(await p.readFile('boot/vmlinuz')).toString()).toBe(KERNEL);
    await p.close();
  });

  it('resolves --location ISO to the kernel and initrd of its .treeinfo tree', async () => {
    const fetcher = createFetcher({ cacheDir: join(work, 'cache') });
    const tree = await resolveLocation(rrIso, fetcher);
    expect(tree.family).toBe('fedora');
    expect(tree.source.kind).toBe('iso');
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    expect(readFileSync(tree.initrd, 'utf8')).toBe(INITRD);
    const viaJoliet = await resolveLocation(jolietIso, fetcher);
    expect(readFileSync(viaJoliet.initrd, 'utf8')).toBe(INITRD);
    const override = await resolveLocation(`${plainIso},kernel=boot/vmlinuz,initrd=boot/initrd.img`, fetcher);
    expect(readFileSync(override.kernel, 'utf8')).toBe(KERNEL);
  });

  it('resolves a Debian netinst-style ISO (.disk/info, install.amd/)', async () => {
    const tree = await resolveLocation(debianIso, createFetcher({ cacheDir: join(work, 'cache') }));
    expect(tree.family).toBe('debian');
    expect(tree.version).toBe('12.8.0');
    expect(tree.kernelArgs).toEqual([]);
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    expect(readFileSync(tree.initrd, 'utf8')).toBe(INITRD);
  });

  it('verifies .treeinfo checksums while extracting from an ISO, leaving nothing behind', async () => {
    const badTree = join(work, 'badtree');
    writeFedoraTree(badTree, { badChecksum: true });
    const badIso = join(work, 'badsum.iso');
    mkiso(badIso, badTree, ['-R']);
    const cache = join(work, 'cache-bad');
    const err = await failure(resolveLocation(badIso, createFetcher({ cacheDir: cache })));
    expect(err.message).toMatch(/sha256 checksum mismatch for .*badsum.iso:\/images\/pxeboot\/vmlinuz/);
    const extracted = readdirSync(join(cache, 'iso'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(extracted).toEqual([]);
  });

  it('downloads an ISO given as an http URL and reads it the same way', async () => {
    const server = await serveDirectory(work);
    try {
      const tree = await resolveLocation(`${server.url}/rr.iso`, createFetcher({ cacheDir: join(work, 'cache-url') }));
      expect(tree.source).toEqual({ kind: 'iso', location: `${server.url}/rr.iso` });
      expect(tree.kernelArgs).toEqual([]);
      expect(readFileSync(tree.initrd, 'utf8')).toBe(INITRD);
      expect(server.requests).toEqual(['/rr.iso']);
    } finally {
      await server.close();
    }
  });

  it('fails clearly on a truncated image', async () => {
    const cut = join(work, 'cut.iso');
    copyFileSync(rrIso, cut);
    truncateSync(cut, 20 * ISO_SECTOR_BYTES);
    const iso = await Iso9660Image.open(cut).catch((e: unknown) => e);
    if (iso instanceof Iso9660Image) {
      const err = await failure(iso.readFile('images/pxeboot/vmlinuz'));
      expect(err.message).toMatch(/truncated/);
      await iso.close();
    } else {
      expect(iso).toBeInstanceOf(TsvirtError);
      expect((iso as Error).message).toMatch(/truncated|damaged/);
    }
    truncateSync(cut, 10 * ISO_SECTOR_BYTES);
    expect((await failure(Iso9660Image.open(cut))).message).toMatch(/too small/);
  });

  it('fails clearly on a bad volume descriptor', async () => {
    const bad = join(work, 'bad.iso');
    copyFileSync(rrIso, bad);
    const fd = openSync(bad, 'r+');
    writeSync(fd, Buffer.from('XX001'), 0, 5, 16 * ISO_SECTOR_BYTES + 1);
    closeSync(fd);
    expect((await failure(Iso9660Image.open(bad))).message).toMatch(/bad volume descriptor at sector 16/);
    expect((await failure(resolveLocation(bad, createFetcher({ cacheDir: join(work, 'cache') })))).message).toMatch(/not an ISO9660 image/);
  });

  it('detects a directory that loops back to its ancestor', async () => {
    const looped = join(work, 'loop.iso');
    copyFileSync(rrIso, looped);
    const iso = await Iso9660Image.open(looped);
    const loopDir = (await iso.lookup('loop'))!;
    const inner = (await iso.list('loop')).find((e) => e.name === 'inner')!;
    await iso.close();
    // Point loop/inner's extent (both-endian, ECMA-119 §9.1.3) at loop itself.
    const fd = openSync(looped, 'r+');
    const le = Buffer.alloc(4);
    le.writeUInt32LE(loopDir.extent);
    const be = Buffer.alloc(4);
    be.writeUInt32BE(loopDir.extent);
    writeSync(fd, le, 0, 4, inner.recordOffset + 2);
    writeSync(fd, be, 0, 4, inner.recordOffset + 6);
    closeSync(fd);
    const again = await Iso9660Image.open(looped);
    expect((await failure(again.lookup('loop/inner/inner/x'))).message).toMatch(/directory loop/);
    await again.close();
  });

  it('refuses a directory record whose name overruns it', async () => {
    const broken = join(work, 'rec.iso');
    copyFileSync(rrIso, broken);
    const iso = await Iso9660Image.open(broken);
    const entry = (await iso.list('/')).find((e) => e.name === 'images')!;
    await iso.close();
    const fd = openSync(broken, 'r+');
    const len = Buffer.alloc(1);
    readSync(fd, len, 0, 1, entry.recordOffset);
    writeSync(fd, Buffer.from([len[0]]), 0, 1, entry.recordOffset + 32);
    closeSync(fd);
    const again = await Iso9660Image.open(broken);
    expect((await failure(again.list('/'))).message).toMatch(/name overruns the record/);
    await again.close();
  });
});
