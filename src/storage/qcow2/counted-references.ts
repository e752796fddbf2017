// The references `img check` counts for each host cluster (check.ts), kept as sorted,
// disjoint ranges of clusters that share a count instead of one counter per cluster of
// the file. The file's length says nothing about how much metadata an image has: a
// 16 TiB sparse file with 512-byte clusters has 2^35 clusters (a Float64Array of that
// length cannot even be allocated) while its tables reference a few hundred, and an
// image written front to back references long runs of consecutive clusters, which
// collapse into one range each. Memory is at most ~40 bytes per range, and there are
// never more ranges than references added, so it follows the metadata, not the file.
//
// References are appended to a batch (consecutive ones merged on the spot); a full batch
// is sorted and swept into the ranges. The batch grows with the ranges, so each merge
// costs about as much as the references that filled the batch (O(n log n) in all).

const MIN_BATCH = 1 << 16;

export class CountedReferences {
  private rStart = new Float64Array(64);
  private rEnd = new Float64Array(64);
  private rCount = new Float64Array(64);
  private ranges = 0;
  private bStart = new Float64Array(MIN_BATCH);
  private bEnd = new Float64Array(MIN_BATCH);
  private batched = 0;

  /** Counts one reference to each of the clusters [first, first + n). */
  add(first: number, n: number): void {
    if (n <= 0) return;
    const end = first + n;
    // A reference that continues the previous one (the next data cluster of a table)
    // extends it: [a, b) + [b, c) counts the same as [a, c).
    if (this.batched > 0 && this.bEnd[this.batched - 1] === first) {
      this.bEnd[this.batched - 1] = end;
      return;
    }
    if (this.batched === this.bStart.length) this.merge();
    this.bStart[this.batched] = first;
    this.bEnd[this.batched] = end;
    this.batched++;
  }

  /** Number of ranges (after merging what is batched). */
  get length(): number {
    this.merge();
    return this.ranges;
  }

  /** First cluster, one past the last cluster, and count of range i (0 <= i < length). */
  start(i: number): number {
    return this.rStart[i];
  }

  end(i: number): number {
    return this.rEnd[i];
  }

  count(i: number): number {
    return this.rCount[i];
  }

  /** References counted for `cluster` (binary search; for lookups out of order). */
  countAt(cluster: number): number {
    this.merge();
    let lo = 0;
    let hi = this.ranges;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rEnd[mid] <= cluster) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.ranges && this.rStart[lo] <= cluster ? this.rCount[lo] : 0;
  }

  /**
   * Sweeps the batch into the ranges. The count of a cluster x is the number of starts
   * <= x minus the number of ends <= x, so the batch's starts and ends can be sorted
   * separately; the existing ranges are sorted already (disjoint, so their ends too).
   */
  private merge(): void {
    const n = this.batched;
    if (n === 0) return;
    const bs = this.bStart.subarray(0, n).sort();
    const be = this.bEnd.subarray(0, n).sort();
    const old = { start: this.rStart, end: this.rEnd, count: this.rCount, n: this.ranges };
    let cap = Math.max(64, old.n + n);
    let oStart = new Float64Array(cap);
    let oEnd = new Float64Array(cap);
    let oCount = new Float64Array(cap);
    let out = 0;
    const emit = (from: number, to: number, c: number): void => {
      if (out > 0 && oEnd[out - 1] === from && oCount[out - 1] === c) {
        oEnd[out - 1] = to;
        return;
      }
      if (out === cap) {
        cap *= 2;
        const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
          const b = new Float64Array(cap);
          b.set(a);
          return b;
        };
        oStart = grow(oStart);
        oEnd = grow(oEnd);
        oCount = grow(oCount);
      }
      oStart[out] = from;
      oEnd[out] = to;
      oCount[out] = c;
      out++;
    };
    let i = 0; // batch starts
    let j = 0; // batch ends
    let a = 0; // range starts
    let b = 0; // range ends
    let current = 0;
    let prev = 0;
    while (j < n || b < old.n) {
      const p = Math.min(i < n ? bs[i] : Infinity, j < n ? be[j] : Infinity, a < old.n ? old.start[a] : Infinity, b < old.n ? old.end[b] : Infinity);
      if (current > 0 && prev < p) emit(prev, p, current);
      while (i < n && bs[i] === p) { current++; i++; }
      while (j < n && be[j] === p) { current--; j++; }
      while (a < old.n && old.start[a] === p) { current += old.count[a]; a++; }
      while (b < old.n && old.end[b] === p) { current -= old.count[b]; b++; }
      prev = p;
    }
    this.rStart = oStart;
    this.rEnd = oEnd;
    this.rCount = oCount;
    this.ranges = out;
    this.batched = 0;
    if (this.bStart.length < out) {
      this.bStart = new Float64Array(out);
      this.bEnd = new Float64Array(out);
    }
  }
}
