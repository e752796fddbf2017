// MMX (Intel SDM Vol. 1 Chapter 9, Vol. 2 instruction pages; opcode map Table A-3, the
// no-prefix column) and the MMX-register forms SSE and SSE2 add: PSHUFW, PINSRW, PEXTRW,
// PMOVMSKB, PAVGB/W, PMINUB/PMAXUB, PMINSW/PMAXSW, PSADBW, PMULHUW, MOVNTQ, MASKMOVQ,
// PADDQ/PSUBQ/PMULUDQ, MOVQ2DQ/MOVDQ2Q and the CVT*PI* conversions.
// The registers are the x87 registers' mantissas (x87.ts); every instruction but EMMS sets
// TOP = 0 and all tags valid (SDM Vol. 1 §9.5.1), after its operands are read so that a
// faulting access leaves the x87 state as it was. The lane-wise operations run the SSE2
// code of exec-sse.ts on 64-bit operands staged in scratch XMM slots (the upper halves are
// don't-care), so each operation is written once.
// Leaves out: #MF for pending unmasked x87 exceptions (the x87 never delivers them).

import type { Cpu } from './cpu.js';
import { cvtDqPs, cvtDqPd, checkSse, maskedStore, MMX_SHADOW, pack, shiftImm, SRC, unpack, views } from './exec-sse.js';
import { CpuFault, Vector } from './fault.js';
import type { Handler, Insn } from './insn.js';
import { CR0_EM, CR0_TS } from './state.js';

/** Scratch XMM slots: the MMX destination operand, and a second operand. */
const DST = 18;
const AUX = 19;

function checkMmx(c: Cpu): void {
  if ((c.cr0 & CR0_EM) !== 0) throw new CpuFault(Vector.UD);
  if ((c.cr0 & CR0_TS) !== 0) throw new CpuFault(Vector.NM);
}

/** MMn into the low half of a scratch slot. */
function stage(c: Cpu, slot: number, mm: number): void {
  const x = c.xmm, b = slot * 4;
  c.fpu.readMmx(mm & 7, x, b);
  x[b + 2] = 0; x[b + 3] = 0;
}

/** The Q operand (an MMX register, or m64 / m32) into a scratch slot. */
function stageQ(c: Cpu, i: Insn, slot: number, bytes = 8): void {
  if (i.rm >= 0) { stage(c, slot, i.rm); return; }
  const ea = c.ea(i), x = c.xmm, b = slot * 4;
  x[b] = c.read32(ea); x[b + 1] = bytes === 8 ? c.read32(ea + 4) : 0; x[b + 2] = 0; x[b + 3] = 0;
}

/** Writes the low half of a slot to MMn, with the MMX state transition. */
function commit(c: Cpu, mm: number, slot: number): void {
  const f = c.fpu;
  f.enterMmx();
  f.writeMmx(mm & 7, c.xmm[slot * 4], c.xmm[slot * 4 + 1]);
}

/** The instruction the SSE2 code sees: destination DST, source SRC, the 66 (or given) prefix form. */
function shadow(i: Insn, opcode: number, mpfx: number, sub = 0): Insn {
  const s = MMX_SHADOW;
  s.opcode = opcode; s.mpfx = mpfx; s.imm = i.imm; s.modrm = i.modrm; s.sub = sub; s.reg = DST; s.rm = SRC;
  return s;
}

/**
 * Pq,Qq forms computed by the SSE2 handler of the same opcode (its 66 form, or `mpfx`) with
 * that form's table selector `sub`; `srcBytes` 4 for the low unpacks (memory operand m32).
 */
export function viaXmm(fn: Handler, mpfx = 0x66, sub = 0, srcBytes = 8): Handler {
  return (c, i) => {
    checkMmx(c);
    stageQ(c, i, SRC, srcBytes);
    stage(c, DST, i.reg);
    fn(c, shadow(i, i.opcode, mpfx, sub));
    commit(c, i.reg, DST);
  };
}

/** PACKSSWB/PACKUSWB/PACKSSDW mm (0F 63/67/6B): the 128-bit pack of destination:source. */
export function mmxPack(c: Cpu, i: Insn): void {
  checkMmx(c);
  stageQ(c, i, SRC);
  stage(c, DST, i.reg);
  const x = c.xmm;
  x[DST * 4 + 2] = x[SRC * 4]; x[DST * 4 + 3] = x[SRC * 4 + 1];
  pack(c, shadow(i, i.opcode, 0x66));
  commit(c, i.reg, DST);
}

/** PUNPCKHBW/WD/DQ mm (0F 68-6A): the low unpack of the operands' upper dwords. */
export function mmxUnpackHigh(c: Cpu, i: Insn): void {
  checkMmx(c);
  stageQ(c, i, SRC);
  stage(c, DST, i.reg);
  const x = c.xmm;
  x[DST * 4] = x[DST * 4 + 1]; x[DST * 4 + 1] = 0;
  x[SRC * 4] = x[SRC * 4 + 1]; x[SRC * 4 + 1] = 0;
  unpack(c, shadow(i, i.opcode - 8, 0x66));
  commit(c, i.reg, DST);
}

/** PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD, PSRLQ/PSLLQ mm, imm8 (0F 71/72/73 /2 /4 /6; no PSRAQ). */
export function mmxShiftImm(c: Cpu, i: Insn): void {
  checkMmx(c);
  const op = (i.modrm >> 3) & 7;
  if (i.rm < 0 || !(op === 2 || op === 6 || (op === 4 && i.opcode !== 0x0f73))) throw new CpuFault(Vector.UD);
  stage(c, DST, i.rm);
  const s = shadow(i, i.opcode, 0x66);
  s.rm = DST;
  shiftImm(c, s);
  commit(c, i.rm, DST);
}

/** MOVD/MOVQ mm, r/m32/64 (0F 6E): zero-extended. */
export function movdToMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  let lo: number, hi = 0;
  if (i.rm >= 0) { lo = c.lo[i.rm]; if (i.rexW) hi = c.hi[i.rm]; }
  else { const ea = c.ea(i); lo = c.read32(ea); if (i.rexW) hi = c.read32(ea + 4); }
  c.fpu.enterMmx();
  c.fpu.writeMmx(i.reg & 7, lo, hi);
}

/** MOVD/MOVQ r/m32/64, mm (0F 7E). */
export function movdFromMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  stage(c, DST, i.reg);
  const lo = c.xmm[DST * 4], hi = c.xmm[DST * 4 + 1];
  if (i.rm >= 0) c.writeReg(i.rexW ? 8 : 4, i.rm, lo >>> 0, hi);
  else if (i.rexW) c.write64(c.ea(i), lo, hi);
  else c.write32(c.ea(i), lo);
  c.fpu.enterMmx();
}

/** MOVQ mm, mm/m64 (0F 6F). */
export function movqToMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  stageQ(c, i, SRC);
  commit(c, i.reg, SRC);
}

/** MOVQ mm/m64, mm (0F 7F) and MOVNTQ m64, mm (0F E7, memory only). */
export function movqFromMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  if (i.rm < 0) {
    stage(c, DST, i.reg);
    c.write64(c.ea(i), c.xmm[DST * 4], c.xmm[DST * 4 + 1]);
    c.fpu.enterMmx();
    return;
  }
  if (i.opcode === 0x0fe7) throw new CpuFault(Vector.UD);
  stage(c, DST, i.reg);
  commit(c, i.rm, DST);
}

/** EMMS (0F 77): all x87 tags empty. */
export function emms(c: Cpu, _i: Insn): void {
  checkMmx(c);
  c.fpu.emms();
}

/** PINSRW mm, r32/m16, imm8 (0F C4). */
export function pinsrwMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  const w = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  stage(c, DST, i.reg);
  views(c).u16[DST * 8 + (i.imm & 3)] = w;
  commit(c, i.reg, DST);
}

/** PEXTRW r32, mm, imm8 (0F C5). */
export function pextrwMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  if (i.rm < 0) throw new CpuFault(Vector.UD);
  stage(c, DST, i.rm);
  c.fpu.enterMmx();
  c.writeReg(4, i.reg, views(c).u16[DST * 8 + (i.imm & 3)]);
}

/** PMOVMSKB r32, mm (0F D7). */
export function pmovmskbMm(c: Cpu, i: Insn): void {
  checkMmx(c);
  if (i.rm < 0) throw new CpuFault(Vector.UD);
  stage(c, DST, i.rm);
  const u8 = views(c).u8;
  let r = 0;
  for (let k = 0; k < 8; k++) r |= (u8[DST * 16 + k] >> 7) << k;
  c.fpu.enterMmx();
  c.writeReg(4, i.reg, r);
}

/** MASKMOVQ mm1, mm2 (0F F7): the bytes of mm1 selected by mm2 to DS:rDI. */
export function maskmovq(c: Cpu, i: Insn): void {
  checkMmx(c);
  if (i.rm < 0) throw new CpuFault(Vector.UD);
  stage(c, DST, i.reg);
  stage(c, AUX, i.rm);
  maskedStore(c, i, DST, AUX, 8);
  c.fpu.enterMmx();
}

/** MOVQ2DQ xmm, mm (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6). */
export function movq2dq(c: Cpu, i: Insn): void {
  checkSse(c);
  checkMmx(c);
  if (i.rm < 0) throw new CpuFault(Vector.UD);
  if (i.mpfx === 0xf3) {
    stage(c, i.reg, i.rm);
    c.fpu.enterMmx();
    return;
  }
  commit(c, i.reg, i.rm);
}

/**
 * CVTPI2PS xmm, mm/m64 (0F 2A) and CVTPI2PD xmm, mm/m64 (66 0F 2A): two int32 lanes through
 * CVTDQ2PS/CVTDQ2PD. Only a register source is an MMX instruction (SDM Vol. 2 CVTPI2PS).
 */
export function cvtpi2p(c: Cpu, i: Insn): void {
  checkSse(c);
  if (i.rm >= 0) checkMmx(c);
  const x = c.xmm, d = i.reg * 4;
  stageQ(c, i, AUX);
  const s = shadow(i, i.mpfx === 0x66 ? 0x0fe6 : 0x0f5b, i.mpfx === 0x66 ? 0xf3 : 0);
  s.reg = DST; s.rm = AUX;
  if (i.mpfx === 0x66) {
    cvtDqPd(c, s);
    x[d] = x[DST * 4]; x[d + 1] = x[DST * 4 + 1]; x[d + 2] = x[DST * 4 + 2]; x[d + 3] = x[DST * 4 + 3];
  } else {
    cvtDqPs(c, s);
    x[d] = x[DST * 4]; x[d + 1] = x[DST * 4 + 1]; // the upper lanes of the destination stay
  }
  if (i.rm >= 0) c.fpu.enterMmx();
}

/**
 * CVT(T)PS2PI mm, xmm/m64 (0F 2D/2C) and CVT(T)PD2PI mm, xmm/m128 (66 0F 2D/2C): the
 * CVT(T)PS2DQ/CVT(T)PD2DQ of the same rounding, low two lanes to mm.
 */
export function cvtp2pi(c: Cpu, i: Insn): void {
  checkSse(c);
  checkMmx(c);
  const x = c.xmm, dbl = i.mpfx === 0x66, trunc = i.opcode === 0x0f2c;
  if (i.rm >= 0) {
    for (let k = 0; k < 4; k++) x[AUX * 4 + k] = x[i.rm * 4 + k];
  } else {
    const ea = c.ea(i);
    if (dbl && ea % 16 !== 0) throw new CpuFault(Vector.GP, 0);
    for (let k = 0; k < (dbl ? 4 : 2); k++) x[AUX * 4 + k] = c.read32(ea + 4 * k);
  }
  // CVTTPS2DQ is F3 0F 5B, CVTPS2DQ 66 0F 5B; CVTTPD2DQ 66 0F E6, CVTPD2DQ F2 0F E6.
  const s = dbl ? shadow(i, 0x0fe6, trunc ? 0x66 : 0xf2) : shadow(i, 0x0f5b, trunc ? 0xf3 : 0x66);
  s.reg = DST; s.rm = AUX;
  if (dbl) cvtDqPd(c, s); else cvtDqPs(c, s);
  commit(c, i.reg, DST);
}
