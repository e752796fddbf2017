// The architectural register state of one x86-64 logical processor (Intel SDM Vol. 1
// §3.4, Vol. 3A §2.5) and the lazy evaluation of the status flags.
// General registers are kept as 32-bit halves in typed arrays (lo/hi), so no BigInt is
// needed on the hot path; RIP and linear addresses are JS numbers holding the signed
// 64-bit value (canonical addresses are < 2^47 in magnitude and therefore exact).
// Segment caches hold base/limit/attrs (attrs = descriptor byte 5 | (byte 6 >> 4) << 8).

import {
  AF, ARITH_FLAGS, CF, F_ADC, F_ADD, F_DEC, F_INC, F_LOGIC, F_NONE, F_SBB, F_SUB, OF, PARITY, PF, SF,
  SIZE_SIGN, ZF,
} from './flags.js';

export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;

export const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 0x10, CR0_NE = 0x20;
export const CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_NW = 0x2000_0000, CR0_CD = 0x4000_0000;
export const CR0_PG = 0x8000_0000;
export const CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 0x10, CR4_PAE = 0x20;
export const CR4_MCE = 0x40, CR4_PGE = 0x80, CR4_PCE = 0x100, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400;
export const CR4_FSGSBASE = 0x10000;
export const EFER_SCE = 1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

/** Segment attrs bits in the RegisterDump layout. */
export const ATTR_TYPE_ACCESSED = 0x1;
export const ATTR_S = 0x10;
export const ATTR_P = 0x80;
export const ATTR_L = 0x200;
export const ATTR_DB = 0x400;
export const ATTR_G = 0x800;

export class CpuState {
  /** Low and high 32 bits of RAX..R15 (SDM register numbering). */
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  rip = 0;
  /** RFLAGS; the status bits are stale while fOp !== F_NONE. */
  flags = 2;
  fOp = F_NONE;
  fSize = 4;
  fA = 0; fB = 0; fR = 0;
  fAh = 0; fBh = 0; fRh = 0;
  fCin = 0;

  readonly segSel = new Uint16Array(8);
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Float64Array(8);
  readonly segAttr = new Uint16Array(8);
  gdtBase = 0; gdtLimit = 0xffff;
  idtBase = 0; idtLimit = 0xffff;

  cr0 = 0x6000_0010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  readonly dr = new Float64Array(8);
  cpl = 0;

  /** Code segment mode: 16, 32 or 64 (long mode with CS.L). */
  codeMode = 16;
  /** Default stack width (SS.B) in bytes outside 64-bit mode. */
  stackSize = 2;

  /** XMM0-15 as 4 x 32 bits each, with float views over the same bytes. */
  readonly xmm = new Int32Array(20 * 4); // XMM0-15, then scratch slots for the executor (16-17 SSE, 18-19 MMX)
  readonly xmmF32 = new Float32Array(this.xmm.buffer);
  readonly xmmF64 = new Float64Array(this.xmm.buffer);
  mxcsr = 0x1f80;

  /** Scratch: the high half of the last 64-bit value read (read64, rdE). */
  th = 0;

  // ---- lazy flags (SDM Vol. 1 Appendix A for which instruction sets which flag) ----

  getCF(): number {
    const a = this.fA, b = this.fB, r = this.fR;
    switch (this.fOp) {
      case F_NONE: return this.flags & CF;
      case F_ADD:
        if (this.fSize === 8) return this.fRh < this.fAh || (this.fRh === this.fAh && r < a) ? 1 : 0;
        return r < a ? 1 : 0;
      case F_ADC:
        if (this.fSize === 8) {
          if (this.fRh !== this.fAh) return this.fRh < this.fAh ? 1 : 0;
          return r < a || (this.fCin !== 0 && r === a) ? 1 : 0;
        }
        return r < a || (this.fCin !== 0 && r === a) ? 1 : 0;
      case F_SUB:
        if (this.fSize === 8) return this.fAh < this.fBh || (this.fAh === this.fBh && a < b) ? 1 : 0;
        return a < b ? 1 : 0;
      case F_SBB:
        if (this.fSize === 8) {
          if (this.fAh !== this.fBh) return this.fAh < this.fBh ? 1 : 0;
          return a < b || (this.fCin !== 0 && a === b) ? 1 : 0;
        }
        return a < b || (this.fCin !== 0 && a === b) ? 1 : 0;
      case F_LOGIC: return 0;
      default: return this.fCin; // INC, DEC
    }
  }

  getZF(): boolean {
    if (this.fOp === F_NONE) return (this.flags & ZF) !== 0;
    return this.fR === 0 && (this.fSize !== 8 || this.fRh === 0);
  }

  getSF(): boolean {
    if (this.fOp === F_NONE) return (this.flags & SF) !== 0;
    if (this.fSize === 8) return (this.fRh & 0x8000_0000) !== 0;
    return (this.fR & SIZE_SIGN[this.fSize]) !== 0;
  }

  getOF(): boolean {
    let a = this.fA, b = this.fB, r = this.fR, sign = SIZE_SIGN[this.fSize];
    if (this.fSize === 8) { a = this.fAh; b = this.fBh; r = this.fRh; sign = 0x8000_0000; }
    switch (this.fOp) {
      case F_NONE: return (this.flags & OF) !== 0;
      case F_ADD: case F_ADC: case F_INC: return ((a ^ r) & (b ^ r) & sign) !== 0;
      case F_SUB: case F_SBB: case F_DEC: return ((a ^ b) & (a ^ r) & sign) !== 0;
      default: return false;
    }
  }

  getPF(): boolean {
    if (this.fOp === F_NONE) return (this.flags & PF) !== 0;
    return PARITY[this.fR & 0xff] !== 0;
  }

  getAF(): boolean {
    if (this.fOp === F_NONE) return (this.flags & AF) !== 0;
    if (this.fOp === F_LOGIC) return false;
    return ((this.fA ^ this.fB ^ this.fR) & 0x10) !== 0;
  }

  /** Folds a pending lazy result into `flags`. */
  materializeFlags(): void {
    if (this.fOp === F_NONE) return;
    let f = this.flags & ~ARITH_FLAGS;
    if (this.getCF()) f |= CF;
    if (this.getPF()) f |= PF;
    if (this.getAF()) f |= AF;
    if (this.getZF()) f |= ZF;
    if (this.getSF()) f |= SF;
    if (this.getOF()) f |= OF;
    this.flags = f;
    this.fOp = F_NONE;
  }

  /** RFLAGS as the guest sees it (bit 1 always set). */
  getRflags(): number {
    this.materializeFlags();
    return (this.flags | 2) >>> 0;
  }

  /**
   * Sets all six status flags at once (shifts, multiplies, COMISx, FCOMI, SAHF...): the
   * pending lazy result is simply dropped, as every status bit is overwritten.
   */
  setArithFlags(bits: number): void {
    this.flags = (this.flags & ~ARITH_FLAGS) | (bits & ARITH_FLAGS);
    this.fOp = F_NONE;
  }

  /** Condition codes tttn (SDM Vol. 2 Appendix B.1.4.7). */
  cond(cc: number): boolean {
    if (cc === 4 || cc === 5) {
      // JE/JNE, SETE/SETNE, CMOVE/CMOVNE: ZF from the result alone.
      const z = this.fOp === F_NONE ? (this.flags & ZF) !== 0 : this.fR === 0 && (this.fSize !== 8 || this.fRh === 0);
      return cc === 4 ? z : !z;
    }
    // The common case after CMP/SUB of 32 bits or less: compare the recorded operands.
    if (this.fOp === F_SUB && this.fSize !== 8) {
      const a = this.fA, b = this.fB;
      switch (cc) {
        case 2: return a < b;
        case 3: return a >= b;
        case 4: return a === b;
        case 5: return a !== b;
        case 6: return a <= b;
        case 7: return a > b;
        case 12: case 13: case 14: case 15: {
          const sh = 32 - this.fSize * 8;
          const sa = (a << sh) >> sh, sb = (b << sh) >> sh;
          if (cc === 12) return sa < sb;
          if (cc === 13) return sa >= sb;
          if (cc === 14) return sa <= sb;
          return sa > sb;
        }
        default: break;
      }
    }
    if (this.fOp === F_LOGIC) {
      // After TEST/AND/OR/XOR: CF = OF = 0.
      const z = this.fR === 0 && (this.fSize !== 8 || this.fRh === 0);
      const sgn = this.fSize === 8 ? (this.fRh & 0x8000_0000) !== 0 : (this.fR & SIZE_SIGN[this.fSize]) !== 0;
      switch (cc) {
        case 4: return z;
        case 5: return !z;
        case 8: case 12: return sgn;
        case 9: case 13: return !sgn;
        case 6: case 14: return z || (cc === 14 && sgn);
        case 7: case 15: return !z && (cc === 7 || !sgn);
        default: break;
      }
    }
    let v: boolean;
    switch (cc >> 1) {
      case 0: v = this.getOF(); break;
      case 1: v = this.getCF() !== 0; break;
      case 2: v = this.getZF(); break;
      case 3: v = this.getCF() !== 0 || this.getZF(); break;
      case 4: v = this.getSF(); break;
      case 5: v = this.getPF(); break;
      case 6: v = this.getSF() !== this.getOF(); break;
      default: v = this.getZF() || this.getSF() !== this.getOF(); break;
    }
    return (cc & 1) !== 0 ? !v : v;
  }

  // ---- general registers ----

  /** Reads a register of `size` bytes; for size 1, idx >= 16 names AH/CH/DH/BH. */
  readReg(size: number, idx: number): number {
    switch (size) {
      case 1: return idx < 16 ? this.lo[idx] & 0xff : (this.lo[idx - 16] >> 8) & 0xff;
      case 2: return this.lo[idx] & 0xffff;
      case 4: return this.lo[idx] >>> 0;
      default: this.th = this.hi[idx] >>> 0; return this.lo[idx] >>> 0;
    }
  }

  /** Writes a register; 32-bit writes zero the upper half (SDM Vol. 1 §3.4.1.1). */
  writeReg(size: number, idx: number, v: number, vh = 0): void {
    switch (size) {
      case 1:
        if (idx < 16) this.lo[idx] = (this.lo[idx] & ~0xff) | (v & 0xff);
        else this.lo[idx - 16] = (this.lo[idx - 16] & ~0xff00) | ((v & 0xff) << 8);
        return;
      case 2: this.lo[idx] = (this.lo[idx] & ~0xffff) | (v & 0xffff); return;
      case 4: this.lo[idx] = v; this.hi[idx] = 0; return;
      default: this.lo[idx] = v; this.hi[idx] = vh; return;
    }
  }

  /** The register as a signed 64-bit number (exact while |value| < 2^53). */
  reg64(idx: number): number {
    return this.hi[idx] * 4294967296 + (this.lo[idx] >>> 0);
  }

  setReg64(idx: number, v: number): void {
    this.lo[idx] = v % 4294967296 | 0;
    this.hi[idx] = Math.floor(v / 4294967296) | 0;
  }
}
