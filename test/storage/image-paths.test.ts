import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultImageDir, nextImagePath } from '../../src/storage/image-paths.js';
import { makeTmpDir } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());

describe('image paths', () => {
  it('defaults to /var/lib/tsvirt/images for root and the XDG data dir otherwise', () => {
    expect(defaultImageDir(0)).toBe('/var/lib/tsvirt/images');
    const saved = process.env.XDG_DATA_HOME;
    delete process.env.XDG_DATA_HOME;
    try {
      expect(defaultImageDir(1000, '/home/u')).toBe('/home/u/.local/share/tsvirt/images');
    } finally {
      if (saved !== undefined) process.env.XDG_DATA_HOME = saved;
    }
  });

  it('names images NAME.qcow2, NAME-1.qcow2, ... like virt-install', () => {
    expect(nextImagePath(tmp.dir, 'vm', 'qcow2')).toBe(tmp.file('vm.qcow2'));
    fs.writeFileSync(tmp.file('vm.qcow2'), '');
    expect(nextImagePath(tmp.dir, 'vm', 'qcow2')).toBe(tmp.file('vm-1.qcow2'));
    expect(nextImagePath(tmp.dir, 'vm', 'qcow2', new Set([tmp.file('vm-1.qcow2')]))).toBe(tmp.file('vm-2.qcow2'));
    expect(nextImagePath(tmp.dir, 'vm', 'raw')).toBe(tmp.file('vm.img'));
  });
});
