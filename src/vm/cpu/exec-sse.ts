// SSE and SSE2 (Intel SDM Vol. 1 Chapters 10-11, Vol. 2 instruction pages): the XMM
// moves, logic, integer SIMD (add/sub/saturating, compare, min/max, multiply, shifts,
// shuffles, unpack, pack, PMOVMSKB, PSADBW), scalar and packed single/double arithmetic,
// comparisons (CMPxx, COMISx/UCOMISx), conversions, MXCSR (LDMXCSR/STMXCSR) and
// FXSAVE/FXRSTOR. Registers live in CpuState.xmm (16 x 128 bits) with views per lane
// width; slots 16-17 are the executor's scratch (a memory source, a temporary), 18-19
// the MMX forms' (exec-mmx.ts reuses the integer code here on 64-bit operands).
// Float arithmetic is done in float64 and rounded with Math.fround for single precision
// (exact for +, -, *, /, sqrt under round-to-nearest); MXCSR rounding control, FTZ, DAZ
// and the exception status flags go through sse-float.ts, which recomputes exactly only
// when the JS result cannot be trusted. Not modelled: unmasked SIMD exceptions (#XM),
// the MXCSR effects of RCPPS/RSQRTPS (approximations computed exactly here).

import type { Cpu } from './cpu.js';
import { CpuFault, Vector } from './fault.js';
import { CF, PF, ZF } from './flags.js';
import { Insn } from './insn.js';
import { exactOp, F32, F64, type Format, MX_DAZ, MX_DE, MX_FTZ, MX_IE, MX_PE, MX_ZE, roundToInteger, roundValue } from './sse-float.js';
import { CR0_EM, CR0_TS, CR4_OSFXSR } from './state.js';

const TWO32 = 4294967296;
export const SRC = 16;
const TMP = 17;

/**
 * The instruction an MMX form runs the SSE2 integer code with (exec-mmx.ts): operands
 * staged in scratch slots, the result in the low 64 bits. It skips the SSE checks (MMX
 * forms need neither CR4.OSFXSR nor an XMM register).
 */
export const MMX_SHADOW = new Insn(() => { throw new Error('MMX_SHADOW is never executed'); });

interface Views {
  u8: Uint8Array; i8: Int8Array; u16: Uint16Array; i16: Int16Array; u32: Uint32Array; i32: Int32Array;
  f32: Float32Array; f64: Float64Array;
}
const VIEWS = new WeakMap<Cpu, Views>();

export function views(c: Cpu): Views {
  let v = VIEWS.get(c);
  if (!v) {
    const b = c.xmm.buffer;
    v = { u8: new Uint8Array(b), i8: new Int8Array(b), u16: new Uint16Array(b), i16: new Int16Array(b),
      u32: new Uint32Array(b), i32: new Int32Array(b), f32: new Float32Array(b), f64: new Float64Array(b) };
    VIEWS.set(c, v);
  }
  return v;
}

export function checkSse(c: Cpu): void {
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) throw new CpuFault(Vector.UD);
  if ((c.cr0 & CR0_TS) !== 0) throw new CpuFault(Vector.NM);
}

/** Loads the source operand (xmm register or 16/8/4 bytes of memory into slot SRC); returns its slot. */
function src(c: Cpu, i: Insn, bytes = 16, aligned = false): number {
  if (i.rm >= 0) { if (i !== MMX_SHADOW) checkSse(c); return i.rm; }
  checkSse(c);
  const ea = c.ea(i);
  if (aligned && ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
  const x = c.xmm, b = SRC * 4;
  x[b] = c.read32(ea);
  if (bytes >= 8) x[b + 1] = c.read32(ea + 4); else x[b + 1] = 0;
  if (bytes === 16) { x[b + 2] = c.read32(ea + 8); x[b + 3] = c.read32(ea + 12); } else { x[b + 2] = 0; x[b + 3] = 0; }
  return SRC;
}

export function storeMem(c: Cpu, ea: number, slot: number, bytes: number): void {
  const x = c.xmm, b = slot * 4;
  if (bytes === 16) { c.probeWrite(ea); c.probeWrite(ea + 15); }
  c.write32(ea, x[b]);
  if (bytes >= 8) c.write32(ea + 4, x[b + 1]);
  if (bytes === 16) { c.write32(ea + 8, x[b + 2]); c.write32(ea + 12, x[b + 3]); }
}

function copy(c: Cpu, to: number, from: number): void {
  const x = c.xmm;
  x[to * 4] = x[from * 4]; x[to * 4 + 1] = x[from * 4 + 1]; x[to * 4 + 2] = x[from * 4 + 2]; x[to * 4 + 3] = x[from * 4 + 3];
}

// ---- moves ----

/** MOVUPS/MOVUPD/MOVAPS/MOVAPD/MOVDQA/MOVDQU loads (0F 10/28, 66 0F 6F, F3 0F 6F). */
export function movLoad(c: Cpu, i: Insn): void {
  const aligned = i.opcode === 0x0f28 || (i.opcode === 0x0f6f && i.mpfx === 0x66);
  copy(c, i.reg, src(c, i, 16, aligned));
}

/** The store forms (0F 11/29/2B/E7, 66 0F 7F, F3 0F 7F). */
export function movStore(c: Cpu, i: Insn): void {
  checkSse(c);
  if (i.rm >= 0) { copy(c, i.rm, i.reg); return; }
  const ea = c.ea(i);
  const aligned = i.opcode !== 0x0f11 && !(i.opcode === 0x0f7f && i.mpfx === 0xf3);
  if (aligned && ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
  storeMem(c, ea, i.reg, 16);
}

/** MOVSS/MOVSD load forms (F3/F2 0F 10): register merges the low lane, memory zeroes the rest. */
export function movScalarLoad(c: Cpu, i: Insn): void {
  const n = i.mpfx === 0xf3 ? 1 : 2;
  const s = src(c, i, n * 4);
  const x = c.xmm, d = i.reg * 4;
  if (i.rm >= 0) { x[d] = x[s * 4]; if (n === 2) x[d + 1] = x[s * 4 + 1]; return; }
  x[d] = x[s * 4]; x[d + 1] = n === 2 ? x[s * 4 + 1] : 0; x[d + 2] = 0; x[d + 3] = 0;
}

/** MOVSS/MOVSD store forms (F3/F2 0F 11). */
export function movScalarStore(c: Cpu, i: Insn): void {
  checkSse(c);
  const n = i.mpfx === 0xf3 ? 1 : 2;
  const x = c.xmm;
  if (i.rm >= 0) { x[i.rm * 4] = x[i.reg * 4]; if (n === 2) x[i.rm * 4 + 1] = x[i.reg * 4 + 1]; return; }
  storeMem(c, c.ea(i), i.reg, n * 4);
}

/** MOVLPS/MOVLPD/MOVHLPS (0F 12) and MOVHPS/MOVHPD/MOVLHPS (0F 16) loads. */
export function movHalfLoad(c: Cpu, i: Insn): void {
  const high = i.opcode === 0x0f16;
  const x = c.xmm, d = i.reg * 4;
  const s = src(c, i, 8);
  // Register forms: MOVHLPS takes the source's high half, MOVLHPS its low half.
  const from = i.rm >= 0 ? (high ? s * 4 : s * 4 + 2) : s * 4;
  const to = high ? d + 2 : d;
  const a = x[from], b = x[from + 1];
  x[to] = a; x[to + 1] = b;
}

/** MOVLPS/MOVLPD (0F 13) and MOVHPS/MOVHPD (0F 17) stores. */
export function movHalfStore(c: Cpu, i: Insn): void {
  checkSse(c);
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  const ea = c.ea(i), x = c.xmm, b = i.reg * 4 + (i.opcode === 0x0f17 ? 2 : 0);
  c.probeWrite(ea + 7);
  c.write32(ea, x[b]); c.write32(ea + 4, x[b + 1]);
}

/** MOVD/MOVQ xmm, r/m32/64 (66 0F 6E). */
export function movdToXmm(c: Cpu, i: Insn): void {
  checkSse(c);
  const x = c.xmm, d = i.reg * 4;
  const w = i.rexW;
  let lo: number, hi = 0;
  if (i.rm >= 0) { lo = c.lo[i.rm]; if (w) hi = c.hi[i.rm]; }
  else { const ea = c.ea(i); lo = c.read32(ea); if (w) hi = c.read32(ea + 4); }
  x[d] = lo; x[d + 1] = hi; x[d + 2] = 0; x[d + 3] = 0;
}

/** MOVD/MOVQ r/m32/64, xmm (66 0F 7E). */
export function movdFromXmm(c: Cpu, i: Insn): void {
  checkSse(c);
  const x = c.xmm, s = i.reg * 4;
  if (i.rm >= 0) { c.writeReg(i.rexW ? 8 : 4, i.rm, x[s] >>> 0, x[s + 1]); return; }
  const ea = c.ea(i);
  if (i.rexW) c.write64(ea, x[s], x[s + 1]); else c.write32(ea, x[s]);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): zeroes the high half. */
export function movqLoad(c: Cpu, i: Insn): void {
  const s = src(c, i, 8), x = c.xmm, d = i.reg * 4;
  x[d] = x[s * 4]; x[d + 1] = x[s * 4 + 1]; x[d + 2] = 0; x[d + 3] = 0;
}

/** MOVQ xmm/m64, xmm (66 0F D6). */
export function movqStore(c: Cpu, i: Insn): void {
  checkSse(c);
  const x = c.xmm, s = i.reg * 4;
  if (i.rm >= 0) { const d = i.rm * 4; x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = 0; x[d + 3] = 0; return; }
  storeMem(c, c.ea(i), i.reg, 8);
}

/** MOVNTI m32/64, r (0F C3). */
export function movnti(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  c.writeMem(i.osize, c.ea(i), c.lo[i.reg], c.hi[i.reg]);
}

/** MOVMSKPS/MOVMSKPD r32, xmm (0F 50). */
export function movmsk(c: Cpu, i: Insn): void {
  checkSse(c);
  const x = c.xmm, s = i.rm * 4;
  const r = i.mpfx === 0x66 ? ((x[s + 1] >>> 31) | ((x[s + 3] >>> 31) << 1))
    : (x[s] >>> 31) | ((x[s + 1] >>> 31) << 1) | ((x[s + 2] >>> 31) << 2) | ((x[s + 3] >>> 31) << 3);
  c.writeReg(4, i.reg, r);
}

/** PMOVMSKB r32, xmm (66 0F D7). */
export function pmovmskb(c: Cpu, i: Insn): void {
  checkSse(c);
  const u8 = views(c).u8, s = i.rm * 16;
  let r = 0;
  for (let k = 0; k < 16; k++) r |= (u8[s + k] >> 7) << k;
  c.writeReg(4, i.reg, r);
}

/**
 * The byte-masked store of MASKMOVDQU (66 0F F7) and MASKMOVQ (0F F7, exec-mmx.ts): each
 * of the n bytes of slot `data` whose byte in slot `mask` has its top bit set goes to
 * DS:rDI + k (SDM Vol. 2 MASKMOVDQU). Both ends are probed first so that a fault leaves
 * memory untouched.
 */
export function maskedStore(c: Cpu, i: Insn, data: number, mask: number, n: number): void {
  const u8 = views(c).u8;
  const off = i.asize === 8 ? c.reg64(7) : i.asize === 4 ? c.lo[7] >>> 0 : c.lo[7] & 0xffff;
  const lin = c.segAddr(i.seg, off);
  c.probeWrite(lin); c.probeWrite(lin + n - 1);
  for (let k = 0; k < n; k++) if (u8[mask * 16 + k] & 0x80) c.write8(lin + k, u8[data * 16 + k]);
}

/** MASKMOVDQU xmm1, xmm2 (66 0F F7): register operands only. */
export function maskmovdqu(c: Cpu, i: Insn): void {
  checkSse(c);
  if (i.rm < 0) throw new CpuFault(Vector.UD);
  maskedStore(c, i, i.reg, i.rm, 16);
}

// ---- logic (PAND/PANDN/POR/PXOR, ANDPS/ANDNPS/ORPS/XORPS and PD forms) ----

export function logic(c: Cpu, i: Insn): void {
  const s = src(c, i) * 4, x = c.xmm, d = i.reg * 4;
  const op = i.sub; // 0 and, 1 andn, 2 or, 3 xor
  for (let k = 0; k < 4; k++) {
    const a = x[d + k], b = x[s + k];
    x[d + k] = op === 0 ? a & b : op === 1 ? ~a & b : op === 2 ? a | b : a ^ b;
  }
}

// ---- integer SIMD ----

type Lanes = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32';

function lanewise(c: Cpu, i: Insn, lanes: Lanes, fn: (a: number, b: number) => number): void {
  const s = src(c, i);
  const v = views(c)[lanes];
  const n = 16 / v.BYTES_PER_ELEMENT, d = i.reg * n, so = s * n;
  for (let k = 0; k < n; k++) v[d + k] = fn(v[d + k], v[so + k]);
}

const sat = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** The lane-wise integer ops, selected by opcode (66 0F xx). */
export function pint(c: Cpu, i: Insn): void {
  switch (i.opcode & 0xff) {
    case 0x74: return lanewise(c, i, 'u8', (a, b) => (a === b ? 0xff : 0));
    case 0x75: return lanewise(c, i, 'u16', (a, b) => (a === b ? 0xffff : 0));
    case 0x76: return lanewise(c, i, 'i32', (a, b) => (a === b ? -1 : 0));
    case 0x64: return lanewise(c, i, 'i8', (a, b) => (a > b ? -1 : 0));
    case 0x65: return lanewise(c, i, 'i16', (a, b) => (a > b ? -1 : 0));
    case 0x66: return lanewise(c, i, 'i32', (a, b) => (a > b ? -1 : 0));
    case 0xfc: return lanewise(c, i, 'u8', (a, b) => a + b);
    case 0xfd: return lanewise(c, i, 'u16', (a, b) => a + b);
    case 0xfe: return lanewise(c, i, 'i32', (a, b) => (a + b) | 0);
    case 0xf8: return lanewise(c, i, 'u8', (a, b) => a - b);
    case 0xf9: return lanewise(c, i, 'u16', (a, b) => a - b);
    case 0xfa: return lanewise(c, i, 'i32', (a, b) => (a - b) | 0);
    case 0xec: return lanewise(c, i, 'i8', (a, b) => sat(a + b, -128, 127));
    case 0xed: return lanewise(c, i, 'i16', (a, b) => sat(a + b, -32768, 32767));
    case 0xdc: return lanewise(c, i, 'u8', (a, b) => sat(a + b, 0, 255));
    case 0xdd: return lanewise(c, i, 'u16', (a, b) => sat(a + b, 0, 65535));
    case 0xe8: return lanewise(c, i, 'i8', (a, b) => sat(a - b, -128, 127));
    case 0xe9: return lanewise(c, i, 'i16', (a, b) => sat(a - b, -32768, 32767));
    case 0xd8: return lanewise(c, i, 'u8', (a, b) => sat(a - b, 0, 255));
    case 0xd9: return lanewise(c, i, 'u16', (a, b) => sat(a - b, 0, 65535));
    case 0xda: return lanewise(c, i, 'u8', (a, b) => Math.min(a, b));
    case 0xde: return lanewise(c, i, 'u8', (a, b) => Math.max(a, b));
    case 0xea: return lanewise(c, i, 'i16', (a, b) => Math.min(a, b));
    case 0xee: return lanewise(c, i, 'i16', (a, b) => Math.max(a, b));
    case 0xe0: return lanewise(c, i, 'u8', (a, b) => (a + b + 1) >> 1);
    case 0xe3: return lanewise(c, i, 'u16', (a, b) => (a + b + 1) >> 1);
    case 0xd5: return lanewise(c, i, 'i16', (a, b) => Math.imul(a, b));
    case 0xe5: return lanewise(c, i, 'i16', (a, b) => (a * b) >> 16);
    case 0xe4: return lanewise(c, i, 'u16', (a, b) => Math.floor((a * b) / 65536));
    default: throw new CpuFault(Vector.UD);
  }
}

/** PADDQ/PSUBQ (66 0F D4/FB) and PMULUDQ (66 0F F4). */
export function pquad(c: Cpu, i: Insn): void {
  const s = src(c, i) * 4, x = c.xmm, d = i.reg * 4;
  for (let k = 0; k < 4; k += 2) {
    const a = x[d + k] >>> 0, ah = x[d + k + 1], b = x[s + k] >>> 0, bh = x[s + k + 1];
    let lo: number, hi: number;
    if (i.opcode === 0x0fd4) { lo = a + b; hi = (ah + bh + (lo >= TWO32 ? 1 : 0)) | 0; }
    else if (i.opcode === 0x0ffb) { lo = a - b; hi = (ah - bh - (lo < 0 ? 1 : 0)) | 0; }
    else {
      // 32 x 32 -> 64 unsigned, exact in two 16-bit halves.
      const a0 = a & 0xffff, a1 = a >>> 16;
      const p0 = a0 * b, p1 = a1 * b; // each < 2^48
      const low = p0 + (p1 % 65536) * 65536;
      lo = low;
      hi = (Math.floor(p1 / 65536) + Math.floor(low / TWO32)) | 0;
    }
    x[d + k] = lo; x[d + k + 1] = hi;
  }
}

/** PMADDWD (66 0F F5). */
export function pmaddwd(c: Cpu, i: Insn): void {
  const s = src(c, i), v = views(c), x = c.xmm;
  const r: number[] = [];
  for (let k = 0; k < 4; k++) {
    const a0 = v.i16[i.reg * 8 + 2 * k], a1 = v.i16[i.reg * 8 + 2 * k + 1];
    const b0 = v.i16[s * 8 + 2 * k], b1 = v.i16[s * 8 + 2 * k + 1];
    r.push((a0 * b0 + a1 * b1) | 0);
  }
  for (let k = 0; k < 4; k++) x[i.reg * 4 + k] = r[k];
}

/** PSADBW (66 0F F6). */
export function psadbw(c: Cpu, i: Insn): void {
  const s = src(c, i), u8 = views(c).u8, x = c.xmm;
  for (let q = 0; q < 2; q++) {
    let sum = 0;
    for (let k = 0; k < 8; k++) sum += Math.abs(u8[i.reg * 16 + q * 8 + k] - u8[s * 16 + q * 8 + k]);
    x[i.reg * 4 + q * 2] = sum; x[i.reg * 4 + q * 2 + 1] = 0;
  }
}

/** PACKSSWB/PACKUSWB/PACKSSDW (66 0F 63/67/6B). */
export function pack(c: Cpu, i: Insn): void {
  const s = src(c, i), v = views(c);
  const out: number[] = [];
  if (i.opcode === 0x0f6b) {
    for (const r of [i.reg, s]) for (let k = 0; k < 4; k++) out.push(sat(v.i32[r * 4 + k], -32768, 32767));
    for (let k = 0; k < 8; k++) v.i16[i.reg * 8 + k] = out[k];
    return;
  }
  const [lo, hi] = i.opcode === 0x0f63 ? [-128, 127] : [0, 255];
  for (const r of [i.reg, s]) for (let k = 0; k < 8; k++) out.push(sat(v.i16[r * 8 + k], lo, hi));
  for (let k = 0; k < 16; k++) v.u8[i.reg * 16 + k] = out[k] & 0xff;
}

/** PUNPCKL/H BW/WD/DQ/QDQ (66 0F 60-62, 68-6A, 6C, 6D) and UNPCKL/HPS/PD (0F 14/15). */
export function unpack(c: Cpu, i: Insn): void {
  const s = src(c, i), v = views(c);
  const op = i.opcode & 0xff;
  let width: number, high: boolean;
  if (op === 0x14 || op === 0x15) { width = i.mpfx === 0x66 ? 8 : 4; high = op === 0x15; }
  else if (op === 0x6c || op === 0x6d) { width = 8; high = op === 0x6d; }
  else { width = 1 << ((op & 3)); high = op >= 0x68; }
  const u8 = v.u8, d = i.reg * 16, so = s * 16, t = TMP * 16;
  const n = 8 / width;
  const base = high ? 8 : 0;
  for (let k = 0; k < n; k++) {
    for (let b = 0; b < width; b++) {
      u8[t + 2 * k * width + b] = u8[d + base + k * width + b];
      u8[t + (2 * k + 1) * width + b] = u8[so + base + k * width + b];
    }
  }
  copy(c, i.reg, TMP);
}

/** PSHUFD (66 0F 70), PSHUFHW (F3), PSHUFLW (F2). */
export function pshuf(c: Cpu, i: Insn): void {
  const s = src(c, i), v = views(c), imm = i.imm & 0xff;
  copy(c, TMP, s);
  if (i.mpfx === 0x66) {
    for (let k = 0; k < 4; k++) v.u32[i.reg * 4 + k] = v.u32[TMP * 4 + ((imm >> (2 * k)) & 3)];
    return;
  }
  const off = i.mpfx === 0xf3 ? 4 : 0;
  copy(c, i.reg, TMP);
  for (let k = 0; k < 4; k++) v.u16[i.reg * 8 + off + k] = v.u16[TMP * 8 + off + ((imm >> (2 * k)) & 3)];
}

/** SHUFPS (0F C6) and SHUFPD (66 0F C6). */
export function shufp(c: Cpu, i: Insn): void {
  const s = src(c, i), v = views(c), imm = i.imm & 0xff, d = i.reg;
  const r: number[] = [];
  if (i.mpfx === 0x66) {
    r.push(v.u32[d * 4 + (imm & 1) * 2], v.u32[d * 4 + (imm & 1) * 2 + 1], v.u32[s * 4 + ((imm >> 1) & 1) * 2], v.u32[s * 4 + ((imm >> 1) & 1) * 2 + 1]);
  } else {
    r.push(v.u32[d * 4 + (imm & 3)], v.u32[d * 4 + ((imm >> 2) & 3)], v.u32[s * 4 + ((imm >> 4) & 3)], v.u32[s * 4 + ((imm >> 6) & 3)]);
  }
  for (let k = 0; k < 4; k++) v.u32[d * 4 + k] = r[k];
}

/** PINSRW xmm, r32/m16, Ib (66 0F C4) and PEXTRW r32, xmm, Ib (66 0F C5). */
export function pinsrw(c: Cpu, i: Insn): void {
  checkSse(c);
  const v = views(c);
  const w = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  v.u16[i.reg * 8 + (i.imm & 7)] = w;
}

export function pextrw(c: Cpu, i: Insn): void {
  checkSse(c);
  c.writeReg(4, i.reg, views(c).u16[i.rm * 8 + (i.imm & 7)]);
}

// ---- shifts ----

function shiftLanes(c: Cpu, reg: number, op: number, bits: number, count: number): void {
  const v = views(c);
  if (bits === 64) {
    const x = c.xmm;
    for (let k = 0; k < 2; k++) {
      const lo = x[reg * 4 + 2 * k] >>> 0, hi = x[reg * 4 + 2 * k + 1] >>> 0;
      let nlo = 0, nhi = 0;
      if (count < 64) {
        if (op === 2) { // right
          if (count === 0) { nlo = lo; nhi = hi; }
          else if (count < 32) { nlo = (lo >>> count) | (hi << (32 - count)); nhi = hi >>> count; }
          else { nlo = hi >>> (count - 32); nhi = 0; }
        } else {
          if (count === 0) { nlo = lo; nhi = hi; }
          else if (count < 32) { nhi = (hi << count) | (lo >>> (32 - count)); nlo = lo << count; }
          else { nhi = lo << (count - 32); nlo = 0; }
        }
      }
      x[reg * 4 + 2 * k] = nlo; x[reg * 4 + 2 * k + 1] = nhi;
    }
    return;
  }
  const arr = bits === 16 ? (op === 4 ? v.i16 : v.u16) : (op === 4 ? v.i32 : v.u32);
  const n = 128 / bits, b = reg * n;
  for (let k = 0; k < n; k++) {
    const a = arr[b + k];
    if (op === 4) arr[b + k] = a >> Math.min(count, bits - 1);
    else if (count >= bits) arr[b + k] = 0;
    else arr[b + k] = op === 2 ? a >>> count : a << count;
  }
}

/** PSRLW/D/Q, PSRAW/D, PSLLW/D/Q with an immediate (66 0F 71/72/73 /2 /4 /6) and PSRLDQ/PSLLDQ (/3 /7). */
export function shiftImm(c: Cpu, i: Insn): void {
  if (i !== MMX_SHADOW) checkSse(c);
  const op = (i.modrm >> 3) & 7, count = i.imm & 0xff;
  const bits = i.opcode === 0x0f71 ? 16 : i.opcode === 0x0f72 ? 32 : 64;
  // Defined: /2 /4 /6 on words and dwords, /2 /3 /6 /7 on quadwords (no PSRAQ).
  const valid = bits === 64 ? op === 2 || op === 3 || op === 6 || op === 7 : op === 2 || op === 4 || op === 6;
  if (i.rm < 0 || !valid) throw new CpuFault(Vector.UD);
  if (bits === 64 && (op === 3 || op === 7)) {
    const u8 = views(c).u8, r = i.rm * 16, n = Math.min(count, 16);
    const t: number[] = [];
    for (let k = 0; k < 16; k++) {
      const from = op === 3 ? k + n : k - n;
      t.push(from >= 0 && from < 16 ? u8[r + from] : 0);
    }
    for (let k = 0; k < 16; k++) u8[r + k] = t[k];
    return;
  }
  shiftLanes(c, i.rm, op, bits, count);
}

/** The same shifts with the count in an xmm register or memory (66 0F D1-D3, E1-E2, F1-F3). */
export function shiftXmm(c: Cpu, i: Insn): void {
  const s = src(c, i), x = c.xmm;
  const lo = x[s * 4] >>> 0, hi = x[s * 4 + 1] >>> 0;
  const count = hi !== 0 || lo > 255 ? 255 : lo;
  const op8 = i.opcode & 0xff;
  const op = op8 >= 0xf0 ? 6 : op8 >= 0xe0 ? 4 : 2;
  const bits = [0, 16, 32, 64][op8 & 3];
  shiftLanes(c, i.reg, op, bits, count);
}

// ---- floating point (MXCSR rounding, FTZ/DAZ and status flags in sse-float.ts) ----

const rcOf = (c: Cpu): number => (c.mxcsr >> 13) & 3;

/** The slow path is needed unless: round to nearest, no FTZ, and PE already set. */
const fastMx = (mx: number): boolean => (mx & (0x6000 | MX_FTZ | MX_PE)) === MX_PE;

/** A signalling NaN in lane `at` (32-bit index) of the xmm array. */
function isSnan(c: Cpu, at: number, dbl: boolean): boolean {
  const w = c.xmm[dbl ? at + 1 : at];
  return dbl
    ? (w & 0x7ff0_0000) === 0x7ff0_0000 && (w & 0x8_0000) === 0 && ((w & 0xf_ffff) !== 0 || c.xmm[at] !== 0)
    : (w & 0x7f80_0000) === 0x7f80_0000 && (w & 0x40_0000) === 0 && (w & 0x3f_ffff) !== 0;
}

/**
 * A denormal source operand: zero under DAZ, otherwise noted in `denormalSeen` for the DE
 * flag, which an invalid operation or a division by zero in the same lane takes precedence
 * over (SDM Vol. 1 §11.5.2, pre-computation exceptions).
 */
let denormalSeen = false;
function denormalIn(c: Cpu, v: number, f: Format): number {
  if (v === 0 || !(Math.abs(v) < f.min)) return v;
  if (c.mxcsr & MX_DAZ) return v < 0 ? -0 : 0;
  denormalSeen = true;
  return v;
}

function arith(op: number, a: number, b: number): number {
  switch (op) {
    case 0x58: return a + b;
    case 0x59: return a * b;
    case 0x5c: return a - b;
    case 0x5e: return a / b;
    case 0x5d: return a < b ? a : b; // MIN: the second operand when unordered or equal
    case 0x5f: return a > b ? a : b;
    case 0x51: return Math.sqrt(b);
    case 0x52: return 1 / Math.sqrt(b);
    default: return 1 / b; // 0x53 RCP
  }
}

const flagBox = { flags: 0 };

/**
 * One lane with the SSE NaN rules (SDM Vol. 1 §4.8.3.5, Table 4-7): a NaN operand is
 * returned quieted (the destination's first), an invalid operation gives the default
 * QNaN, MIN/MAX return the source whenever an operand is a NaN. Finite results are
 * rounded per MXCSR, with the exception flags (laneMxcsr, sse-float.ts). The common case
 * is decided here with a few comparisons: round to nearest, no FTZ, PE already set,
 * operands zero or normal and a normal result need nothing beyond the JS arithmetic.
 */
function lane(c: Cpu, op: number, dbl: boolean, d: number, s: number): void {
  const v = views(c);
  const a = op === 0x51 ? 0 : dbl ? v.f64[d >> 1] : v.f32[d], b = dbl ? v.f64[s >> 1] : v.f32[s];
  if (op !== 0x52 && op !== 0x53) {
    let r = arith(op, a, b);
    if (!dbl) r = Math.fround(r);
    const f = dbl ? F64 : F32;
    const ar = Math.abs(r), aa = Math.abs(a), ab = Math.abs(b);
    if (ar > f.min && ar <= f.max && (c.mxcsr & (0x6000 | MX_FTZ | MX_PE)) === MX_PE
      && (aa >= f.min || aa === 0) && (ab >= f.min || ab === 0) && aa <= f.max && ab <= f.max) {
      if (dbl) v.f64[d >> 1] = r; else v.f32[d] = r;
      return;
    }
  }
  laneMxcsr(c, op, dbl, d, s);
}

/** The general case of lane(): NaNs, infinities, denormals, tiny results, RC, FTZ, DAZ, flags. */
function laneMxcsr(c: Cpu, op: number, dbl: boolean, d: number, s: number): void {
  const x = c.xmm, v = views(c);
  let a = dbl ? v.f64[d >> 1] : v.f32[d], b = dbl ? v.f64[s >> 1] : v.f32[s];
  const unary = op === 0x51 || op === 0x52 || op === 0x53;
  const minmax = op === 0x5d || op === 0x5f;
  const quiet = dbl ? 0x0008_0000 : 0x0040_0000;
  const hiWord = dbl ? 1 : 0;
  if ((!unary && a !== a) || b !== b) {
    if (op !== 0x52 && op !== 0x53 && (minmax || (!unary && isSnan(c, d, dbl)) || isSnan(c, s, dbl))) c.mxcsr |= MX_IE;
    const from = minmax || unary || a === a ? s : d;
    x[d] = x[from];
    if (dbl) x[d + 1] = x[from + 1];
    if (!minmax) x[d + hiWord] |= quiet;
    else if (b === b && (c.mxcsr & MX_DAZ) !== 0 && b !== 0 && Math.abs(b) < (dbl ? F64 : F32).min) {
      // MIN/MAX return the source as DAZ saw it: a denormal becomes a signed zero.
      x[d + hiWord] &= 0x8000_0000 | 0;
      if (dbl) x[d] = 0;
    }
    return;
  }
  const f = dbl ? F64 : F32;
  if (unary) a = 0; // the destination lane is not an operand
  let r: number;
  if (op === 0x52 || op === 0x53) r = arith(op, a, b); // approximations: no flags
  else {
    denormalSeen = false;
    if (!unary) a = denormalIn(c, a, f);
    b = denormalIn(c, b, f);
    r = arith(op, a, b);
    if (!dbl) r = Math.fround(r);
    if (r !== r) c.mxcsr |= MX_IE; // inf - inf, 0 * inf, 0 / 0, inf / inf, sqrt(-x)
    else if (op === 0x5e && b === 0 && Number.isFinite(a)) c.mxcsr |= MX_ZE;
    else if (denormalSeen) c.mxcsr |= MX_DE;
    if (r === r && !(op === 0x5e && b === 0) && !minmax && Number.isFinite(a) && Number.isFinite(b)) {
      const mx = c.mxcsr;
      // A zero from a sum, or from a zero operand, is exact (operands are multiples of the
      // smallest denormal), so only other tiny results need the exact path.
      const exactZero = r === 0 && (op === 0x58 || op === 0x5c || a === 0 || b === 0);
      if (!fastMx(mx) || !Number.isFinite(r) || (!(Math.abs(r) > f.min) && !exactZero)) {
        flagBox.flags = 0;
        r = exactOp(op, a, b, f, (mx >> 13) & 3, (mx & MX_FTZ) !== 0, flagBox);
        c.mxcsr |= flagBox.flags;
      }
    }
  }
  if (r !== r) {
    if (dbl) { x[d] = 0; x[d + 1] = 0xfff8_0000 | 0; } else x[d] = 0xffc0_0000 | 0;
    return;
  }
  if (dbl) v.f64[d >> 1] = r; else v.f32[d] = r;
}

/** ADD/MUL/SUB/DIV/MIN/MAX/SQRT/RSQRT/RCP in PS/PD/SS/SD forms (0F 51-53, 58-5F). */
export function farith(c: Cpu, i: Insn): void {
  const op = i.opcode & 0xff;
  switch (i.mpfx) {
    case 0xf2: { const s = src(c, i, 8); lane(c, op, true, i.reg * 4, s * 4); return; }
    case 0xf3: { const s = src(c, i, 4); lane(c, op, false, i.reg * 4, s * 4); return; }
    case 0x66: { const s = src(c, i, 16, true); for (let k = 0; k < 4; k += 2) lane(c, op, true, i.reg * 4 + k, s * 4 + k); return; }
    default: { const s = src(c, i, 16, true); for (let k = 0; k < 4; k++) lane(c, op, false, i.reg * 4 + k, s * 4 + k); return; }
  }
}

function cmpPred(p: number, a: number, b: number): boolean {
  const un = Number.isNaN(a) || Number.isNaN(b);
  switch (p & 7) {
    case 0: return a === b;
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return un;
    case 4: return !(a === b);
    case 5: return !(a < b);
    case 6: return !(a <= b);
    default: return !un;
  }
}

/**
 * Compare operands of lanes d and s (32-bit indexes): DAZ/DE, and IE for an SNaN or, when
 * `signalling` (COMIS, the ordered CMP predicates), for any NaN.
 */
function compareOperands(c: Cpu, dbl: boolean, d: number, s: number, signalling: boolean): [number, number] {
  const v = views(c), f = dbl ? F64 : F32;
  const a = dbl ? v.f64[d >> 1] : v.f32[d], b = dbl ? v.f64[s >> 1] : v.f32[s];
  if (a !== a || b !== b) {
    if (signalling || isSnan(c, d, dbl) || isSnan(c, s, dbl)) c.mxcsr |= MX_IE;
    return [a, b];
  }
  denormalSeen = false;
  const r: [number, number] = [denormalIn(c, a, f), denormalIn(c, b, f)];
  if (denormalSeen) c.mxcsr |= MX_DE;
  return r;
}

/** CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, Ib (0F C2); LT/LE/NLT/NLE signal on QNaNs. */
export function fcmp(c: Cpu, i: Insn): void {
  const x = c.xmm, p = i.imm & 7;
  const signalling = p === 1 || p === 2 || p === 5 || p === 6;
  const dbl = i.mpfx === 0x66 || i.mpfx === 0xf2;
  const lanes = i.mpfx === 0xf2 || i.mpfx === 0xf3 ? 1 : dbl ? 2 : 4;
  const s = src(c, i, lanes === 1 ? (dbl ? 8 : 4) : 16, lanes > 1);
  const step = dbl ? 2 : 1;
  for (let k = 0; k < lanes; k++) {
    const d = i.reg * 4 + k * step, so = s * 4 + k * step;
    const [a, b] = compareOperands(c, dbl, d, so, signalling);
    const r = cmpPred(p, a, b) ? -1 : 0;
    x[d] = r;
    if (dbl) x[d + 1] = r;
  }
}

/** UCOMISS/UCOMISD/COMISS/COMISD (0F 2E/2F): ZF, PF, CF; OF, SF, AF cleared. */
export function comis(c: Cpu, i: Insn): void {
  const dbl = i.mpfx === 0x66;
  const s = src(c, i, dbl ? 8 : 4);
  const [a, b] = compareOperands(c, dbl, i.reg * 4, s * 4, i.opcode === 0x0f2f);
  let f: number;
  if (Number.isNaN(a) || Number.isNaN(b)) f = ZF | PF | CF;
  else if (a > b) f = 0;
  else if (a < b) f = CF;
  else f = ZF;
  c.setArithFlags(f);
}

/**
 * Float to int32/int64 rounded per MXCSR.RC (truncated for the CVTT forms): the integer
 * indefinite and IE for NaN or out of range, PE when a fraction is dropped; [lo, hi].
 */
function cvtInt(c: Cpu, v: number, bits: number, trunc: boolean, f: Format): [number, number] {
  if ((c.mxcsr & MX_DAZ) !== 0 && v !== 0 && Math.abs(v) < f.min) v = 0;
  const r = trunc ? Math.trunc(v) : roundToInteger(v, rcOf(c));
  const lim = bits === 32 ? 2147483648 : 9223372036854775808;
  if (!(r >= -lim && r < lim)) {
    c.mxcsr |= MX_IE;
    return bits === 32 ? [0x8000_0000, 0] : [0, 0x8000_0000];
  }
  if (r !== v) c.mxcsr |= MX_PE;
  if (bits === 32) return [r | 0, 0];
  const hi = Math.floor(r / TWO32);
  return [(r - hi * TWO32) >>> 0, hi | 0];
}

/** An integer (exact as a number below 2^53, else as a BigInt) rounded into format f per MXCSR. */
function intToFloat(c: Cpu, v: number | bigint, f: Format): number {
  const mx = c.mxcsr;
  if (typeof v === 'number') {
    const r = f === F32 ? Math.fround(v) : v;
    if (r === v || (fastMx(mx) && f === F32)) { if (r !== v) c.mxcsr |= MX_PE; return r; }
  }
  flagBox.flags = 0;
  const r = roundValue(v, f, (mx >> 13) & 3, false, flagBox);
  c.mxcsr |= flagBox.flags;
  return r;
}

/** CVTSI2SS/CVTSI2SD xmm, r/m32/64 (F3/F2 0F 2A). */
export function cvtsi2s(c: Cpu, i: Insn): void {
  checkSse(c);
  let lo: number, hi: number;
  if (i.rm >= 0) { lo = c.lo[i.rm]; hi = i.rexW ? c.hi[i.rm] : lo >> 31; }
  else { const ea = c.ea(i); lo = c.read32(ea); hi = i.rexW ? c.read32(ea + 4) | 0 : lo >> 31; }
  const n = hi * TWO32 + (lo >>> 0);
  const val = Math.abs(n) <= 9007199254740992 ? n : BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  const v = views(c);
  if (i.mpfx === 0xf2) v.f64[i.reg * 2] = intToFloat(c, val, F64);
  else v.f32[i.reg * 4] = intToFloat(c, val, F32);
}

/** CVTTSS2SI/CVTTSD2SI (0F 2C) and CVTSS2SI/CVTSD2SI (0F 2D) r32/64, xmm/m. */
export function cvts2si(c: Cpu, i: Insn): void {
  const v = views(c);
  const dbl = i.mpfx === 0xf2;
  const s = src(c, i, dbl ? 8 : 4);
  const [lo, hi] = cvtInt(c, dbl ? v.f64[s * 2] : v.f32[s * 4], i.rexW ? 64 : 32, i.opcode === 0x0f2c, dbl ? F64 : F32);
  c.writeReg(i.rexW ? 8 : 4, i.reg, lo >>> 0, hi);
}

/** float64 -> float32 per MXCSR (CVTSD2SS, CVTPD2PS); NaNs keep their payload, quieted. */
function narrow(c: Cpu, at: number): number {
  let a = views(c).f64[at >> 1];
  if (a !== a) { if (isSnan(c, at, true)) c.mxcsr |= MX_IE; return Math.fround(a); }
  denormalSeen = false;
  a = denormalIn(c, a, F64);
  if (denormalSeen) c.mxcsr |= MX_DE;
  const r = Math.fround(a);
  if (!Number.isFinite(a) || (r === a && Math.abs(r) > F32.min)) return r;
  const mx = c.mxcsr;
  if (fastMx(mx) && Math.abs(r) > F32.min && Number.isFinite(r)) { c.mxcsr |= MX_PE; return r; }
  flagBox.flags = 0;
  const out = roundValue(a, F32, (mx >> 13) & 3, (mx & MX_FTZ) !== 0, flagBox);
  c.mxcsr |= flagBox.flags;
  return out;
}

/** float32 -> float64 (CVTSS2SD, CVTPS2PD): exact; SNaN and denormal operands flag. */
function widen(c: Cpu, at: number): number {
  const a = views(c).f32[at];
  if (a !== a) { if (isSnan(c, at, false)) c.mxcsr |= MX_IE; return a; }
  denormalSeen = false;
  const r = denormalIn(c, a, F32);
  if (denormalSeen) c.mxcsr |= MX_DE;
  return r;
}

/** CVTPS2PD/CVTPD2PS/CVTSS2SD/CVTSD2SS (0F 5A). */
export function cvtFloat(c: Cpu, i: Insn): void {
  const v = views(c), x = c.xmm, d = i.reg;
  switch (i.mpfx) {
    case 0xf3: { const s = src(c, i, 4); v.f64[d * 2] = widen(c, s * 4); return; }
    case 0xf2: { const s = src(c, i, 8); v.f32[d * 4] = narrow(c, s * 4); return; }
    case 0x66: { const s = src(c, i, 16, true); const a = narrow(c, s * 4), b = narrow(c, s * 4 + 2); v.f32[d * 4] = a; v.f32[d * 4 + 1] = b; x[d * 4 + 2] = 0; x[d * 4 + 3] = 0; return; }
    default: { const s = src(c, i, 8); const a = widen(c, s * 4), b = widen(c, s * 4 + 1); v.f64[d * 2] = a; v.f64[d * 2 + 1] = b; }
  }
}

/** CVTDQ2PS (0F 5B), CVTPS2DQ (66), CVTTPS2DQ (F3). */
export function cvtDqPs(c: Cpu, i: Insn): void {
  const s = src(c, i, 16, true), v = views(c), d = i.reg;
  for (let k = 0; k < 4; k++) {
    if (i.mpfx === 0) v.f32[d * 4 + k] = intToFloat(c, v.i32[s * 4 + k], F32);
    else v.i32[d * 4 + k] = cvtInt(c, v.f32[s * 4 + k], 32, i.mpfx === 0xf3, F32)[0];
  }
}

/** CVTTPD2DQ (66 0F E6), CVTDQ2PD (F3), CVTPD2DQ (F2). */
export function cvtDqPd(c: Cpu, i: Insn): void {
  const v = views(c), d = i.reg;
  if (i.mpfx === 0xf3) {
    const s = src(c, i, 8);
    const a = v.i32[s * 4], b = v.i32[s * 4 + 1];
    v.f64[d * 2] = a; v.f64[d * 2 + 1] = b;
    return;
  }
  const s = src(c, i, 16, true);
  const a = v.f64[s * 2], b = v.f64[s * 2 + 1];
  v.i32[d * 4] = cvtInt(c, a, 32, i.mpfx === 0x66, F64)[0];
  v.i32[d * 4 + 1] = cvtInt(c, b, 32, i.mpfx === 0x66, F64)[0];
  v.i32[d * 4 + 2] = 0; v.i32[d * 4 + 3] = 0;
}

// ---- MXCSR, FXSAVE/FXRSTOR, fences ----

/** 0F AE group: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (memory); LFENCE/MFENCE/SFENCE (register); CLFLUSH. */
export function group15(c: Cpu, i: Insn): void {
  const op = (i.modrm >> 3) & 7;
  if (i.rm >= 0) {
    if (op >= 5) return; // fences: memory is sequentially consistent here
    throw new CpuFault(Vector.UD);
  }
  const ea = c.ea(i);
  switch (op) {
    case 0: fxsave(c, ea, i.rexW); return;
    case 1: fxrstor(c, ea, i.rexW); return;
    case 2: {
      checkSse(c);
      const v = c.read32(ea);
      if ((v & ~0xffff) !== 0) throw new CpuFault(Vector.GP, 0);
      c.mxcsr = v;
      return;
    }
    case 3: checkSse(c); c.write32(ea, c.mxcsr); return;
    case 7: return; // CLFLUSH
    default: throw new CpuFault(Vector.UD);
  }
}

/** FXSAVE m512 (SDM Vol. 2 FXSAVE, Table 3-53 64-bit layout). */
function fxsave(c: Cpu, ea: number, _rexW: boolean): void {
  if (ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
  if ((c.cr0 & (CR0_TS | CR0_EM)) !== 0) throw new CpuFault(Vector.NM);
  c.probeWrite(ea); c.probeWrite(ea + 511);
  const f = c.fpu;
  c.write16(ea, f.cw);
  c.write16(ea + 2, f.statusWord());
  c.write8(ea + 4, f.abridgedTag());
  c.write8(ea + 5, 0);
  c.write16(ea + 6, 0);
  for (let k = 8; k < 24; k += 4) c.write32(ea + k, 0);
  c.write32(ea + 24, c.mxcsr);
  c.write32(ea + 28, 0xffff); // MXCSR_MASK: all 16 bits writable (DAZ included, sse-float.ts)
  for (let r = 0; r < 8; r++) {
    const bytes = f.image80((f.top + r) & 7);
    for (let k = 0; k < 16; k++) c.write8(ea + 32 + 16 * r + k, k < 10 ? bytes[k] : 0);
  }
  const n = c.codeMode === 64 ? 16 : 8;
  for (let r = 0; r < n; r++) storeMem(c, ea + 160 + 16 * r, r, 16);
}

function fxrstor(c: Cpu, ea: number, _rexW: boolean): void {
  if (ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
  if ((c.cr0 & (CR0_TS | CR0_EM)) !== 0) throw new CpuFault(Vector.NM);
  const mx = c.read32(ea + 24);
  if ((mx & ~0xffff) !== 0) throw new CpuFault(Vector.GP, 0);
  const f = c.fpu;
  f.cw = c.read16(ea);
  const sw = c.read16(ea + 2);
  f.sw = sw & ~0x3800;
  f.top = (sw >> 11) & 7;
  const tags = c.read8(ea + 4);
  for (let r = 0; r < 8; r++) {
    const bytes = new Uint8Array(10);
    for (let k = 0; k < 10; k++) bytes[k] = c.read8(ea + 32 + 16 * r + k);
    f.load80((f.top + r) & 7, bytes);
  }
  // The abridged tag names physical registers.
  f.setAbridgedTag(tags);
  c.mxcsr = mx;
  const n = c.codeMode === 64 ? 16 : 8;
  const x = c.xmm;
  for (let r = 0; r < n; r++) for (let k = 0; k < 4; k++) x[r * 4 + k] = c.read32(ea + 160 + 16 * r + 4 * k);
}
