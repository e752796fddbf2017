// CountedReferences (the counts `img check` compares with the refcounts) against a plain
// array of counters fed the same references, including overlaps, repeats and merges of
// many batches.
import { describe, expect, it } from 'vitest';
import { CountedReferences } from '../../src/storage/qcow2/counted-references.js';
import { rng } from './helpers.js';

function ranges(c: CountedReferences): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < c.length; i++) out.push([c.start(i), c.end(i), c.count(i)]);
  return out;
}

describe('CountedReferences', () => {
  it('keeps sorted disjoint ranges; consecutive references become one range', () => {
    const c = new CountedReferences();
    for (let k = 0; k < 1000; k++) c.add(5000 + k, 1);
    c.add(0, 1);
    c.add(5500, 2);
    expect(ranges(c)).toEqual([[0, 1, 1], [5000, 5500, 1], [5500, 5502, 2], [5502, 6000, 1]]);
    expect(c.countAt(5501)).toBe(2);
    expect(c.countAt(4999)).toBe(0);
    expect(c.countAt(6000)).toBe(0);
  });

  it('agrees with one counter per cluster on random references over many batches', () => {
    const rand = rng(15);
    const size = 3000;
    const naive = new Float64Array(size);
    const c = new CountedReferences();
    // Enough references for several batch merges (a batch holds 65536 at first).
    for (let k = 0; k < 300000; k++) {
      const first = Math.floor(rand() * size);
      const n = Math.min(size - first, 1 + Math.floor(rand() * (rand() < 0.9 ? 2 : 50)));
      c.add(first, n);
      for (let x = first; x < first + n; x++) naive[x]++;
    }
    for (let x = 0; x < size; x++) expect(c.countAt(x), `cluster ${x}`).toBe(naive[x]);
    const r = ranges(c);
    for (let i = 0; i < r.length; i++) {
      expect(r[i][0]).toBeLessThan(r[i][1]);
      expect(r[i][2]).toBeGreaterThan(0);
      if (i > 0) {
        expect(r[i][0]).toBeGreaterThanOrEqual(r[i - 1][1]);
        if (r[i][0] === r[i - 1][1]) expect(r[i][2]).not.toBe(r[i - 1][2]); // equal neighbours are merged
      }
    }
  });

  it('handles cluster numbers far beyond 2^32 (a 16 TiB file of 512-byte clusters has 2^35)', () => {
    const c = new CountedReferences();
    c.add(2 ** 35 - 1, 1);
    c.add(3, 1);
    c.add(2 ** 35 - 1, 1);
    expect(ranges(c)).toEqual([[3, 4, 1], [2 ** 35 - 1, 2 ** 35, 2]]);
  });
});
