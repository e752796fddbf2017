// tsvirt-install running what it planned, through the built binaries: --import of an
// installed disk with --noautoconsole defines the domain, starts it in a detached runner
// and returns; the virsh verbs then see it. (The guest is Debian's cloud kernel with a
// busybox shell initramfs, booted from the disk's extlinux.conf; it need not finish
// booting for this test.)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, copyFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spaceAfter, writePartitionTable } from '../../src/storage/partition/partition-table.js';
import { RawImage } from '../../src/storage/raw-image.js';
import { fixture } from '../support/fixtures.js';

const bin = (name: string) => fileURLToPath(new URL(`../../bin/${name}`, import.meta.url));
let work: string;
let disk: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-install-run-'));
  env = { ...process.env, TSVIRT_STATE_DIR: join(work, 'run'), TSVIRT_DOMAINS_DIR: join(work, 'domains') };
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'boot/extlinux'), { recursive: true });
  copyFileSync(fixture('KERNEL_CLOUD_AMD64'), join(tree, 'boot/vmlinuz'));
  copyFileSync(fixture('INITRAMFS_SHELL_AMD64'), join(tree, 'boot/initrd.img'));
  writeFileSync(join(tree, 'boot/extlinux/extlinux.conf'), 'DEFAULT linux\nLABEL linux\n  KERNEL /boot/vmlinuz\n  INITRD /boot/initrd.img\n  APPEND console=ttyS0\n');
  disk = join(work, 'installed.img');
  writeFileSync(disk, '');
  truncateSync(disk, 96 << 20);
  const dev = RawImage.open(disk, { readOnly: false });
  const [p] = writePartitionTable(dev, 'gpt', [{ sizeBytes: spaceAfter(dev.size, 'gpt', 0), kind: 'linux' }]).partitions;
  dev.close();
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', `offset=${p.startBytes}`, '-d', tree, disk, `${p.sizeBytes / 1024}k`], { stdio: 'pipe' });
});
afterAll(() => {
  spawnSync(bin('tsvirt'), ['destroy', 'imp'], { env });
  rmSync(work, { recursive: true, force: true });
});

const run = (name: string, args: string[]) => spawnSync(bin(name), args, { env, encoding: 'utf8', input: '' });

describe('tsvirt-install --import --noautoconsole', () => {
  it('defines the domain, starts it detached, and the virsh verbs see it', () => {
    // The software CPU on every host: a host with VT-x would default to KVM.
    const r = run('tsvirt-install', ['--name', 'imp', '--memory', '256', '--virt-type', 'qemu', '--import', '--disk', `path=${disk},format=raw`, '--osinfo', 'linux2022', '--graphics', 'none', '--noautoconsole']);
    expect(r.stderr).toMatch(/domain imp started in runner \d+/);
    expect(r.status).toBe(0);
    expect(run('tsvirt', ['list']).stdout).toMatch(/imp\s+running/);
    const xml = run('tsvirt', ['dumpxml', 'imp']).stdout;
    expect(xml).toMatch(/<name>imp<\/name>/);
    expect(xml).toContain(disk);
    expect(run('tsvirt', ['destroy', 'imp']).status).toBe(0);
    expect(run('tsvirt', ['list', '--all']).stdout).toMatch(/imp\s+shut off/);
    expect(run('tsvirt', ['undefine', 'imp']).status).toBe(0);
    expect(run('tsvirt', ['list', '--all']).stdout).not.toMatch(/imp/);
  });

  it('refuses what the VM core cannot run before defining anything', () => {
    const r = run('tsvirt-install', ['--name', 'gfx', '--memory', '256', '--import', '--disk', `path=${disk},format=raw`, '--osinfo', 'linux2022', '--graphics', 'vnc', '--noautoconsole']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ERROR domain 'gfx': <graphics type="vnc"> is not supported by the tsvirt VM core/m);
    expect(run('tsvirt', ['list', '--all']).stdout).not.toMatch(/gfx/);
  });
});
