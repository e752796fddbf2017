import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModinfo, resolveModules } from '../../../src/install/tree-build/kernel-modules.js';
import { fixture } from '../../support/fixtures.js';

// Debian's generic amd64 kernel modules, fetched by test/fixtures/prepare.d.
const modulesRoot = fixture('MODULES_AMD64');
const version = () => execFileSync('ls', [modulesRoot], { encoding: 'utf8' }).trim().split('\n')[0];

describe('kernel module resolution (Debian amd64 kernel)', () => {
  it('orders dependencies before their users, as modprobe would load them', () => {
    const dir = join(modulesRoot, version());
    const closure = resolveModules(dir, ['virtio_blk', 'virtio_net', 'virtio_pci', 'ext4']);
    const names = closure.ordered.map((m) => m.name);
    for (const m of ['virtio_blk', 'virtio_net', 'ext4', 'jbd2', 'mbcache', 'net_failover', 'failover']) expect(names).toContain(m);
    const before = (a: string, b: string): boolean => names.indexOf(a) < names.indexOf(b);
    expect(before('jbd2', 'ext4')).toBe(true);
    expect(before('mbcache', 'ext4')).toBe(true);
    expect(before('failover', 'net_failover')).toBe(true);
    expect(before('net_failover', 'virtio_net')).toBe(true);
    // Each module's own depends= are all earlier in the list (or built in).
    for (const [i, m] of closure.ordered.entries()) {
      const deps = (readModinfo(readFileSync(join(dir, m.path)), m.path).get('depends') ?? []).flatMap((d) => d.split(',')).filter(Boolean);
      for (const d of deps) {
        const j = names.indexOf(d.replace(/-/g, '_'));
        if (j >= 0) expect(j, `${d} before ${m.name}`).toBeLessThan(i);
      }
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('agrees with depmod: the same closure as modules.dep built by Debian kmod', () => {
    const dir = join(modulesRoot, version());
    const closure = resolveModules(dir, ['ext4']);
    // depmod -n prints modules.dep to stdout without touching the tree.
    const dep = execFileSync('depmod', ['-n', '-b', join(modulesRoot, '..', '..'), version()], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const line = dep.split('\n').find((l) => l.startsWith('kernel/fs/ext4/ext4.ko:'))!;
    const depmodDeps = line.split(':')[1].trim().split(/\s+/).filter(Boolean).map((p) => p.split('/').pop()!.replace(/\.ko$/, '').replace(/-/g, '_'));
    expect(closure.ordered.map((m) => m.name).sort()).toEqual([...depmodDeps, 'ext4'].sort());
  });

  it('names a missing module and the chain that needed it', () => {
    const dir = join(modulesRoot, version());
    expect(() => resolveModules(dir, ['no_such_module'])).toThrow(/kernel module no_such_module is not in /);
    expect(resolveModules(dir, [], ['no_such_module']).ordered).toEqual([]);
    expect(() => resolveModules('/tmp', ['x'])).toThrow(/is not a kernel module directory/);
  });
});
