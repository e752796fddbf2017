// x87 FPU state (Intel SDM Vol. 1 Chapter 8): the register stack, status, control and tag
// words. Values are held as float64, so 80-bit extended precision is rounded to double
// (exact for every value a float/double program stores; long double arithmetic loses
// the extra 11 bits of mantissa). Exceptions are always masked-style: results become
// NaN/Inf and the status word records the condition; unmasked #MF is not delivered.

export const FSW_IE = 0x1, FSW_ZE = 0x4, FSW_C0 = 0x100, FSW_C1 = 0x200, FSW_C2 = 0x400, FSW_C3 = 0x4000;

export class X87 {
  readonly st = new Float64Array(8);
  /** Physical register tags: true = empty. */
  readonly empty = new Uint8Array(8);
  top = 0;
  sw = 0;
  cw = 0x37f;
  /** Last instruction/data pointers (kept as zero; FXSAVE stores them). */
  fop = 0;

  reset(): void {
    this.st.fill(0);
    this.empty.fill(1);
    this.top = 0;
    this.sw = 0;
    this.cw = 0x37f;
  }

  /** FNINIT (SDM Vol. 2 FINIT/FNINIT). */
  init(): void {
    this.reset();
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
  }

  push(v: number): void {
    this.top = (this.top - 1) & 7;
    if (!this.empty[this.top]) this.sw |= FSW_IE | 0x40 | FSW_C1; // stack overflow
    this.st[this.top] = v;
    this.empty[this.top] = 0;
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
