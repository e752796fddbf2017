// Every creation variant must pass `qemu-img check` and agree with `qemu-img info`.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TsvirtError } from '../../src/lib/errors.js';
import { type CreateImageOptions, createImage, parseCreateOptions } from '../../src/storage/create-image.js';
import { getImageInfo } from '../../src/storage/image-info.js';
import { makeTmpDir, qemuCheck, qemuImg, qemuInfo } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());

const MiB = 2 ** 20;
const variants: Array<[string, Omit<CreateImageOptions, 'path'>]> = [
  ['raw sparse', { format: 'raw', sizeBytes: 64 * MiB }],
  ['raw falloc', { format: 'raw', sizeBytes: 8 * MiB, preallocation: 'falloc' }],
  ['raw full', { format: 'raw', sizeBytes: 8 * MiB, preallocation: 'full' }],
  ['raw odd size', { format: 'raw', sizeBytes: 1000 }],
  ['qcow2 default', { format: 'qcow2', sizeBytes: 2 ** 30 }],
  ['qcow2 cluster 512', { format: 'qcow2', sizeBytes: 64 * MiB, clusterSizeBytes: 512 }],
  ['qcow2 cluster 4k', { format: 'qcow2', sizeBytes: 256 * MiB, clusterSizeBytes: 4096 }],
  ['qcow2 cluster 2M', { format: 'qcow2', sizeBytes: 10 * 2 ** 30, clusterSizeBytes: 2 * MiB }],
  ['qcow2 lazy refcounts', { format: 'qcow2', sizeBytes: 2 ** 30, lazyRefcounts: true }],
  ['qcow2 refcount_bits=1', { format: 'qcow2', sizeBytes: 2 ** 30, refcountBits: 1 }],
  ['qcow2 refcount_bits=8', { format: 'qcow2', sizeBytes: 2 ** 30, refcountBits: 8 }],
  ['qcow2 refcount_bits=64', { format: 'qcow2', sizeBytes: 2 ** 30, refcountBits: 64 }],
  ['qcow2 preallocation=metadata', { format: 'qcow2', sizeBytes: 300 * MiB, preallocation: 'metadata' }],
  ['qcow2 preallocation=metadata 512', { format: 'qcow2', sizeBytes: 8 * MiB, preallocation: 'metadata', clusterSizeBytes: 512 }],
  ['qcow2 preallocation=falloc', { format: 'qcow2', sizeBytes: 16 * MiB, preallocation: 'falloc' }],
  ['qcow2 preallocation=full', { format: 'qcow2', sizeBytes: 16 * MiB, preallocation: 'full' }],
  ['qcow2 big (8T, L1 over one cluster with 4k clusters)', { format: 'qcow2', sizeBytes: 8 * 2 ** 40, clusterSizeBytes: 65536 }],
  ['qcow2 unaligned size', { format: 'qcow2', sizeBytes: 1000 * 1000 }],
];

describe('createImage', () => {
  it.each(variants)('%s passes qemu-img check and matches qemu-img info', (name, opts) => {
    const path = tmp.file(`${name.replace(/\W+/g, '_')}.${opts.format}`);
    createImage({ ...opts, path });
    const q = qemuInfo(path);
    const t = getImageInfo(path);
    for (const key of ['virtual-size', 'format', 'cluster-size', 'backing-filename', 'backing-filename-format', 'dirty-flag', 'format-specific'] as const) {
      expect(t[key], key).toEqual(q[key]);
    }
    if (opts.format === 'qcow2') {
      const c = qemuCheck(path);
      expect(c.status, c.text).toBe(0);
      expect(c.json['check-errors']).toBe(0);
    }
    if (opts.preallocation === 'full' || opts.preallocation === 'falloc') {
      expect(fs.statSync(path).blocks * 512).toBeGreaterThanOrEqual(opts.sizeBytes!);
    }
    if (opts.preallocation === 'metadata') {
      // Every guest cluster is mapped (qemu-img map reports no unallocated range).
      const map = JSON.parse(qemuImg('map', '--output', 'json', path)) as Array<{ data: boolean }>;
      expect(map.every((m) => m.data)).toBe(true);
    }
  });

  it('inherits the size from a backing file and records backing format and name as given', () => {
    const base = tmp.file('base.qcow2');
    createImage({ path: base, format: 'qcow2', sizeBytes: 123 * MiB });
    const overlay = tmp.file('overlay.qcow2');
    createImage({ path: overlay, format: 'qcow2', backingFile: 'base.qcow2' });
    const q = qemuInfo(overlay);
    expect(q['virtual-size']).toBe(123 * MiB);
    expect(q['backing-filename']).toBe('base.qcow2');
    expect(q['backing-filename-format']).toBe('qcow2');
    expect(getImageInfo(overlay)['full-backing-filename']).toBe(base);
    expect(qemuCheck(overlay).status).toBe(0);
    const rawBase = tmp.file('base.raw');
    createImage({ path: rawBase, format: 'raw', sizeBytes: 5 * MiB });
    const o2 = tmp.file('overlay-raw.qcow2');
    createImage({ path: o2, format: 'qcow2', backingFile: rawBase, backingFormat: 'raw', sizeBytes: 50 * MiB });
    expect(qemuInfo(o2)['backing-filename-format']).toBe('raw');
    expect(qemuInfo(o2)['virtual-size']).toBe(50 * MiB);
  });

  it('refuses an existing file unless overwrite, bad options, and a missing backing file', () => {
    const p = tmp.file('exists.raw');
    fs.writeFileSync(p, 'keep me');
    expect(() => createImage({ path: p, format: 'raw', sizeBytes: MiB })).toThrow(/already exists/);
    expect(fs.readFileSync(p, 'utf8')).toBe('keep me');
    createImage({ path: p, format: 'raw', sizeBytes: MiB, overwrite: true });
    expect(fs.statSync(p).size).toBe(MiB);
    expect(() => createImage({ path: tmp.file('c.qcow2'), format: 'qcow2', sizeBytes: MiB, clusterSizeBytes: 3000 })).toThrow(/invalid cluster_size/);
    expect(() => createImage({ path: tmp.file('c.qcow2'), format: 'qcow2', sizeBytes: MiB, refcountBits: 3 })).toThrow(/invalid refcount_bits/);
    expect(() => createImage({ path: tmp.file('c.qcow2'), format: 'qcow2', backingFile: 'nope.qcow2' })).toThrow(/does not exist/);
    expect(() => createImage({ path: tmp.file('c.qcow2'), format: 'qcow2' })).toThrow(/size is missing/);
    expect(() => createImage({ path: tmp.file('c.raw'), format: 'raw', sizeBytes: MiB, backingFile: p })).toThrow(TsvirtError);
    expect(fs.existsSync(tmp.file('c.qcow2'))).toBe(false);
  });

  it('refuses a raw size the file system cannot hold with one clear error, leaving no file', () => {
    const path = tmp.file('too-big.raw');
    expect(() => createImage({ path, format: 'raw', sizeBytes: 2 ** 50 })).toThrow(/the file system cannot hold a file of 1125899906842624 bytes \(EFBIG\)/);
    expect(fs.existsSync(path)).toBe(false);
  });

  it('parses -o option strings', () => {
    expect(parseCreateOptions('cluster_size=4k,preallocation=metadata,lazy_refcounts=on,refcount_bits=8')).toEqual({
      clusterSizeBytes: 4096, preallocation: 'metadata', lazyRefcounts: true, refcountBits: 8,
    });
    expect(() => parseCreateOptions('encryption=on')).toThrow(/unknown image option/);
    expect(() => parseCreateOptions('compat=0.10')).toThrow(/not supported yet/);
  });
});
