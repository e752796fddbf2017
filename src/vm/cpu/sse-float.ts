// MXCSR-controlled SSE floating point (Intel SDM Vol. 1 §10.2.3, §11.5): rounding control
// (RC), flush-to-zero (FTZ), denormals-are-zero (DAZ) and the exception status flags
// IE DE ZE OE UE PE, for masked exceptions. JS arithmetic rounds to nearest-even only, so
// a result it cannot vouch for is recomputed exactly with BigInt and rounded here: when
// RC is not nearest, when FTZ/DAZ are set, when PE is still clear (the inexact flag must
// be decided), and for tiny results (underflow). Once a program has PE set and runs
// round-to-nearest, an operation costs a few comparisons on top of the JS arithmetic.
// Leaves out: unmasked exceptions (#XM is never raised; the flags are set as if masked).

export const MX_IE = 0x1, MX_DE = 0x2, MX_ZE = 0x4, MX_OE = 0x8, MX_UE = 0x10, MX_PE = 0x20;
export const MX_DAZ = 0x40, MX_FTZ = 0x8000;
const RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2;

export interface Format { p: number; emin: number; emax: number; min: number; max: number }
export const F64: Format = { p: 53, emin: -1022, emax: 1023, min: 2 ** -1022, max: Number.MAX_VALUE };
export const F32: Format = { p: 24, emin: -126, emax: 127, min: 2 ** -126, max: (2 - 2 ** -23) * 2 ** 127 };

const DV = new DataView(new ArrayBuffer(8));

/** |v| = m * 2^e for a finite double. */
function decompose(v: number): [bigint, number] {
  DV.setFloat64(0, v);
  const hi = DV.getUint32(0), lo = DV.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075];
}

function bitLength(m: bigint): number {
  return m === 0n ? 0 : m.toString(2).length;
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Drops `s` low bits of m (plus a sticky fraction below them), rounding per rc; [q, inexact]. */
function roundShift(m: bigint, s: number, sticky: boolean, neg: boolean, rc: number): [bigint, boolean] {
  let q: bigint, half: boolean, rest: boolean;
  if (s <= 0) { q = m << BigInt(-s); half = false; rest = sticky; }
  else {
    const bs = BigInt(s);
    q = m >> bs;
    half = ((m >> (bs - 1n)) & 1n) === 1n;
    rest = sticky || (m & ((1n << (bs - 1n)) - 1n)) !== 0n;
  }
  const inexact = half || rest;
  let up: boolean;
  switch (rc) {
    case RC_NEAREST: up = half && (rest || (q & 1n) === 1n); break;
    case RC_DOWN: up = neg && inexact; break;
    case RC_UP: up = !neg && inexact; break;
    default: up = false;
  }
  return [up ? q + 1n : q, inexact];
}

/**
 * Rounds the exact value ±(m * 2^e + a sticky fraction below 2^e), m > 0, into format f
 * under rc (and FTZ); ORs the exception flags into `fl.flags` and returns the result.
 */
export function roundExact(neg: boolean, m: bigint, e: number, sticky: boolean, f: Format, rc: number, ftz: boolean, fl: { flags: number }): number {
  const lead = e + bitLength(m) - 1;
  // Tininess after rounding to p bits with an unbounded exponent (SDM Vol. 1 §4.9.1.5).
  const [qu] = roundShift(m, bitLength(m) - f.p, sticky, neg, rc);
  const tiny = lead + (bitLength(qu) > f.p ? 1 : 0) < f.emin;
  let qexp = Math.max(lead - f.p + 1, f.emin - f.p + 1);
  let [q, inexact] = roundShift(m, qexp - e, sticky, neg, rc);
  if (bitLength(q) > f.p) { q >>= 1n; qexp++; }
  const sign = neg ? -1 : 1;
  if (tiny && ftz) { fl.flags |= MX_UE | MX_PE; return sign * 0; }
  if (tiny && inexact) fl.flags |= MX_UE;
  if (inexact) fl.flags |= MX_PE;
  if (q !== 0n && qexp + bitLength(q) - 1 > f.emax) {
    // Masked overflow (SDM Vol. 1 Table 4-10): infinity or the largest finite number.
    fl.flags |= MX_OE | MX_PE;
    const toInf = rc === RC_NEAREST || (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
    return sign * (toInf ? Infinity : f.max);
  }
  return sign * Number(q) * 2 ** qexp;
}

/** Rounds a finite double (or an integer given exactly as a BigInt) into format f. */
export function roundValue(v: number | bigint, f: Format, rc: number, ftz: boolean, fl: { flags: number }): number {
  if (typeof v === 'bigint') {
    if (v === 0n) return 0;
    return roundExact(v < 0n, v < 0n ? -v : v, 0, false, f, rc, ftz, fl);
  }
  if (v === 0) return v;
  const [m, e] = decompose(v);
  return roundExact(v < 0, m, e, false, f, rc, ftz, fl);
}

/**
 * The exactly rounded result of a finite, non-NaN-producing op on finite operands:
 * 0x58 add, 0x5c sub, 0x59 mul, 0x5e div (b != 0), 0x51 sqrt of b (b >= 0).
 */
export function exactOp(op: number, a: number, b: number, f: Format, rc: number, ftz: boolean, fl: { flags: number }): number {
  switch (op) {
    case 0x58: case 0x5c: {
      const bb = op === 0x5c ? -b : b;
      if (a === 0 && bb === 0) {
        // Exact zero sum: -0 only for two negative zeros, or for opposite signs rounding down.
        const bothNeg = Object.is(a, -0) && Object.is(bb, -0), bothPos = Object.is(a, 0) && Object.is(bb, 0);
        return bothNeg ? -0 : bothPos ? 0 : rc === RC_DOWN ? -0 : 0;
      }
      if (a === 0) return roundValue(bb, f, rc, ftz, fl);
      if (bb === 0) return roundValue(a, f, rc, ftz, fl);
      const [ma, ea] = decompose(a), [mb, eb] = decompose(bb);
      const e0 = Math.min(ea, eb);
      const s = (a < 0 ? -ma : ma) * (1n << BigInt(ea - e0)) + (bb < 0 ? -mb : mb) * (1n << BigInt(eb - e0));
      if (s === 0n) return rc === RC_DOWN ? -0 : 0;
      return roundExact(s < 0n, s < 0n ? -s : s, e0, false, f, rc, ftz, fl);
    }
    case 0x59: {
      if (a === 0 || b === 0) return a * b;
      const [ma, ea] = decompose(a), [mb, eb] = decompose(b);
      return roundExact((a < 0) !== (b < 0), ma * mb, ea + eb, false, f, rc, ftz, fl);
    }
    case 0x5e: {
      if (a === 0) return a / b;
      const [ma, ea] = decompose(a), [mb, eb] = decompose(b);
      const k = Math.max(0, f.p + 3 + bitLength(mb) - bitLength(ma));
      const n = ma << BigInt(k);
      const q = n / mb;
      return roundExact((a < 0) !== (b < 0), q, ea - eb - k, q * mb !== n, f, rc, ftz, fl);
    }
    default: {
      if (b === 0) return b;
      let [m, e] = decompose(b);
      if (e & 1) { m <<= 1n; e -= 1; }
      const k = Math.max(0, f.p + 3 - (bitLength(m) >> 1));
      m <<= BigInt(2 * k); e -= 2 * k;
      const r = isqrt(m);
      return roundExact(false, r, e / 2, r * r !== m, f, rc, ftz, fl);
    }
  }
}

/** Rounds a finite double to an integer per rc (the conversions' rounding). */
export function roundToInteger(v: number, rc: number): number {
  switch (rc) {
    case RC_NEAREST: {
      const fl = Math.floor(v), d = v - fl;
      return d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
    }
    case RC_DOWN: return Math.floor(v);
    case RC_UP: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}
