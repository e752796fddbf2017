// The summary line every benchmark prints on stdout beside its own output, one per figure;
// bench/run-all.sh collects them into its final table. The Node side of bench/lib/result.sh
// (same line, same rules; see there). Plain JavaScript so that both the TypeScript benches
// (vite-node, esbuild) and the benches run by plain node (qcow2-bench.mjs) can import it;
// result.d.mts gives the TypeScript benches its types.
//
//   BENCH-RESULT<TAB>bench<TAB>metric<TAB>tsvirt<TAB>anchor<TAB>anchor value<TAB>unit<TAB>ratio
//
// ratio is the speed ratio: how many times as fast as the anchor tsvirt is — tsvirt/anchor
// for rates (better = 'higher'), anchor/tsvirt for times (better = 'lower') — so above 1
// tsvirt is faster, below 1 slower. Without both values the field is the note
// ("skipped: <reason>" or "failed: <reason>"), else "failed: <who>: no figure".

const NUMBER = /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/;

/** @param {number | string} x @returns {number | undefined} a positive finite number, or undefined */
function positive(x) {
  const n = typeof x === 'number' ? x : NUMBER.test(String(x)) ? Number(x) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** @param {number} x @param {number} digits */
function fmt(x, digits) {
  return x >= 10 ** digits - 0.5 ? x.toFixed(0) : String(Number(x.toPrecision(digits)));
}

/** @param {number | string} x what a missing value says: its text (e.g. "FAIL timeout after 600s"), else "no figure" */
const why = (x) => (typeof x === 'string' && x !== '' && x !== '-' ? x : 'no figure');

/** @param {string} s */
const field = (s) => String(s).replace(/[\t\r\n]+/g, ' ');

/**
 * The BENCH-RESULT line for one figure (without a newline).
 * @param {string} bench @param {string} metric @param {number | string} tsvirt
 * @param {string} anchor @param {number | string} anchorValue @param {string} unit
 * @param {'higher' | 'lower'} better which values of this unit are better
 * @param {string} [note] the ratio field when a value is missing: "skipped: ..." or "failed: ..."
 */
export function resultLine(bench, metric, tsvirt, anchor, anchorValue, unit, better, note) {
  if (better !== 'higher' && better !== 'lower') throw new Error(`resultLine: better must be 'higher' or 'lower', not ${better}`);
  const t = positive(tsvirt);
  const a = positive(anchorValue);
  let ratio;
  if (t !== undefined && a !== undefined) ratio = fmt(better === 'lower' ? a / t : t / a, 3);
  else if (note) ratio = note;
  else ratio = t === undefined ? `failed: tsvirt: ${why(tsvirt)}` : `failed: ${anchor}: ${why(anchorValue)}`;
  const value = (/** @type {number | undefined} */ v) => (v === undefined ? '-' : fmt(v, 4));
  return ['BENCH-RESULT', bench, metric, value(t), anchor, value(a), unit, ratio].map(field).join('\t');
}

/**
 * Prints the BENCH-RESULT line for one figure on stdout (arguments as for resultLine).
 * @param {Parameters<typeof resultLine>} args
 */
export function benchResult(...args) {
  console.log(resultLine(...args));
}
