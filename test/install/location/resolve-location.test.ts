// resolveLocation over local directories, a real HTTP server and the layouts virt-install knows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFetcher, type Fetcher } from '../../../src/install/fetch/index.js';
import { parseLocationSpec, renderTsvirtTreeInfo, resolveLocation } from '../../../src/install/location/index.js';
import { TsvirtError } from '../../../src/lib/errors.js';
import { serveDirectory, type StaticServer } from '../helpers/static-server.js';
import { INITRD, KERNEL, sha256, writeFedoraTree, writeTreeFile } from '../helpers/trees.js';

let work: string;
let fetcher: Fetcher;
let server: StaticServer;
let served: string;

beforeAll(async () => {
  served = mkdtempSync(join(tmpdir(), 'tsvirt-served-'));
  writeFedoraTree(join(served, 'fedora'));
  writeFedoraTree(join(served, 'suse'), { family: 'openSUSE' });
  const deb = 'debian/dists/bookworm/main/installer-amd64';
  writeTreeFile(served, `${deb}/current/images/MANIFEST`, 'netboot/debian-installer/amd64/linux\tDebian kernel for netboot\n');
  writeTreeFile(served, `${deb}/current/images/netboot/debian-installer/amd64/linux`, KERNEL);
  writeTreeFile(served, `${deb}/current/images/netboot/debian-installer/amd64/initrd.gz`, INITRD);
  const suite = 'debian2/dists/trixie';
  writeTreeFile(served, `${suite}/main/installer-amd64/current/images/MANIFEST`, 'Debian netboot\n');
  writeTreeFile(served, `${suite}/main/installer-amd64/current/images/netboot/debian-installer/amd64/linux`, KERNEL);
  writeTreeFile(served, `${suite}/main/installer-amd64/current/images/netboot/debian-installer/amd64/initrd.gz`, INITRD);
  const ubu = 'ubuntu/dists/focal/main/installer-amd64';
  writeTreeFile(served, `${ubu}/current/legacy-images/MANIFEST`, 'Ubuntu netboot images\n');
  writeTreeFile(served, `${ubu}/current/legacy-images/netboot/ubuntu-installer/amd64/linux`, KERNEL);
  writeTreeFile(served, `${ubu}/current/legacy-images/netboot/ubuntu-installer/amd64/initrd.gz`, INITRD);
  server = await serveDirectory(served);
});
afterAll(async () => {
  await server.close();
  rmSync(served, { recursive: true, force: true });
});
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-loc-'));
  fetcher = createFetcher({ cacheDir: join(work, 'cache'), retries: 0 });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<TsvirtError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TsvirtError);
  return err as TsvirtError;
}

describe('resolveLocation', () => {
  it('reads a Fedora .treeinfo tree from a local directory', async () => {
    const root = join(work, 'tree');
    writeFedoraTree(root);
    const tree = await resolveLocation(root, fetcher);
    expect(tree.family).toBe('fedora');
    expect(tree.version).toBe('41');
    expect(tree.arch).toBe('x86_64');
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    expect(readFileSync(tree.initrd, 'utf8')).toBe(INITRD);
    expect(tree.kernelArgs).toEqual([]);
    expect(tree.source).toEqual({ kind: 'directory', location: root });
    expect(tree.notes[0]).toMatch(/inst.repo=/);
  });

  it('adds inst.repo= for a Fedora network tree and install= for SUSE, as virt-install does', async () => {
    const url = `${server.url}/fedora`;
    const tree = await resolveLocation(url, fetcher);
    expect(tree.kernelArgs).toEqual([`inst.repo=${url}`]);
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    expect(tree.source.kind).toBe('url');
    const suse = await resolveLocation(`${server.url}/suse/`, fetcher);
    expect(suse.family).toBe('suse');
    expect(suse.kernelArgs).toEqual([`install=${server.url}/suse/`]);
  });

  it('fails when a .treeinfo checksum does not match', async () => {
    const root = join(work, 'bad');
    writeFedoraTree(root, { badChecksum: true });
    const err = await failure(resolveLocation(root, fetcher));
    expect(err.message).toMatch(/sha256 checksum mismatch for .*images\/pxeboot\/vmlinuz/);
  });

  it('says a file is missing only when it is: the error comes from the error, not from its text', async () => {
    // A location whose name contains "404" and "no such file" must not turn a checksum
    // mismatch into "the install tree has no ..." (issue 15).
    const root = join(work, 'mirror-404 no such file');
    writeFedoraTree(root, { badChecksum: true });
    const err = await failure(resolveLocation(root, fetcher));
    expect(err.message).toMatch(/^sha256 checksum mismatch for .*images\/pxeboot\/vmlinuz/);
    rmSync(join(root, 'images/pxeboot/vmlinuz'));
    const missing = await failure(resolveLocation(root, fetcher));
    expect(missing.message).toBe('the install tree has no images/pxeboot/vmlinuz (' + join(root, 'images/pxeboot/vmlinuz') + ')');
  });

  it('finds a Debian netboot tree under main/installer-amd64', async () => {
    const url = `${server.url}/debian/dists/bookworm/main/installer-amd64/`;
    const tree = await resolveLocation(url, fetcher);
    expect(tree.family).toBe('debian');
    expect(tree.kernelArgs).toEqual([]);
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    expect(server.requests).toContain('/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64/linux');
  });

  it('finds a Debian netboot tree from a dists/SUITE location and an Ubuntu legacy tree', async () => {
    const deb = await resolveLocation(`${server.url}/debian2/dists/trixie`, fetcher);
    expect(deb.family).toBe('debian');
    expect(readFileSync(deb.initrd, 'utf8')).toBe(INITRD);
    const ubu = await resolveLocation(`${server.url}/ubuntu/dists/focal/main/installer-amd64`, fetcher);
    expect(ubu.family).toBe('ubuntu');
    expect(readFileSync(ubu.kernel, 'utf8')).toBe(KERNEL);
  });

  it('finds Debian install media (.disk/info, install.amd/)', async () => {
    const root = join(work, 'debcd');
    writeTreeFile(root, '.disk/info', 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware');
    writeTreeFile(root, 'install.amd/vmlinuz', KERNEL);
    writeTreeFile(root, 'install.amd/initrd.gz', INITRD);
    const tree = await resolveLocation(root, fetcher);
    expect(tree.family).toBe('debian');
    expect(tree.version).toBe('12.8.0');
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
  });

  it('reads a tsvirt tree and insists on its checksums', async () => {
    const root = join(work, 'ts');
    writeTreeFile(root, 'images/pxeboot/vmlinuz', KERNEL);
    writeTreeFile(root, 'images/pxeboot/initrd.img', INITRD);
    writeTreeFile(root, 'images/rootfs.tar.gz', 'rootfs');
    const checksums = {
      'images/pxeboot/vmlinuz': `sha256:${sha256(KERNEL)}`,
      'images/pxeboot/initrd.img': `sha256:${sha256(INITRD)}`,
      'images/rootfs.tar.gz': `sha256:${sha256('rootfs')}`,
    };
    writeTreeFile(root, '.treeinfo', renderTsvirtTreeInfo({ version: '1', arch: 'x86_64', liveimg: 'images/rootfs.tar.gz', checksums }));
    const tree = await resolveLocation(root, fetcher);
    expect(tree.family).toBe('tsvirt');
    expect(tree.kernelArgs).toEqual(['cryptomgr.notests']); // the installer needs no crypto self-tests
    expect(tree.liveimg).toBe(join(root, 'images/rootfs.tar.gz'));
    expect(tree.notes).toEqual([]);

    const { 'images/pxeboot/initrd.img': _dropped, ...partial } = checksums;
    writeTreeFile(root, '.treeinfo', renderTsvirtTreeInfo({ version: '1', arch: 'x86_64', checksums: partial }));
    const err = await failure(resolveLocation(root, fetcher));
    expect(err.message).toMatch(/\[checksums\] has no entry for images\/pxeboot\/initrd.img/);
  });

  it('takes kernel=/initrd= overrides, relative to the tree, and refuses ".."', async () => {
    const root = join(work, 'custom');
    writeTreeFile(root, 'boot/k', KERNEL);
    writeTreeFile(root, 'boot/i', INITRD);
    const tree = await resolveLocation(`${root},kernel=boot/k,initrd=boot/i`, fetcher);
    expect(tree.family).toBe('custom');
    expect(readFileSync(tree.kernel, 'utf8')).toBe(KERNEL);
    const err = await failure(resolveLocation({ location: root, kernel: '../../etc/passwd', initrd: 'boot/i' }, fetcher));
    expect(err.message).toMatch(/leaves the install tree/);
    expect(parseLocationSpec('http://h/x,kernel=a/b,initrd=c')).toEqual({ location: 'http://h/x', kernel: 'a/b', initrd: 'c' });
    expect(() => parseLocationSpec('http://h/x,kernel=a,foo=b')).toThrow(/unknown --location suboption 'foo=b'/);
  });

  it('says what it looked for when the layout is unknown', async () => {
    const root = join(work, 'empty');
    writeTreeFile(root, 'README', 'nothing here');
    const err = await failure(resolveLocation(root, fetcher));
    expect(err.message).toMatch(/cannot recognise the install tree/);
    expect(err.message).toContain('.treeinfo');
    expect(err.message).toContain('current/images/MANIFEST');
    expect(err.message).toContain('.disk/info');
    expect(err.hint).toMatch(/kernel=PATH,initrd=PATH/);
    const missing = await failure(resolveLocation(`${server.url}/nothing-here`, fetcher));
    expect(missing.message).toMatch(/cannot recognise/);
    expect((await failure(resolveLocation(join(work, 'no-such-dir'), fetcher))).message).toMatch(/does not exist/);
  });

  it('refuses a tree built for another architecture', async () => {
    const root = join(work, 'arm');
    writeTreeFile(root, '.treeinfo', '[general]\nfamily = Fedora\nversion = 41\narch = aarch64\n[images-aarch64]\nkernel = a\ninitrd = b\n');
    expect((await failure(resolveLocation(root, fetcher))).message).toMatch(/is for aarch64; tsvirt runs x86_64/);
  });
});
