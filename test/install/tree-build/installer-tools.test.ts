// Copying a tool out of a root file system: the ELF dynamic reader against readelf on real
// binaries, links followed inside the root and never out of it, and hostile ELF headers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElfDynamic } from '../../../src/install/tree-build/elf-dynamic.js';
import { collectTool, resolveInRoot } from '../../../src/install/tree-build/installer-tools.js';

let work: string;
beforeAll(() => (work = mkdtempSync(join(tmpdir(), 'tsvirt-tools-'))));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function readelfNeeded(path: string): { interpreter?: string; needed: string[] } {
  const dyn = execFileSync('readelf', ['-d', path], { encoding: 'utf8' });
  const prog = execFileSync('readelf', ['-l', path], { encoding: 'utf8' });
  return {
    interpreter: /Requesting program interpreter: (\S+)\]/.exec(prog)?.[1],
    needed: [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]),
  };
}

describe('ELF dynamic section reader', () => {
  it('agrees with readelf on the host mke2fs, libc and ls', () => {
    for (const path of ['/sbin/mke2fs', '/lib/x86_64-linux-gnu/libc.so.6', '/bin/ls']) {
      const got = readElfDynamic(readFileSync(path), path);
      expect(got, path).toEqual(readelfNeeded(path));
    }
  });

  it('refuses hostile and foreign files with one clear error', () => {
    const ls = new Uint8Array(readFileSync('/bin/ls'));
    const bad = (mutate: (b: Uint8Array, dv: DataView) => void) => {
      const copy = ls.slice();
      mutate(copy, new DataView(copy.buffer));
      return () => readElfDynamic(copy, 'x');
    };
    expect(() => readElfDynamic(new TextEncoder().encode('#!/bin/sh\n'), 'script')).toThrow(/^script is not a usable x86-64 ELF file: no ELF magic$/);
    expect(bad((b) => (b[4] = 1))).toThrow(/not 64-bit little-endian/);
    expect(bad((_b, dv) => dv.setUint16(0x12, 183, true))).toThrow(/not for x86-64/);
    expect(bad((_b, dv) => dv.setBigUint64(0x20, 1n << 62n, true))).toThrow(/out of range|outside the file/);
    expect(bad((_b, dv) => dv.setUint16(0x38, 0xffff, true))).toThrow(/program headers outside the file/);
    expect(() => readElfDynamic(ls.slice(0, 4096), 'cut')).toThrow(/^cut is not a usable x86-64 ELF file: segment \d+ lies outside the file$/);
  });
});

describe('collecting a tool from a root', () => {
  it('resolves absolute and relative links inside the root, never outside it', () => {
    const root = join(work, 'root');
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/real'), 'inside');
    symlinkSync('usr/lib', join(root, 'lib'));
    symlinkSync('/usr/lib/real', join(root, 'usr/lib/abs'));
    symlinkSync('../../../../../etc/hostname', join(root, 'usr/lib/escape'));
    symlinkSync('loop', join(root, 'loop'));
    expect(resolveInRoot(root, 'lib/real')).toBe(join(root, 'usr/lib/real'));
    expect(resolveInRoot(root, 'lib/abs')).toBe(join(root, 'usr/lib/real'));
    // ../ stops at the root: the link names <root>/etc/hostname, which does not exist.
    expect(resolveInRoot(root, 'usr/lib/escape')).toBeUndefined();
    expect(resolveInRoot(root, 'loop')).toBeUndefined();
    expect(resolveInRoot(root, 'usr/lib')).toBeUndefined(); // a directory is not a tool
  });

  it('takes mke2fs from / with its interpreter and every library it loads', () => {
    const tool = collectTool('mke2fs', 'usr/sbin/mke2fs', ['/'])!;
    expect(tool.source).toMatch(/\/mke2fs$/);
    const paths = tool.files.map((f) => f.path).sort();
    expect(paths).toContain('usr/sbin/mke2fs');
    expect(paths).toContain('lib64/ld-linux-x86-64.so.2');
    for (const soname of readelfNeeded('/sbin/mke2fs').needed) expect(paths).toContain(`lib/x86_64-linux-gnu/${soname}`);
  });

  it('says which library is missing from the root, and finds nothing in an empty one', () => {
    const root = join(work, 'partial');
    mkdirSync(join(root, 'sbin'), { recursive: true });
    writeFileSync(join(root, 'sbin/mke2fs'), readFileSync('/sbin/mke2fs'));
    mkdirSync(join(root, 'lib64'), { recursive: true });
    writeFileSync(join(root, 'lib64/ld-linux-x86-64.so.2'), readFileSync('/lib64/ld-linux-x86-64.so.2'));
    expect(() => collectTool('mke2fs', 'usr/sbin/mke2fs', [root])).toThrow(/needs the library libext2fs\.so\.2, which .*partial does not have/);
    expect(collectTool('mke2fs', 'usr/sbin/mke2fs', [join(work, 'nothing-here')])).toBeUndefined();
  });
});
