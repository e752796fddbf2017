// --initrd-inject: the appended archive and the original both list with Debian's cpio -t,
// and extract to the same bytes.
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNewcArchive } from '../../src/install/cpio-newc.js';
import { buildInjectionArchive, injectFiles } from '../../src/install/inject.js';
import { TsvirtError } from '../../src/lib/errors.js';

let work: string;
let initrdPath: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-inject-'));
  const root = join(work, 'root');
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'init'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(root, 'bin', 'tool'), 'x'.repeat(1001));
  // A distro-like initrd made by Debian's cpio + gzip; 3 odd bytes make its length unaligned.
  execSync('find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -c > ../initrd.img && printf abc >> ../initrd.img', { cwd: root });
  initrdPath = join(work, 'initrd.img');
  writeFileSync(join(work, 'ks.cfg'), 'lang en_US\nrootpw --lock\n');
  writeFileSync(join(work, 'hook.sh'), '#!/bin/sh\n', { mode: 0o750 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cpioList(archive: Uint8Array): string[] {
  return execFileSync('cpio', ['-t', '--quiet'], { input: archive }).toString().trim().split('\n');
}

describe('writeNewcArchive', () => {
  it('writes what Debian cpio reads back: names, modes, contents, symlinks', () => {
    const archive = writeNewcArchive([
      { path: 'etc', type: 'directory' },
      { path: 'etc/a.txt', type: 'file', data: Buffer.from('alpha'), mode: 0o600 },
      { path: 'empty', type: 'file' },
      { path: 'link', type: 'symlink', target: 'etc/a.txt' },
    ]);
    expect(archive.length % 4).toBe(0);
    expect(cpioList(archive)).toEqual(['etc', 'etc/a.txt', 'empty', 'link']);
    const verbose = execFileSync('cpio', ['-tv', '--quiet'], { input: archive }).toString();
    expect(verbose).toMatch(/^-rw------- .* etc\/a.txt$/m);
    expect(verbose).toMatch(/^lrwxrwxrwx .* link -> etc\/a.txt$/m);
    const out = join(work, 'x1');
    mkdirSync(out);
    execFileSync('cpio', ['-id', '--quiet'], { input: archive, cwd: out });
    expect(readFileSync(join(out, 'etc/a.txt'), 'utf8')).toBe('alpha');
  });

  it('refuses names that would escape the initrd root', () => {
    for (const bad of ['/etc/passwd', '../x', 'a/../b', '', 'TRAILER!!!']) {
      expect(() => writeNewcArchive([{ path: bad, type: 'file' }])).toThrow(TsvirtError);
    }
  });
});

describe('injectFiles', () => {
  it('appends a gzip newc archive; cpio -t lists both archives', async () => {
    const original = readFileSync(initrdPath);
    const result = await injectFiles(initrdPath, [
      join(work, 'ks.cfg'),
      { path: join(work, 'hook.sh'), name: 'scripts/hook.sh' },
      { name: 'tsvirt/plan.json', data: Buffer.from('{"version":1}') },
    ]);
    // The original is untouched, and the new archive starts 4-byte aligned.
    expect(Buffer.compare(result.subarray(0, original.length), original)).toBe(0);
    const start = original.length + ((4 - (original.length % 4)) % 4);
    expect(result.subarray(original.length, start).every((b) => b === 0)).toBe(true);
    const first = gunzipSync(original.subarray(0, original.length - 3));
    expect(cpioList(first)).toEqual(['.', 'bin', 'bin/tool', 'init']);
    const second = gunzipSync(result.subarray(start));
    expect(cpioList(second)).toEqual(['ks.cfg', 'scripts', 'scripts/hook.sh', 'tsvirt', 'tsvirt/plan.json']);
    const out = join(work, 'x2');
    mkdirSync(out);
    execFileSync('cpio', ['-id', '--quiet'], { input: second, cwd: out });
    expect(readFileSync(join(out, 'ks.cfg'), 'utf8')).toBe('lang en_US\nrootpw --lock\n');
    expect(readFileSync(join(out, 'tsvirt/plan.json'), 'utf8')).toBe('{"version":1}');
    expect(execFileSync('stat', ['-c', '%a', join(out, 'scripts/hook.sh')]).toString().trim()).toBe('750');
  });

  it('refuses directories, missing files and duplicate names', async () => {
    await expect(injectFiles(initrdPath, [work])).rejects.toThrow(/not a regular file/);
    await expect(injectFiles(initrdPath, [join(work, 'nope')])).rejects.toThrow(/no such file/);
    await expect(buildInjectionArchive([join(work, 'ks.cfg'), { name: 'ks.cfg', data: new Uint8Array(1) }])).rejects.toThrow(/both called ks.cfg/);
    symlinkSync(join(work, 'ks.cfg'), join(work, 'ks-link.cfg'));
    const viaLink = await buildInjectionArchive([join(work, 'ks-link.cfg')]);
    expect(cpioList(gunzipSync(viaLink))).toEqual(['ks-link.cfg']);
  });
});
