// provisionDisks: what the install flow calls. All-or-nothing, no overwrite without force,
// and removeCreated() deletes exactly the files this call created.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { provisionDisks } from '../../src/storage/provision.js';
import { makeTmpDir, qemuCheck, qemuInfo } from './helpers.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());
const MiB = 2 ** 20;

describe('provisionDisks', () => {
  it('creates raw and qcow2 disks (sparse, non-sparse, backing store) and removes exactly those', () => {
    const base = tmp.file('base.qcow2');
    provisionDisks([{ path: base, format: 'qcow2', sizeBytes: 40 * MiB }]);
    const h = provisionDisks([
      { path: tmp.file('a.qcow2'), format: 'qcow2', sizeBytes: 64 * MiB },
      { path: tmp.file('b.raw'), format: 'raw', sizeBytes: 8 * MiB, sparse: false },
      { path: tmp.file('c.raw'), format: 'raw', sizeBytes: 8 * MiB },
      { path: tmp.file('d.qcow2'), format: 'qcow2', backingStore: base, backingFormat: 'qcow2' },
      { path: tmp.file('e.qcow2'), format: 'qcow2', sizeBytes: 8 * MiB, preallocation: 'metadata' },
    ]);
    expect(h.created).toHaveLength(5);
    expect(fs.statSync(tmp.file('b.raw')).blocks * 512).toBeGreaterThanOrEqual(8 * MiB);
    expect(fs.statSync(tmp.file('c.raw')).blocks * 512).toBeLessThan(MiB);
    expect(qemuInfo(tmp.file('d.qcow2'))['virtual-size']).toBe(40 * MiB);
    for (const p of ['a.qcow2', 'd.qcow2', 'e.qcow2']) expect(qemuCheck(tmp.file(p)).status).toBe(0);
    expect(h.removeCreated().sort()).toEqual(['a.qcow2', 'b.raw', 'c.raw', 'd.qcow2', 'e.qcow2'].map((p) => tmp.file(p)));
    for (const p of ['a.qcow2', 'b.raw', 'c.raw', 'd.qcow2', 'e.qcow2']) expect(fs.existsSync(tmp.file(p))).toBe(false);
    expect(fs.existsSync(base)).toBe(true);
    expect(h.removeCreated()).toEqual([]);
  });

  it('refuses an existing file without force and creates nothing', () => {
    const keep = tmp.file('keep.qcow2');
    fs.writeFileSync(keep, 'precious');
    expect(() => provisionDisks([
      { path: tmp.file('new1.qcow2'), format: 'qcow2', sizeBytes: MiB },
      { path: keep, format: 'qcow2', sizeBytes: MiB },
    ])).toThrow(expect.objectContaining({ message: expect.stringMatching(/already exists/), hint: expect.stringMatching(/--force/) }));
    expect(fs.existsSync(tmp.file('new1.qcow2'))).toBe(false);
    expect(fs.readFileSync(keep, 'utf8')).toBe('precious');
  });

  it('with force, overwrites a pre-existing file but never deletes it', () => {
    const pre = tmp.file('pre.raw');
    fs.writeFileSync(pre, 'old');
    const h = provisionDisks([
      { path: pre, format: 'raw', sizeBytes: 2 * MiB },
      { path: tmp.file('fresh.raw'), format: 'raw', sizeBytes: MiB },
    ], { force: true });
    expect(fs.statSync(pre).size).toBe(2 * MiB);
    expect(h.created).toEqual([tmp.file('fresh.raw')]);
    expect(h.removeCreated()).toEqual([tmp.file('fresh.raw')]);
    expect(fs.existsSync(pre)).toBe(true);
  });

  it('a failure part-way removes what this call created and nothing else', () => {
    const other = tmp.file('other.raw');
    fs.writeFileSync(other, 'x');
    expect(() => provisionDisks([
      { path: tmp.file('p1.qcow2'), format: 'qcow2', sizeBytes: MiB },
      { path: tmp.file('p2.raw'), format: 'raw', sizeBytes: MiB },
      { path: tmp.file('p3.qcow2'), format: 'qcow2', backingStore: tmp.file('missing.qcow2'), backingFormat: 'qcow2' },
    ])).toThrow(/does not exist/);
    expect(fs.existsSync(tmp.file('p1.qcow2'))).toBe(false);
    expect(fs.existsSync(tmp.file('p2.raw'))).toBe(false);
    expect(fs.existsSync(other)).toBe(true);
  });

  it('does not delete a file that replaced a created one at the same path', () => {
    const p = tmp.file('swapped.raw');
    const h = provisionDisks([{ path: p, format: 'raw', sizeBytes: MiB }]);
    fs.rmSync(p);
    fs.writeFileSync(p, 'someone else');
    expect(h.removeCreated()).toEqual([]);
    expect(fs.readFileSync(p, 'utf8')).toBe('someone else');
  });

  it('refuses duplicate paths and conflicting sparse/preallocation', () => {
    expect(() => provisionDisks([
      { path: tmp.file('dup.raw'), format: 'raw', sizeBytes: MiB },
      { path: tmp.file('dup.raw'), format: 'raw', sizeBytes: MiB },
    ])).toThrow(/listed twice/);
    expect(() => provisionDisks([{ path: tmp.file('sp.qcow2'), format: 'qcow2', sizeBytes: MiB, sparse: false, preallocation: 'metadata' }])).toThrow(/sparse=no conflicts/);
    expect(fs.existsSync(tmp.file('dup.raw'))).toBe(false);
  });
});
