// Issue 15: a backing file name inside an image is the image maker's, not the user's. It is
// followed only into the image's own directory (symlinks resolved), unless the user allows
// the place: --allow-backing on `tsvirt img`, backing_store= on tsvirt-install, a
// <backingStore> in a definition. qemu-img follows such names anywhere; the tests use it
// to make the hostile images and as the reference for what an allowed chain reads.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domain/index.js';
import { TsvirtError } from '../../src/lib/errors.js';
import { guestDisks } from '../../src/lifecycle/domain-guest.js';
import { openImage } from '../../src/storage/open-image.js';
import { spawnCli } from '../support/spawn-cli.js';
import { makeTmpDir, qemuImg, qemuIo } from './helpers.js';

const tmp = makeTmpDir('tsvirt-backing-trust-');
afterAll(() => tmp.cleanup());
const bin = fileURLToPath(new URL('../../bin/tsvirt', import.meta.url));
const installBin = fileURLToPath(new URL('../../bin/tsvirt-install', import.meta.url));

// The layout: a "host" directory with a secret outside the images' directory.
const hostDir = tmp.file('host');
const imagesDir = tmp.file('images');
fs.mkdirSync(hostDir);
fs.mkdirSync(path.join(imagesDir, 'sub'), { recursive: true });
const secret = randomBytes(32).toString('hex');
const secretFile = path.join(hostDir, 'secret.raw');
fs.writeFileSync(secretFile, Buffer.concat([Buffer.from(secret), Buffer.alloc(1024 * 1024 - secret.length)]));
let n = 0;

/** A qcow2 in imagesDir whose backing name is `name`, written as is (-u: not opened). */
function overlay(name: string, format = 'raw', dir = imagesDir): string {
  const p = path.join(dir, `over${n++}.qcow2`);
  qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', name, '-F', format, p, '1M');
  return p;
}

function refused(fn: () => unknown): TsvirtError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TsvirtError);
    return err as TsvirtError;
  }
  throw new Error('expected a refusal');
}

function readAll(p: string, allowBacking?: string[]): Buffer {
  const dev = openImage(p, { readOnly: true, ...(allowBacking ? { allowBacking } : {}) });
  try {
    const buf = Buffer.alloc(dev.size);
    dev.read(0, buf);
    return buf;
  } finally {
    dev.close();
  }
}

describe('backing file names stay in the image directory unless the user allows more', () => {
  it.each([
    ['an absolute path outside', () => secretFile],
    ['a relative ../ escape', () => path.relative(imagesDir, secretFile)],
    ['a relative escape through a subdirectory', () => `sub/../../host/secret.raw`],
  ])('refuses %s, naming the file and the option that allows it', (_what, name) => {
    const img = overlay(name());
    const err = refused(() => readAll(img));
    expect(err.message).toBe(`${img}: backing file '${name()}' is outside the image's directory (${secretFile})`);
    expect(err.hint).toContain('--allow-backing');
  });

  it('refuses a symlink in the image directory that leads outside it', () => {
    fs.symlinkSync(secretFile, path.join(imagesDir, 'link.raw'));
    const img = overlay('link.raw');
    expect(refused(() => readAll(img)).message).toMatch(/backing file 'link\.raw' is outside the image's directory \(.*host\/secret\.raw\)/);
  });

  it('follows names inside the directory: relative, in a subdirectory, absolute', () => {
    for (const [base, name] of [['b1.raw', 'b1.raw'], ['sub/b2.raw', 'sub/b2.raw'], ['b3.raw', path.join(imagesDir, 'b3.raw')]]) {
      const basePath = path.join(imagesDir, base);
      qemuImg('create', '-q', '-f', 'raw', basePath, '1M');
      qemuIo(basePath, ['write -P 0x5a 0 4k'], ['-f', 'raw']);
      expect(readAll(overlay(name)).subarray(0, 4096).every((b) => b === 0x5a)).toBe(true);
    }
  });

  it('follows a name outside when the user allows the file or a directory holding it', () => {
    const img = overlay(secretFile);
    expect(readAll(img, [secretFile]).subarray(0, secret.length).toString()).toBe(secret);
    expect(readAll(img, [hostDir]).subarray(0, secret.length).toString()).toBe(secret);
    expect(refused(() => readAll(img, [imagesDir])).message).toMatch(/outside the image's directory/);
  });

  it('holds every image of a chain to the rule from its own directory', () => {
    // An allowed base whose own backing name escapes its directory.
    const base = path.join(hostDir, 'base.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '../images/../../../etc/hostname', '-F', 'raw', base, '1M');
    const img = overlay(base, 'qcow2');
    expect(refused(() => readAll(img, [base])).message).toMatch(/base\.qcow2: backing file '\.\.\/images\/\.\.\/\.\.\/\.\.\/etc\/hostname' is outside the image's directory/);
  });

  it('img info, check and convert refuse such an image with one ERROR line and write nothing; --allow-backing lets them through', async () => {
    const img = overlay(secretFile);
    const out = path.join(imagesDir, `out${n++}.raw`);
    for (const args of [['img', 'info', img], ['img', 'convert', '-O', 'raw', img, out]]) {
      const r = await spawnCli(bin, args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^ERROR .*backing file '.*secret\.raw' is outside the image's directory .*; if you trust this image, allow its backing file with --allow-backing .*secret\.raw\n$/);
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
    expect(fs.existsSync(out)).toBe(false);
    const r = await spawnCli(bin, ['img', 'convert', '--allow-backing', hostDir, '-O', 'raw', img, out]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(out).subarray(0, secret.length).toString()).toBe(secret);
    const info = await spawnCli(bin, ['img', 'info', '--output', 'json', '--allow-backing', secretFile, img]);
    expect(JSON.parse(info.stdout)['full-backing-filename']).toBe(secretFile);
  });

  it('img create -b takes the base the user names from anywhere', async () => {
    const base = path.join(hostDir, `named${n++}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', base, '1M');
    const img = path.join(imagesDir, `created${n++}.qcow2`);
    const r = await spawnCli(bin, ['img', 'create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', img]);
    expect(r.status, r.stderr).toBe(0);
    expect((await spawnCli(bin, ['img', 'info', img])).status).toBe(1);
    expect((await spawnCli(bin, ['img', 'info', '--allow-backing', base, img])).status).toBe(0);
  });

  it('tsvirt-install backing_store= records the store the user named as a libvirt <backingStore>', async () => {
    const base = path.join(hostDir, `store${n++}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', base, '1G');
    const img = path.join(imagesDir, `guest${n++}.qcow2`);
    const r = await spawnCli(installBin, ['--name', 'bs', '--memory', '512', '--import', '--osinfo', 'fedora37', '--print-xml',
      '--disk', `path=${img},size=1,backing_store=${base}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`<source file="${img}"/>\n      <backingStore type="file">\n        <format type="qcow2"/>\n        <source file="${base}"/>\n      </backingStore>`);
    // What a runner opens from that definition: the overlay, with the named store allowed.
    const [disk] = guestDisks(parseDomainXml(r.stdout));
    expect(disk.allowBacking).toEqual([base]);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', img);
    expect(() => openImage(img, { readOnly: true })).toThrow(/outside the image's directory/);
    const dev = openImage(img, { readOnly: true, allowBacking: disk.allowBacking });
    expect(dev.size).toBe(2 ** 30);
    dev.close();
  });
});
