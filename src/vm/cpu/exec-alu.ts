// Integer arithmetic and logic instructions (Intel SDM Vol. 2): ADD/OR/ADC/SBB/AND/SUB/
// XOR/CMP in all forms, INC/DEC, NEG/NOT, TEST, the shift/rotate group, MUL/IMUL/DIV/IDIV,
// SHLD/SHRD, XADD, CMPXCHG/CMPXCHG8B/CMPXCHG16B, CBW/CWD families, and the BCD adjusts
// DAA/DAS/AAA/AAS/AAM/AAD (outside 64-bit mode only).
// Values of 8-32 bits are unsigned JS numbers; 64-bit values travel as (lo, hi) unsigned
// halves with the high half of results in Cpu.th. Arithmetic flags are lazy (state.ts);
// shifts, rotates and multiplies set them eagerly. Flags the SDM leaves undefined are
// computed as the host CPU of this project does where cheap, otherwise left unchanged.

import type { Cpu } from './cpu.js';
import { CpuFault, Vector } from './fault.js';
import { AF, CF, F_ADC, F_ADD, F_DEC, F_INC, F_LOGIC, F_SBB, F_SUB, OF, PARITY, SF, SIZE_MASK, SIZE_SIGN, ZF } from './flags.js';
import type { Insn } from './insn.js';

const TWO32 = 4294967296;

/** op: 0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP. Sizes 1, 2, 4. */
export function alu(c: Cpu, op: number, s: number, a: number, b: number): number {
  const m = SIZE_MASK[s];
  let r: number;
  switch (op) {
    case 0: r = ((a + b) & m) >>> 0; c.fOp = F_ADD; break;
    case 2: { const cin = c.getCF(); r = ((a + b + cin) & m) >>> 0; c.fOp = F_ADC; c.fCin = cin; break; }
    case 3: { const cin = c.getCF(); r = ((a - b - cin) & m) >>> 0; c.fOp = F_SBB; c.fCin = cin; break; }
    case 5: case 7: r = ((a - b) & m) >>> 0; c.fOp = F_SUB; break;
    case 1: r = (a | b) >>> 0; c.fOp = F_LOGIC; break;
    case 4: r = (a & b) >>> 0; c.fOp = F_LOGIC; break;
    default: r = (a ^ b) >>> 0; c.fOp = F_LOGIC; break;
  }
  c.fSize = s; c.fA = a; c.fB = b; c.fR = r;
  return r;
}

/** 64-bit ALU on unsigned halves; returns the low half, high half in c.th. */
export function alu64(c: Cpu, op: number, a: number, ah: number, b: number, bh: number): number {
  let r: number, rh: number;
  switch (op) {
    case 0: case 2: {
      const cin = op === 2 ? c.getCF() : 0;
      r = a + b + cin;
      const carry = r >= TWO32 ? 1 : 0;
      r >>>= 0;
      rh = (ah + bh + carry) >>> 0;
      c.fOp = op === 2 ? F_ADC : F_ADD; c.fCin = cin;
      break;
    }
    case 3: case 5: case 7: {
      const cin = op === 3 ? c.getCF() : 0;
      r = a - b - cin;
      const borrow = r < 0 ? 1 : 0;
      r >>>= 0;
      rh = (ah - bh - borrow) >>> 0;
      c.fOp = op === 3 ? F_SBB : F_SUB; c.fCin = cin;
      break;
    }
    case 1: r = (a | b) >>> 0; rh = (ah | bh) >>> 0; c.fOp = F_LOGIC; break;
    case 4: r = (a & b) >>> 0; rh = (ah & bh) >>> 0; c.fOp = F_LOGIC; break;
    default: r = (a ^ b) >>> 0; rh = (ah ^ bh) >>> 0; c.fOp = F_LOGIC; break;
  }
  c.fSize = 8; c.fA = a; c.fAh = ah; c.fB = b; c.fBh = bh; c.fR = r; c.fRh = rh;
  c.th = rh;
  return r;
}

// ---- ALU forms (opcodes 00-3F, 80-83, 84/85 TEST, A8/A9) ----

/** Ev,Gv and Eb,Gb: E = E op G. */
export function aluEG(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (s === 8) {
    const b = c.lo[i.reg] >>> 0, bh = c.hi[i.reg] >>> 0;
    const a = c.rdE(i), ah = c.th;
    const r = alu64(c, i.sub, a, ah, b, bh);
    if (i.sub !== 7) c.wrE(i, r, c.th);
    return;
  }
  const b = c.readReg(s, i.reg);
  if (i.rm >= 0 && s === 4) {
    const r = alu(c, i.sub, 4, c.lo[i.rm] >>> 0, b);
    if (i.sub !== 7) { c.lo[i.rm] = r; c.hi[i.rm] = 0; }
    return;
  }
  const r = alu(c, i.sub, s, c.rdE(i), b);
  if (i.sub !== 7) c.wrE(i, r);
}

/** Gv,Ev and Gb,Eb: G = G op E. */
export function aluGE(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (s === 8) {
    const b = c.rdE(i), bh = c.th;
    const r = alu64(c, i.sub, c.lo[i.reg] >>> 0, c.hi[i.reg] >>> 0, b, bh);
    if (i.sub !== 7) { c.lo[i.reg] = r; c.hi[i.reg] = c.th; }
    return;
  }
  const b = c.rdE(i);
  const r = alu(c, i.sub, s, c.readReg(s, i.reg), b);
  if (i.sub !== 7) c.writeReg(s, i.reg, r);
}

/** AL,Ib and rAX,Iz. */
export function aluAI(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (s === 8) {
    const r = alu64(c, i.sub, c.lo[0] >>> 0, c.hi[0] >>> 0, i.imm >>> 0, i.imm < 0 ? 0xffff_ffff : 0);
    if (i.sub !== 7) { c.lo[0] = r; c.hi[0] = c.th; }
    return;
  }
  const r = alu(c, i.sub, s, c.readReg(s, 0), (i.imm & SIZE_MASK[s]) >>> 0);
  if (i.sub !== 7) c.writeReg(s, 0, r);
}

/** Group 1 (80, 81, 83): Eb,Ib / Ev,Iz / Ev,Ib (sign-extended). */
export function aluEI(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (s === 8) {
    const a = c.rdE(i), ah = c.th;
    const r = alu64(c, i.sub, a, ah, i.imm >>> 0, i.imm < 0 ? 0xffff_ffff : 0);
    if (i.sub !== 7) c.wrE(i, r, c.th);
    return;
  }
  const b = (i.imm & SIZE_MASK[s]) >>> 0;
  if (i.rm >= 0 && s === 4) {
    const r = alu(c, i.sub, 4, c.lo[i.rm] >>> 0, b);
    if (i.sub !== 7) { c.lo[i.rm] = r; c.hi[i.rm] = 0; }
    return;
  }
  const r = alu(c, i.sub, s, c.rdE(i), b);
  if (i.sub !== 7) c.wrE(i, r);
}

/** TEST Eb,Gb / Ev,Gv. */
export function testEG(c: Cpu, i: Insn): void {
  if (i.osize === 8) {
    const a = c.rdE(i), ah = c.th;
    alu64(c, 4, a, ah, c.lo[i.reg] >>> 0, c.hi[i.reg] >>> 0);
    return;
  }
  alu(c, 4, i.osize, c.rdE(i), c.readReg(i.osize, i.reg));
}

/** TEST AL,Ib / rAX,Iz and group 3 /0 TEST E,I. */
export function testEI(c: Cpu, i: Insn): void {
  const s = i.osize;
  const a = i.opcode === 0xa8 || i.opcode === 0xa9 ? c.readReg(s, 0) : c.rdE(i);
  if (s === 8) {
    const ah = i.opcode === 0xa9 ? c.hi[0] >>> 0 : c.th;
    alu64(c, 4, a, ah, i.imm >>> 0, i.imm < 0 ? 0xffff_ffff : 0);
    return;
  }
  alu(c, 4, s, a, (i.imm & SIZE_MASK[s]) >>> 0);
}

// ---- INC/DEC/NEG/NOT ----

function incdec(c: Cpu, i: Insn, dec: boolean, a: number, ah: number): void {
  const cin = c.getCF();
  const s = i.osize;
  if (s === 8) {
    let r = dec ? a - 1 : a + 1, rh = ah;
    if (r < 0) { r += TWO32; rh = (ah - 1) >>> 0; } else if (r >= TWO32) { r -= TWO32; rh = (ah + 1) >>> 0; }
    c.fOp = dec ? F_DEC : F_INC; c.fSize = 8; c.fCin = cin;
    c.fA = a; c.fAh = ah; c.fB = 1; c.fBh = 0; c.fR = r; c.fRh = rh;
    c.wrE(i, r, rh);
    return;
  }
  const r = ((dec ? a - 1 : a + 1) & SIZE_MASK[s]) >>> 0;
  c.fOp = dec ? F_DEC : F_INC; c.fSize = s; c.fCin = cin; c.fA = a; c.fB = 1; c.fR = r;
  c.wrE(i, r);
}

/** FE/FF /0 /1: INC/DEC Eb/Ev (sub 0 inc, 1 dec). */
export function incDecE(c: Cpu, i: Insn): void {
  const a = c.rdE(i);
  incdec(c, i, i.sub === 1, a, c.th);
}

/** 40-4F outside 64-bit mode: INC/DEC Zv. */
export function incDecZ(c: Cpu, i: Insn): void {
  const saveRm = i.rm;
  i.rm = i.reg;
  const a = c.readReg(i.osize, i.reg);
  incdec(c, i, i.sub === 1, a, 0);
  i.rm = saveRm;
}

export function notE(c: Cpu, i: Insn): void {
  const a = c.rdE(i);
  if (i.osize === 8) { c.wrE(i, ~a >>> 0, ~c.th >>> 0); return; }
  c.wrE(i, (~a & SIZE_MASK[i.osize]) >>> 0);
}

export function negE(c: Cpu, i: Insn): void {
  const a = c.rdE(i);
  if (i.osize === 8) { const r = alu64(c, 5, 0, 0, a, c.th); c.wrE(i, r, c.th); return; }
  c.wrE(i, alu(c, 5, i.osize, 0, a));
}

// ---- shifts and rotates (group 2: C0/C1 Ib, D0/D1 by 1, D2/D3 by CL) ----

function szp(s: number, r: number, rh: number): number {
  let f = PARITY[r & 0xff];
  if (s === 8) { if (r === 0 && rh === 0) f |= ZF; if (rh & 0x8000_0000) f |= SF; }
  else { if (r === 0) f |= ZF; if (r & SIZE_SIGN[s]) f |= SF; }
  return f;
}

function shiftCount(c: Cpu, i: Insn): number {
  const n = i.opcode === 0xd0 || i.opcode === 0xd1 ? 1 : i.opcode === 0xd2 || i.opcode === 0xd3 ? c.lo[1] & 0xff : i.imm & 0xff;
  return n & (i.osize === 8 ? 0x3f : 0x1f);
}

export function shiftGroup(c: Cpu, i: Insn): void {
  const n = shiftCount(c, i);
  const a = c.rdE(i), ah = c.th;
  // A count of 0 changes nothing, but a 32-bit register destination is still written
  // (zero-extended to 64 bits).
  if (n === 0) { if (i.osize === 4 && i.rm >= 0) c.hi[i.rm] = 0; return; }
  const s = i.osize;
  if (s === 8) { shift64(c, i, n, a, ah); return; }
  const w = s * 8, m = SIZE_MASK[s], sign = SIZE_SIGN[s];
  let r: number, cf: number, of: boolean;
  switch (i.sub) {
    case 0: { // ROL
      const k = n % w;
      r = k === 0 ? a : (((a << k) | (a >>> (w - k))) & m) >>> 0;
      cf = r & 1; of = ((r & sign) !== 0) !== (cf !== 0);
      c.wrE(i, r); rotFlags(c, cf, of); return;
    }
    case 1: { // ROR
      const k = n % w;
      r = k === 0 ? a : (((a >>> k) | (a << (w - k))) & m) >>> 0;
      cf = (r & sign) !== 0 ? 1 : 0; of = ((r & sign) !== 0) !== ((r & (sign >>> 1)) !== 0);
      c.wrE(i, r); rotFlags(c, cf, of); return;
    }
    case 2: case 3: { // RCL, RCR through CF (width w + 1)
      let k = n % (w + 1);
      cf = c.getCF();
      r = a;
      while (k-- > 0) {
        if (i.sub === 2) { const out = (r & sign) !== 0 ? 1 : 0; r = (((r << 1) | cf) & m) >>> 0; cf = out; }
        else { const out = r & 1; r = ((r >>> 1) | (cf ? sign : 0)) >>> 0; cf = out; }
      }
      of = i.sub === 2 ? ((r & sign) !== 0) !== (cf !== 0) : ((r & sign) !== 0) !== ((r & (sign >>> 1)) !== 0);
      c.wrE(i, r); rotFlags(c, cf, of); return;
    }
    case 4: case 6: // SHL/SAL
      r = n >= 32 ? 0 : ((a << n) & m) >>> 0;
      cf = n > w ? 0 : (a >>> (w - n)) & 1;
      of = ((r & sign) !== 0) !== (cf !== 0);
      break;
    case 5: // SHR
      r = n >= 32 ? 0 : a >>> n;
      cf = n > w ? 0 : (a >>> (n - 1)) & 1;
      of = (a & sign) !== 0;
      break;
    default: { // SAR
      const sa = (a << (32 - w)) >> (32 - w);
      r = ((sa >> Math.min(n, 31)) & m) >>> 0;
      cf = (sa >> Math.min(n - 1, 31)) & 1;
      of = false;
      break;
    }
  }
  c.wrE(i, r);
  c.setArithFlags(szp(s, r, 0) | (cf ? CF : 0) | (of ? OF : 0));
}

function rotFlags(c: Cpu, cf: number, of: boolean): void {
  c.materializeFlags();
  c.flags = (c.flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
}

/** SHL/SHR/SAR/ROL/ROR/RCL/RCR of a 64-bit operand by n (1-63), flags as the host sets them. */
export function shift64(c: Cpu, i: Insn, n: number, a: number, ah: number): void {
  let r: number, rh: number, cf: number, of: boolean;
  switch (i.sub) {
    case 4: case 6:
      if (n < 32) { rh = ((ah << n) | (a >>> (32 - n))) >>> 0; r = (a << n) >>> 0; }
      else { rh = (a << (n - 32)) >>> 0; r = 0; }
      cf = n <= 32 ? (ah >>> (32 - n)) & 1 : (a >>> (64 - n)) & 1;
      of = ((rh & 0x8000_0000) !== 0) !== (cf !== 0);
      break;
    case 5:
      if (n < 32) { r = ((a >>> n) | (ah << (32 - n))) >>> 0; rh = ah >>> n; cf = (a >>> (n - 1)) & 1; }
      else { r = ah >>> (n - 32); rh = 0; cf = n === 32 ? a >>> 31 : (ah >>> (n - 33)) & 1; }
      of = (ah & 0x8000_0000) !== 0;
      break;
    case 7:
      if (n < 32) { r = ((a >>> n) | (ah << (32 - n))) >>> 0; rh = (ah >> n) >>> 0; cf = (a >>> (n - 1)) & 1; }
      else { r = (ah >> (n - 32)) >>> 0; rh = (ah >> 31) >>> 0; cf = n === 32 ? a >>> 31 : (ah >> (n - 33)) & 1; }
      of = false;
      break;
    default: {
      // Rotates through BigInt: rare in 64-bit code paths that matter for speed.
      let v = (BigInt(ah) << 32n) | BigInt(a);
      const M = (1n << 64n) - 1n;
      const bn = BigInt(n);
      let cfb: number;
      if (i.sub === 0) { v = ((v << bn) | (v >> (64n - bn))) & M; cfb = Number(v & 1n); of = ((v >> 63n) & 1n) !== BigInt(cfb); }
      else if (i.sub === 1) { v = ((v >> bn) | (v << (64n - bn))) & M; cfb = Number((v >> 63n) & 1n); of = ((v >> 63n) ^ (v >> 62n)) % 2n !== 0n; }
      else {
        let k = n % 65; cfb = c.getCF();
        while (k-- > 0) {
          if (i.sub === 2) { const out = Number((v >> 63n) & 1n); v = ((v << 1n) | BigInt(cfb)) & M; cfb = out; }
          else { const out = Number(v & 1n); v = (v >> 1n) | (BigInt(cfb) << 63n); cfb = out; }
        }
        of = i.sub === 2 ? ((v >> 63n) & 1n) !== BigInt(cfb) : (((v >> 63n) ^ (v >> 62n)) & 1n) !== 0n;
      }
      c.wrE(i, Number(v & 0xffff_ffffn), Number(v >> 32n));
      rotFlags(c, cfb, of);
      return;
    }
  }
  c.wrE(i, r, rh);
  c.setArithFlags(szp(8, r, rh) | (cf ? CF : 0) | (of ? OF : 0));
}

// ---- SHLD/SHRD (0F A4/A5/AC/AD) ----

export function shiftDouble(c: Cpu, i: Insn): void {
  const s = i.osize;
  const byCl = i.opcode === 0x0fa5 || i.opcode === 0x0fad;
  const n = (byCl ? c.lo[1] : i.imm) & (s === 8 ? 0x3f : 0x1f);
  const a = c.rdE(i), ah = c.th;
  if (n === 0) { if (s === 4 && i.rm >= 0) c.hi[i.rm] = 0; return; }
  const left = i.opcode === 0x0fa4 || i.opcode === 0x0fa5;
  const w = BigInt(s * 8), bn = BigInt(n);
  const M = (1n << w) - 1n;
  const dst = s === 8 ? (BigInt(ah) << 32n) | BigInt(a) : BigInt(a);
  const src = BigInt(c.readReg(s, i.reg)) | (s === 8 ? BigInt(c.th) << 32n : 0n);
  let r: bigint, cf: number;
  if (left) {
    const wide = (dst << w) | src;
    r = ((wide << bn) >> w) & M;
    cf = Number((dst >> (w - bn)) & 1n);
  } else {
    const wide = (src << w) | dst;
    r = (wide >> bn) & M;
    cf = Number((dst >> (bn - 1n)) & 1n);
  }
  const lo = Number(r & 0xffff_ffffn), hi = Number(r >> 32n);
  const signBit = w - 1n;
  const of = ((r >> signBit) & 1n) !== ((dst >> signBit) & 1n);
  c.wrE(i, lo, hi);
  c.setArithFlags(szp(s, lo, hi) | (cf ? CF : 0) | (of ? OF : 0));
}

// ---- multiply and divide ----

/** Words of the last mul64x64 product, least significant first. */
const P128 = new Uint32Array(4);
let mulHi = 0;

/** Unsigned 32x32 -> 64 multiply: low half returned, high half in mulHi. */
function mul32(a: number, b: number): number {
  const lo = Math.imul(a, b) >>> 0;
  // a*b as a double is within 2^11 of the exact product, so (a*b - lo) / 2^32 is within
  // 2^-21 of the exact high half and rounding recovers it.
  mulHi = Math.round((a * b - lo) / TWO32) >>> 0;
  return lo;
}

/**
 * 64x64 -> 128 multiply into P128 from 32-bit halves. The kernel multiplies by 64-bit
 * constants constantly (hash_64, mul_u64_u32_shr), so this stays off BigInt.
 */
function mul64x64(alo: number, ahi: number, blo: number, bhi: number, signed: boolean): void {
  const w0 = mul32(alo, blo), c0 = mulHi;
  const x0 = mul32(alo, bhi), x1 = mulHi;
  const y0 = mul32(ahi, blo), y1 = mulHi;
  const z0 = mul32(ahi, bhi), z1 = mulHi;
  const s1 = c0 + x0 + y0;
  const s2 = x1 + y1 + z0 + Math.floor(s1 / TWO32);
  let w2 = s2 >>> 0, w3 = (z1 + Math.floor(s2 / TWO32)) >>> 0;
  if (signed) {
    // Two's-complement correction of the high half: subtract b if a < 0 and a if b < 0.
    if (ahi & 0x8000_0000) { const d = w2 - blo; w2 = d >>> 0; w3 = (w3 - bhi - (d < 0 ? 1 : 0)) >>> 0; }
    if (bhi & 0x8000_0000) { const d = w2 - alo; w2 = d >>> 0; w3 = (w3 - ahi - (d < 0 ? 1 : 0)) >>> 0; }
  }
  P128[0] = w0; P128[1] = s1 >>> 0; P128[2] = w2; P128[3] = w3;
}

/** Whether the 128-bit product in P128 does not fit its sign-extended (signed) or zero-extended low half. */
function product128Overflows(signed: boolean): boolean {
  const ext = signed && (P128[1] & 0x8000_0000) ? 0xffff_ffff : 0;
  return P128[2] !== ext || P128[3] !== ext;
}

function toSigned(s: number, v: number): number {
  const sh = 32 - s * 8;
  return (v << sh) >> sh;
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Group 3 /4 MUL and /5 IMUL (one operand). */
export function mulE(c: Cpu, i: Insn): void {
  const s = i.osize;
  const signed = i.sub === 5;
  const src = c.rdE(i), srch = c.th;
  let overflow: boolean;
  if (s === 1) {
    const p = signed ? toSigned(1, c.lo[0] & 0xff) * toSigned(1, src) : (c.lo[0] & 0xff) * src;
    c.writeReg(2, 0, p & 0xffff);
    overflow = signed ? p !== toSigned(1, p & 0xff) : (p & 0xff00) !== 0;
    c.setArithFlags(szp(1, p & 0xff, 0) | (overflow ? CF | OF : 0));
    return;
  }
  if (s === 2) {
    const a = c.lo[0] & 0xffff;
    const p = signed ? toSigned(2, a) * toSigned(2, src) : a * src;
    c.writeReg(2, 0, p & 0xffff);
    c.writeReg(2, 2, (p >> 16) & 0xffff);
    overflow = signed ? p !== toSigned(2, p & 0xffff) : p > 0xffff;
    c.setArithFlags(szp(2, p & 0xffff, 0) | (overflow ? CF | OF : 0));
    return;
  }
  if (s === 4) {
    const a = c.lo[0] >>> 0;
    const lo = mul32(a, src);
    let hi = mulHi;
    if (signed) {
      if (a & 0x8000_0000) hi = (hi - src) >>> 0;
      if (src & 0x8000_0000) hi = (hi - a) >>> 0;
      overflow = hi !== ((lo & 0x8000_0000) ? 0xffff_ffff : 0);
    } else overflow = hi !== 0;
    c.writeReg(4, 0, lo);
    c.writeReg(4, 2, hi);
    c.setArithFlags(szp(4, lo, 0) | (overflow ? CF | OF : 0));
    return;
  }
  mul64x64(c.lo[0] >>> 0, c.hi[0] >>> 0, src >>> 0, srch >>> 0, signed);
  overflow = product128Overflows(signed);
  c.lo[0] = P128[0]; c.hi[0] = P128[1];
  c.lo[2] = P128[2]; c.hi[2] = P128[3];
  c.setArithFlags(szp(8, c.lo[0] >>> 0, c.hi[0] >>> 0) | (overflow ? CF | OF : 0));
}

/** IMUL Gv,Ev (0F AF), Gv,Ev,Iz (69), Gv,Ev,Ib (6B). */
export function imulGE(c: Cpu, i: Insn): void {
  const s = i.osize;
  let b = c.rdE(i), bh = c.th;
  let a: number, ah: number;
  if (i.opcode === 0x0faf) { a = c.readReg(s, i.reg); ah = c.th; }
  else { a = (i.imm & SIZE_MASK[s === 8 ? 4 : s]) >>> 0; ah = i.imm < 0 ? 0xffff_ffff : 0; }
  let overflow: boolean;
  if (s === 2 || s === 1) {
    const p = toSigned(2, a) * toSigned(2, b);
    overflow = p !== toSigned(2, p & 0xffff);
    c.writeReg(2, i.reg, p & 0xffff);
    c.setArithFlags(szp(2, p & 0xffff, 0) | (overflow ? CF | OF : 0));
    return;
  }
  if (s === 4) {
    const p = (a | 0) * (b | 0);
    const lo = Math.imul(a, b) >>> 0;
    overflow = p !== (lo | 0);
    c.writeReg(4, i.reg, lo);
    c.setArithFlags(szp(4, lo, 0) | (overflow ? CF | OF : 0));
    return;
  }
  // The low 64 bits come from 32-bit pieces whatever the signs (the ah*bh term falls off
  // the top); only the overflow flag may need the full 128-bit product.
  a >>>= 0; ah >>>= 0; b >>>= 0; bh >>>= 0;
  const lo = mul32(a, b);
  const hi = (mulHi + Math.imul(a, bh) + Math.imul(ah, b)) >>> 0;
  if (ah === 0 && bh === 0) overflow = (hi & 0x8000_0000) !== 0; // product in [0, 2^64)
  else if (ah === ((a | 0) >> 31) >>> 0 && bh === ((b | 0) >> 31) >>> 0) overflow = false; // |product| <= 2^62
  else {
    mul64x64(a, ah, b, bh, true);
    overflow = product128Overflows(true);
  }
  c.lo[i.reg] = lo; c.hi[i.reg] = hi;
  c.setArithFlags(szp(8, lo >>> 0, hi >>> 0) | (overflow ? CF | OF : 0));
}

/** Group 3 /6 DIV and /7 IDIV; #DE on zero divisor or quotient overflow. */
export function divE(c: Cpu, i: Insn): void {
  const s = i.osize;
  const signed = i.sub === 7;
  const d = c.rdE(i), dh = c.th;
  if (d === 0 && (s !== 8 || dh === 0)) throw new CpuFault(Vector.DE);
  if (s === 1) {
    const n = c.lo[0] & 0xffff;
    let q: number, r: number;
    if (signed) { const sn = toSigned(2, n), sd = toSigned(1, d); q = Math.trunc(sn / sd); r = sn - q * sd; if (q > 127 || q < -128) throw new CpuFault(Vector.DE); }
    else { q = Math.floor(n / d); r = n % d; if (q > 0xff) throw new CpuFault(Vector.DE); }
    c.writeReg(2, 0, ((r & 0xff) << 8) | (q & 0xff));
    return;
  }
  if (s === 2) {
    const n = (((c.lo[2] & 0xffff) << 16) | (c.lo[0] & 0xffff)) >>> 0;
    let q: number, r: number;
    if (signed) { const sn = n | 0, sd = toSigned(2, d); q = Math.trunc(sn / sd); r = sn - q * sd; if (q > 32767 || q < -32768) throw new CpuFault(Vector.DE); }
    else { q = Math.floor(n / d); r = n - q * d; if (q > 0xffff) throw new CpuFault(Vector.DE); }
    c.writeReg(2, 0, q & 0xffff);
    c.writeReg(2, 2, r & 0xffff);
    return;
  }
  if (s === 4) {
    const nlo = c.lo[0] >>> 0, nhi = c.lo[2] >>> 0;
    if (!signed && nhi === 0) {
      const q = Math.floor(nlo / d);
      c.writeReg(4, 0, q >>> 0);
      c.writeReg(4, 2, (nlo - q * d) >>> 0);
      return;
    }
    const N = u64(nlo, nhi);
    let q: bigint, r: bigint;
    if (signed) {
      const sn = BigInt.asIntN(64, N), sd = BigInt(d | 0);
      q = sn / sd; r = sn % sd;
      if (q > 0x7fff_ffffn || q < -0x8000_0000n) throw new CpuFault(Vector.DE);
    } else {
      q = N / BigInt(d); r = N % BigInt(d);
      if (q > 0xffff_ffffn) throw new CpuFault(Vector.DE);
    }
    c.writeReg(4, 0, Number(BigInt.asUintN(32, q)));
    c.writeReg(4, 2, Number(BigInt.asUintN(32, r)));
    return;
  }
  const alo = c.lo[0] >>> 0, ahi = c.hi[0] >>> 0, dlo2 = c.lo[2] >>> 0, dhi2 = c.hi[2] >>> 0;
  if (!signed && dlo2 === 0 && dhi2 === 0 && ahi < 0x200000 && dh < 0x200000) {
    // Both operands below 2^53: exact in doubles (quotient corrected by the remainder).
    const n = ahi * TWO32 + alo, dv = dh * TWO32 + d;
    let q = Math.floor(n / dv), r = n - q * dv;
    if (r < 0) { q--; r += dv; } else if (r >= dv) { q++; r -= dv; }
    c.setReg64(0, q);
    c.setReg64(2, r);
    return;
  }
  const N = (u64(dlo2, dhi2) << 64n) | u64(alo, ahi);
  let q: bigint, r: bigint;
  if (signed) {
    const sn = BigInt.asIntN(128, N), sd = BigInt.asIntN(64, u64(d, dh));
    q = sn / sd; r = sn % sd;
    if (q > 0x7fff_ffff_ffff_ffffn || q < -0x8000_0000_0000_0000n) throw new CpuFault(Vector.DE);
  } else {
    const D = u64(d, dh);
    q = N / D; r = N % D;
    if (q >> 64n) throw new CpuFault(Vector.DE);
  }
  const qu = BigInt.asUintN(64, q), ru = BigInt.asUintN(64, r);
  c.lo[0] = Number(qu & 0xffff_ffffn); c.hi[0] = Number(qu >> 32n);
  c.lo[2] = Number(ru & 0xffff_ffffn); c.hi[2] = Number(ru >> 32n);
}

// ---- XADD, CMPXCHG ----

/** XADD Eb,Gb / Ev,Gv (0F C0/C1). */
export function xadd(c: Cpu, i: Insn): void {
  const s = i.osize;
  const a = c.rdE(i), ah = c.th;
  const b = c.readReg(s, i.reg), bh = c.th;
  if (s === 8) {
    const r = alu64(c, 0, a, ah, b, bh), rh = c.th;
    c.wrE(i, r, rh);
    c.writeReg(8, i.reg, a, ah);
    return;
  }
  const r = alu(c, 0, s, a, b);
  c.wrE(i, r);
  c.writeReg(s, i.reg, a);
}

/** CMPXCHG Eb,Gb / Ev,Gv (0F B0/B1). */
export function cmpxchg(c: Cpu, i: Insn): void {
  const s = i.osize;
  const d = c.rdE(i), dh = c.th;
  if (s === 8) {
    alu64(c, 7, c.lo[0] >>> 0, c.hi[0] >>> 0, d, dh);
    if (c.getZF()) c.wrE(i, c.lo[i.reg], c.hi[i.reg]);
    else { if (i.rm < 0) c.wrE(i, d, dh); c.lo[0] = d; c.hi[0] = dh; }
    return;
  }
  alu(c, 7, s, c.readReg(s, 0), d);
  if (c.getZF()) c.wrE(i, c.readReg(s, i.reg));
  else {
    if (i.rm < 0) c.wrE(i, d);
    c.writeReg(s, 0, d);
  }
}

/** CMPXCHG8B / CMPXCHG16B m64/m128 (0F C7 /1). */
export function cmpxchg8b(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  const ea = c.ea(i);
  c.materializeFlags();
  if (i.osize === 8) {
    if (ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
    const m0 = c.read64(ea), m0h = c.th, m1 = c.read64(ea + 8), m1h = c.th;
    c.probeWrite(ea);
    if (m0 === c.lo[0] >>> 0 && m0h === c.hi[0] >>> 0 && m1 === c.lo[2] >>> 0 && m1h === c.hi[2] >>> 0) {
      c.write64(ea, c.lo[3], c.hi[3]);
      c.write64(ea + 8, c.lo[1], c.hi[1]);
      c.flags |= ZF;
    } else {
      c.write64(ea, m0, m0h); c.write64(ea + 8, m1, m1h);
      c.lo[0] = m0; c.hi[0] = m0h; c.lo[2] = m1; c.hi[2] = m1h;
      c.flags &= ~ZF;
    }
    return;
  }
  const m0 = c.read32(ea), m1 = c.read32(ea + 4);
  if (m0 === c.lo[0] >>> 0 && m1 === c.lo[2] >>> 0) {
    c.write64(ea, c.lo[3], c.lo[1]);
    c.flags |= ZF;
  } else {
    c.write64(ea, m0, m1);
    c.writeReg(4, 0, m0); c.writeReg(4, 2, m1);
    c.flags &= ~ZF;
  }
}

// ---- sign extension of the accumulator ----

/** CBW/CWDE/CDQE (98). */
export function cbw(c: Cpu, i: Insn): void {
  switch (i.osize) {
    case 2: c.writeReg(2, 0, ((c.lo[0] << 24) >> 24) & 0xffff); break;
    case 4: c.writeReg(4, 0, ((c.lo[0] << 16) >> 16) >>> 0); break;
    default: c.hi[0] = c.lo[0] >> 31; break;
  }
}

/** CWD/CDQ/CQO (99). */
export function cwd(c: Cpu, i: Insn): void {
  switch (i.osize) {
    case 2: c.writeReg(2, 2, (c.lo[0] & 0x8000) ? 0xffff : 0); break;
    case 4: c.writeReg(4, 2, (c.lo[0] >> 31) >>> 0); break;
    default: { const s = c.hi[0] >> 31; c.lo[2] = s; c.hi[2] = s; break; }
  }
}

// ---- BCD adjusts (SDM Vol. 2 DAA/DAS/AAA/AAS/AAM/AAD): invalid in 64-bit mode ----
// OF (and for AAA/AAS SF/ZF/PF, for AAM/AAD AF/CF) are undefined: they are cleared.

function bcdFlags(al: number, cf: boolean, af: boolean): number {
  return (cf ? CF : 0) | (af ? AF : 0) | (al === 0 ? ZF : 0) | (al & 0x80 ? SF : 0) | PARITY[al];
}

/** DAA (27) and DAS (2F): adjust AL after a packed-BCD addition or subtraction. */
export function decimalAdjust(c: Cpu, i: Insn): void {
  if (c.codeMode === 64) throw new CpuFault(Vector.UD);
  const sub = i.opcode === 0x2f;
  const oldAl = c.lo[0] & 0xff, oldCf = c.getCF() !== 0;
  let al = oldAl, cf = false, af = false;
  if ((al & 0x0f) > 9 || c.getAF()) {
    al = sub ? al - 6 : al + 6;
    cf = oldCf || al < 0 || al > 0xff;
    al &= 0xff;
    af = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (sub ? al - 0x60 : al + 0x60) & 0xff;
    cf = true;
  } else if (!sub) cf = false;
  c.writeReg(1, 0, al);
  c.setArithFlags(bcdFlags(al, cf, af));
}

/** AAA (37) and AAS (3F): adjust AX after an unpacked-BCD addition or subtraction. */
export function asciiAdjust(c: Cpu, i: Insn): void {
  if (c.codeMode === 64) throw new CpuFault(Vector.UD);
  let ax = c.lo[0] & 0xffff;
  const adjust = (ax & 0x0f) > 9 || c.getAF();
  if (adjust) ax = i.opcode === 0x37 ? ax + 0x106 : ax - 6 - 0x100;
  const al = ax & 0x0f;
  c.writeReg(2, 0, (ax & 0xff00) | al);
  c.setArithFlags(bcdFlags(al, adjust, adjust));
}

/** AAM imm8 (D4): AH = AL / imm8, AL = AL mod imm8; a zero base raises #DE. */
export function aam(c: Cpu, i: Insn): void {
  if (c.codeMode === 64) throw new CpuFault(Vector.UD);
  const base = i.imm & 0xff;
  if (base === 0) throw new CpuFault(Vector.DE);
  const al = c.lo[0] & 0xff, r = al % base;
  c.writeReg(2, 0, (((al - r) / base) << 8) | r);
  c.setArithFlags(bcdFlags(r, false, false));
}

/** AAD imm8 (D5): AL = AL + AH * imm8, AH = 0. */
export function aad(c: Cpu, i: Insn): void {
  if (c.codeMode === 64) throw new CpuFault(Vector.UD);
  const ax = c.lo[0] & 0xffff;
  const al = ((ax & 0xff) + (ax >> 8) * (i.imm & 0xff)) & 0xff;
  c.writeReg(2, 0, al);
  c.setArithFlags(bcdFlags(al, false, false));
}
