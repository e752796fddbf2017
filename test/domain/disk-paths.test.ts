// Default image paths for `--disk size=N`: the system directory for root, XDG data for
// users; NAME.qcow2 (NAME.img for raw), then NAME-1, NAME-2 ... past files that exist.
import { describe, expect, it } from 'vitest';
import { defaultBootDir, defaultDiskPath, defaultImageDir } from '../../src/domain/disk-paths.js';

describe('default disk paths', () => {
  it('picks the directory by user', () => {
    expect(defaultImageDir({ uid: 0, home: '/root' })).toBe('/var/lib/tsvirt/images');
    expect(defaultImageDir({ uid: 1000, home: '/home/u' })).toBe('/home/u/.local/share/tsvirt/images');
    expect(defaultImageDir({ uid: 1000, home: '/home/u', xdgDataHome: '/data' })).toBe('/data/tsvirt/images');
    expect(defaultImageDir({ uid: 1000, home: '/home/u', xdgDataHome: '' })).toBe('/home/u/.local/share/tsvirt/images');
    expect(defaultBootDir({ uid: 1000, home: '/home/u', xdgCacheHome: '/c' })).toBe('/c/tsvirt/boot');
    expect(defaultBootDir({ uid: 0, home: '/root' })).toBe('/var/lib/tsvirt/boot');
  });

  it('numbers names past the ones taken', () => {
    const taken = new Set(['/i/vm.qcow2', '/i/vm-1.qcow2', '/i/vm.img']);
    expect(defaultDiskPath('vm', 'qcow2', '/i', (p) => taken.has(p))).toBe('/i/vm-2.qcow2');
    expect(defaultDiskPath('vm', 'raw', '/i', (p) => taken.has(p))).toBe('/i/vm-1.img');
    expect(defaultDiskPath('other', 'qcow2', '/i', (p) => taken.has(p))).toBe('/i/other.qcow2');
  });
});
