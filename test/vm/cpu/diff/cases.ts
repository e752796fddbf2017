// Randomised inputs for the differential tests: a seeded PRNG (mulberry32: small, fast,
// reproducible across runs and machines) and generators biased towards the values that
// break ALUs — 0, 1, -1, the sign boundaries of every operand size, and edge values with
// random upper bits (to catch partial-register and zero-extension mistakes).
// Leaves out: exhaustive enumeration (only 8-bit forms could afford it).

import { DATA_BYTES, DEFAULT_RSP, type CaseInput, type GprName, GPR_NAMES } from '../support/snippet-machine.js';

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next32() / 2 ** 32) * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
  u64(): bigint {
    return (BigInt(this.next32()) << 32n) | BigInt(this.next32());
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next32();
      for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return b;
  }
}

const M64 = (1n << 64n) - 1n;

/** 0, 1, -1 and the sign boundaries (and neighbours) of 8/16/32/64-bit values. */
export const EDGE_VALUES: readonly bigint[] = (() => {
  const out = new Set<bigint>([0n, 1n, 2n, M64, M64 - 1n]);
  for (const bits of [8n, 16n, 32n, 64n]) {
    const max = (1n << (bits - 1n)) - 1n;
    const min = 1n << (bits - 1n);
    const all = (1n << bits) - 1n;
    for (const v of [max, min, all, max - 1n, min + 1n, all - 1n]) out.add(v & M64);
    // Sign-extended forms: the 64-bit register holding a negative narrower value.
    out.add((M64 ^ max) & M64);
  }
  return [...out];
})();

/** A 64-bit value biased towards edges. */
export function interesting64(rng: Rng): bigint {
  const r = rng.below(100);
  if (r < 30) return rng.pick(EDGE_VALUES);
  if (r < 45) {
    // An edge value in the low 8/16/32 bits with random bits above.
    const bits = BigInt(rng.pick([8, 16, 32]));
    const low = rng.pick(EDGE_VALUES) & ((1n << bits) - 1n);
    return ((rng.u64() >> bits) << bits) | low;
  }
  if (r < 55) return BigInt(rng.below(130));
  return rng.u64();
}

// Arithmetic flags (SDM Vol. 1 §3.4.3.1) and DF.
export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const DF = 0x400;
export const OF = 0x800;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

/** Per-case adjustments a form applies after the random fill. */
export interface CaseShaper {
  (c: CaseInput, rng: Rng): void;
}

export function gprIndex(name: GprName): number {
  return GPR_NAMES.indexOf(name);
}

/** Random registers (RSP fixed at DEFAULT_RSP), random arithmetic flags and DF. */
export function randomCase(rng: Rng, withData: boolean, sse: boolean): CaseInput {
  const gpr = GPR_NAMES.map(() => interesting64(rng));
  gpr[4] = BigInt(DEFAULT_RSP);
  const flags = BigInt(rng.next32() & (ARITH_FLAGS | DF)) | 2n;
  const xmm: bigint[] = [];
  for (let i = 0; i < 8; i++) xmm.push(sse ? interestingXmmQword(rng) : 0n);
  return { gpr, rflags: flags, xmm, data: withData ? rng.bytes(DATA_BYTES) : undefined };
}

/** Doubles worth testing (as raw bits): zeros, ones, NaNs, infinities, denormals, integers. */
const DOUBLE_EDGES: readonly bigint[] = [
  0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n,
  0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0x7ff4000000000000n,
  0x0000000000000001n, 0x000fffffffffffffn, 0x7fefffffffffffffn, 0x4000000000000000n,
  0x43e0000000000000n, 0xc3e0000000000000n, 0x41dfffffffc00000n, 0xc1e0000000000000n,
  0x3fe0000000000000n, 0x4008000000000000n, 0x3fb999999999999an,
];

export function interestingXmmQword(rng: Rng): bigint {
  const r = rng.below(100);
  if (r < 25) return rng.pick(DOUBLE_EDGES);
  if (r < 50) {
    // A "normal" double in a modest range, so arithmetic stays exact-ish and varied.
    const d = (rng.next32() / 2 ** 32 - 0.5) * 2 ** (rng.below(80) - 20);
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, d, true);
    return v.getBigUint64(0, true);
  }
  if (r < 60) return rng.pick(EDGE_VALUES);
  return rng.u64();
}

/** A double (as bits) of modest magnitude, 2^-60..2^60, so no x87 result is denormal or overflows. */
export function modestDouble(rng: Rng): bigint {
  const v = new DataView(new ArrayBuffer(8));
  const sign = rng.below(2) ? -1 : 1;
  v.setFloat64(0, sign * (1 + rng.next32() / 2 ** 32 + rng.next32() / 2 ** 64) * 2 ** (rng.below(120) - 60), true);
  return v.getBigUint64(0, true);
}

