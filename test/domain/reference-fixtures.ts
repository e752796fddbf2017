// Shared by the tests that replay test/fixtures/virt-install: the command lines, a scratch
// directory holding the files they name, and the facts of a Domain a user chose (what the
// comparison with virt-install's output looks at; uuid, emulator, graphics defaults, USB,
// sound, video, channels, machine and generated MACs only differ by driver).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { split } from 'shlex';
import type { Domain } from '../../src/domain/index.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/virt-install/', import.meta.url));
/** Never contacted: the front-end does not fetch; it only appears in kernel arguments. */
export const FAKE_URL = 'http://127.0.0.1:9/';

export interface ReferenceCase {
  readonly id: string;
  readonly args: string;
}

export function readReferenceCases(): ReferenceCase[] {
  return readFileSync(join(FIXTURE_DIR, 'commands.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => ({ id: l.slice(0, l.indexOf(' ')), args: l.slice(l.indexOf(' ') + 1) }));
}

export interface Scratch {
  readonly dir: string;
  readonly tree: string;
  readonly root: string;
  substitute(text: string): string;
  cleanup(): void;
}

/** The files make-refs.sh creates, in a fresh temporary directory. */
export function makeScratch(): Scratch {
  const root = mkdtempSync(join(tmpdir(), 'tsvirt-refs-'));
  const dir = join(root, 'files');
  const tree = join(root, 'tree');
  mkdirSync(dir);
  mkdirSync(join(tree, 'images', 'pxeboot'), { recursive: true });
  for (const f of ['disk.qcow2', 'disk.raw', 'data.raw', 'install.iso', 'floppy.img', 'vmlinuz', 'initrd.img', 'ks.cfg', 'post.sh', 'odd,name.qcow2']) {
    writeFileSync(join(dir, f), 'tsvirt reference fixture\n');
  }
  writeFileSync(join(tree, 'images', 'pxeboot', 'vmlinuz'), 'dummy kernel\n');
  writeFileSync(join(tree, 'images', 'pxeboot', 'initrd.img'), 'dummy initrd\n');
  return {
    dir, tree, root,
    substitute: (text) => text.replaceAll('@DIR@', dir).replaceAll('@TREE@', tree).replaceAll('@URL@', FAKE_URL),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function argvOf(c: ReferenceCase, scratch: Scratch): string[] {
  return split(scratch.substitute(c.args));
}

/** The facts a user chose, from one Domain. */
/** The MAC virt-install's test mode generates ("predictable"); a MAC it chose, not the user. */
export const GENERATED_MAC = '00:11:22:33:44:55';

/**
 * `reference` is virt-install's document for the same step: facts it left to the driver
 * there are dropped on both sides (the driver type of an existing image, which libvirt's
 * storage pool would fill in; a generated MAC).
 */
export function userFacts(d: Domain, reference: Domain, opts: { kernelPathsExact: boolean; graphicsGiven: boolean }) {
  const samePath = (p: string | undefined) => p?.replace('/var/lib/libvirt/images/', '/var/lib/tsvirt/images/');
  return {
    name: d.name,
    memoryKiB: d.memoryKiB,
    currentMemoryKiB: d.currentMemoryKiB,
    vcpusMax: d.vcpusMax,
    vcpusCurrent: d.vcpusCurrent,
    topology: d.cpu?.topology,
    arch: d.os.arch,
    features: d.features,
    clockOffset: d.clock.offset,
    kernel: opts.kernelPathsExact ? d.os.kernel : d.os.kernel !== undefined,
    initrd: opts.kernelPathsExact ? d.os.initrd : d.os.initrd !== undefined,
    cmdline: d.os.cmdline,
    bootOrder: d.os.bootOrder,
    lifecycle: d.lifecycle,
    disks: d.devices.disks.map((x, i) => ({
      device: x.device, format: reference.devices.disks[i]?.format === undefined ? undefined : x.format, source: samePath(x.sourcePath), target: x.targetDev, bus: x.bus,
      readonly: x.readonly, shareable: x.shareable, bootOrder: x.bootOrder, serial: x.serial, cache: x.cache,
    })),
    interfaces: d.devices.interfaces.map((n, i) => ({
      type: n.type, source: n.source, model: n.model, mac: reference.devices.interfaces[i]?.mac === GENERATED_MAC ? undefined : n.mac,
    })),
    serials: d.devices.serials,
    consoles: d.devices.consoles,
    graphics: opts.graphicsGiven ? d.devices.graphics : undefined,
  };
}
