// x87 FPU state (Intel SDM Vol. 1 Chapter 8): the register stack, status, control and tag
// words. Values are held as float64, so 80-bit extended precision is rounded to double
// (exact for every value a float/double program stores; long double arithmetic loses
// the extra 11 bits of mantissa). Exceptions are always masked-style: results become
// NaN/Inf and the status word records the condition; unmasked #MF is not delivered.
// The MMX registers alias the physical registers' 64-bit mantissas (SDM Vol. 1 §9.5): an
// MMX write stores the exact 80-bit image (mantissa, exponent 0xFFFF) beside the float64,
// and FXRSTOR/FRSTOR/FLD m80 keep the image they loaded, so MMX values and untouched
// 80-bit values survive save/restore bit for bit. Any x87 write drops the image.

export const FSW_IE = 0x1, FSW_ZE = 0x4, FSW_C0 = 0x100, FSW_C1 = 0x200, FSW_C2 = 0x400, FSW_C3 = 0x4000;

const TWO32 = 4294967296;

export class X87 {
  readonly st = new Float64Array(8);
  /** Exact 80-bit images per physical register: mantissa as (lo, hi) 32-bit halves, sign+exponent word. */
  readonly mant = new Int32Array(16);
  readonly expo = new Uint16Array(8);
  /** 1 where mant/expo (not st) hold the register's value. */
  readonly exact = new Uint8Array(8);
  /** Physical register tags: true = empty. */
  readonly empty = new Uint8Array(8);
  top = 0;
  sw = 0;
  cw = 0x37f;
  /** Last instruction/data pointers (kept as zero; FXSAVE stores them). */
  fop = 0;

  reset(): void {
    this.st.fill(0);
    this.exact.fill(0);
    this.init();
  }

  /** FNINIT (SDM Vol. 2 FINIT/FNINIT): the data registers keep their contents. */
  init(): void {
    this.empty.fill(1);
    this.top = 0;
    this.sw = 0;
    this.cw = 0x37f;
  }

  // ---- MMX view (SDM Vol. 1 §9.5, §9.6) ----

  /** Every MMX instruction but EMMS: TOP = 0 and all tags valid. */
  enterMmx(): void {
    this.top = 0;
    this.empty.fill(0);
  }

  /** EMMS: all tags empty. */
  emms(): void {
    this.empty.fill(1);
  }

  /** MMn (physical register n) into out[at], out[at + 1] as (lo, hi). */
  readMmx(n: number, out: Int32Array, at: number): void {
    if (this.exact[n]) { out[at] = this.mant[2 * n]; out[at + 1] = this.mant[2 * n + 1]; return; }
    const b = f64ToF80(this.st[n]);
    out[at] = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
    out[at + 1] = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24);
  }

  /** An MMX write: mantissa = value, sign and exponent all ones (a NaN or -inf to the x87). */
  writeMmx(n: number, lo: number, hi: number): void {
    this.mant[2 * n] = lo;
    this.mant[2 * n + 1] = hi;
    this.expo[n] = 0xffff;
    this.exact[n] = 1;
    this.bits[2 * n] = 0;
    this.bits[2 * n + 1] = (hi | 0) === (0x8000_0000 | 0) && lo === 0 ? 0xfff0_0000 : 0xfff8_0000;
  }

  /** The 80-bit image of physical register n (FXSAVE, FNSAVE, FSTP m80). */
  image80(n: number): Uint8Array {
    if (!this.exact[n]) return f64ToF80(this.st[n]);
    const out = new Uint8Array(10);
    const d = new DataView(out.buffer);
    d.setInt32(0, this.mant[2 * n], true);
    d.setInt32(4, this.mant[2 * n + 1], true);
    d.setUint16(8, this.expo[n], true);
    return out;
  }

  /** Loads physical register n from an 80-bit image, keeping the image (tags unchanged). */
  load80(n: number, b: Uint8Array): void {
    const d = new DataView(b.buffer, b.byteOffset, 10);
    this.st[n] = f80ToF64(b);
    this.mant[2 * n] = d.getInt32(0, true);
    this.mant[2 * n + 1] = d.getInt32(4, true);
    this.expo[n] = d.getUint16(8, true);
    this.exact[n] = 1;
  }

  statusWord(): number {
    return ((this.sw & ~0x3800) | ((this.top & 7) << 11)) & 0xffff;
  }

  /** Full tag word (2 bits per register: 00 valid, 01 zero, 10 special, 11 empty). */
  tagWord(): number {
    let t = 0;
    for (let r = 0; r < 8; r++) {
      let tag = 3;
      if (!this.empty[r]) {
        const v = this.st[r];
        tag = v === 0 ? 1 : Number.isFinite(v) ? 0 : 2;
      }
      t |= tag << (2 * r);
    }
    return t;
  }

  /** Abridged tag byte for FXSAVE (1 bit per register: 1 = valid). */
  abridgedTag(): number {
    let t = 0;
    for (let r = 0; r < 8; r++) if (!this.empty[r]) t |= 1 << r;
    return t;
  }

  setAbridgedTag(t: number): void {
    for (let r = 0; r < 8; r++) this.empty[r] = (t >> r) & 1 ? 0 : 1;
  }

  setTagWord(t: number): void {
    for (let r = 0; r < 8; r++) this.empty[r] = ((t >> (2 * r)) & 3) === 3 ? 1 : 0;
  }

  private readonly bits = new Uint32Array(this.st.buffer);

  /** The sign bit of ST(i) as stored (also for NaNs and -0). */
  signBit(i: number): boolean {
    return (this.bits[2 * ((this.top + i) & 7) + 1] & 0x8000_0000) !== 0;
  }

  /** ST(i) value. */
  get(i: number): number {
    const r = (this.top + i) & 7;
    if (this.empty[r]) { this.sw |= FSW_IE | 0x40; return NaN; } // stack underflow
    return this.st[r];
  }

  set(i: number, v: number): void {
    const r = (this.top + i) & 7;
    this.st[r] = v;
    this.empty[r] = 0;
    this.exact[r] = 0;
  }

  push(v: number): void {
    this.top = (this.top - 1) & 7;
    if (!this.empty[this.top]) this.sw |= FSW_IE | 0x40 | FSW_C1; // stack overflow
    this.st[this.top] = v;
    this.empty[this.top] = 0;
    this.exact[this.top] = 0;
  }

  pop(): number {
    const v = this.st[this.top];
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
    return v;
  }

  /** Rounds per the control word's RC field (SDM Vol. 1 §8.1.5.3). */
  round(v: number): number {
    switch ((this.cw >> 10) & 3) {
      case 0: {
        // Round to nearest even.
        const f = Math.floor(v), d = v - f;
        if (d > 0.5) return f + 1;
        if (d < 0.5) return f;
        return f % 2 === 0 ? f : f + 1;
      }
      case 1: return Math.floor(v);
      case 2: return Math.ceil(v);
      default: return Math.trunc(v);
    }
  }
}

/**
 * True for the 80-bit encodings FLD m80 loads unchanged (SDM Vol. 1 §8.2.2, Table 8-3):
 * zeros, denormals, normals, infinities and quiet NaNs with a consistent integer bit.
 * Signalling NaNs are quieted and unsupported encodings become the indefinite.
 */
export function loadsUnchanged80(b: Uint8Array): boolean {
  const e = (b[8] | (b[9] << 8)) & 0x7fff, j = b[7] & 0x80;
  if (e === 0) return j === 0;
  if (j === 0) return false;
  if (e !== 0x7fff) return true;
  let frac = b[7] & 0x7f;
  for (let k = 0; k < 7; k++) frac |= b[k];
  return frac === 0 || (b[7] & 0x40) !== 0;
}

/** float64 to x87 80-bit extended (little-endian bytes). */
export function f64ToF80(v: number): Uint8Array {
  const out = new Uint8Array(10);
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v, true);
  const hi = dv.getUint32(4, true), lo = dv.getUint32(0, true);
  const sign = hi >>> 31;
  const exp = (hi >>> 20) & 0x7ff;
  let mantHi = ((hi & 0xfffff) << 11) | (lo >>> 21), mantLo = (lo << 11) >>> 0;
  let e: number;
  if (exp === 0 && mantHi === 0 && mantLo === 0) { e = 0; }
  else if (exp === 0x7ff) { e = 0x7fff; mantHi = (mantHi | 0x8000_0000) >>> 0; }
  else if (exp === 0) {
    // Denormal double: normalise into the wider exponent range.
    let m = BigInt(hi & 0xfffff) << 32n | BigInt(lo);
    let ee = 1 - 1023 + 16383;
    while ((m & (1n << 52n)) === 0n) { m <<= 1n; ee--; }
    m <<= 11n;
    mantHi = Number(m >> 32n); mantLo = Number(m & 0xffff_ffffn);
    e = ee;
  } else { e = exp - 1023 + 16383; mantHi = (mantHi | 0x8000_0000) >>> 0; }
  const d = new DataView(out.buffer);
  d.setUint32(0, mantLo >>> 0, true);
  d.setUint32(4, mantHi >>> 0, true);
  d.setUint16(8, (sign << 15) | e, true);
  return out;
}

/** x87 80-bit extended to float64 (rounded to nearest). */
export function f80ToF64(b: Uint8Array): number {
  const d = new DataView(b.buffer, b.byteOffset, 10);
  const mantLo = d.getUint32(0, true), mantHi = d.getUint32(4, true);
  const se = d.getUint16(8, true);
  const sign = se >> 15 ? -1 : 1, e = se & 0x7fff;
  if (e === 0 && mantHi === 0 && mantLo === 0) return sign * 0;
  if (e === 0x7fff) return (mantHi & 0x7fff_ffff) === 0 && mantLo === 0 ? sign * Infinity : NaN;
  const mant = mantHi * TWO32 + mantLo; // rounded to 53 bits by the double arithmetic
  return sign * mant * Math.pow(2, e - 16383 - 63);
}
