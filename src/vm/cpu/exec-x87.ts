// x87 FPU instructions (Intel SDM Vol. 1 Chapter 8, Vol. 2 F* pages; opcode map A.4):
// loads and stores of 16/32/64-bit integers and 32/64/80-bit reals, the arithmetic
// (add, sub(r), mul, div(r) in all memory/register/pop forms), compares (FCOM*/FUCOM*/
// FCOMI*/FTST/FXAM), constants, FCHS/FABS/FSQRT/FRNDINT/FSCALE/FPREM/FXCH/FCMOVcc, the
// transcendental group via Math (float64 precision), and control: FNINIT, FNCLEX,
// FLDCW/FNSTCW, FNSTSW, FNSTENV/FLDENV, FNSAVE/FRSTOR, FFREE, FDECSTP/FINCSTP.
// Arithmetic is float64 (see x87.ts); precision control is ignored; exceptions are not
// delivered (#MF); BCD loads/stores (FBLD/FBSTP) and FISTTP (SSE3) are not implemented.

import type { Cpu } from './cpu.js';
import { CpuFault, UnimplementedError, Vector } from './fault.js';
import { CF, PF, ZF } from './flags.js';
import type { Insn } from './insn.js';
import { CR0_EM, CR0_TS } from './state.js';
import { f64ToF80, f80ToF64, FSW_C0, loadsUnchanged80, FSW_C1, FSW_C2, FSW_C3, type X87 } from './x87.js';

const TWO32 = 4294967296;
const scratch = new DataView(new ArrayBuffer(8));

function readReal(c: Cpu, ea: number, bytes: number): number {
  // A signalling NaN is loaded as the quiet NaN (masked #IA, SDM Vol. 1 §8.5.1.2).
  if (bytes === 4) {
    let w = c.read32(ea);
    if ((w & 0x7f80_0000) === 0x7f80_0000 && (w & 0x7f_ffff) !== 0) w |= 0x40_0000;
    scratch.setUint32(0, w, true);
    return scratch.getFloat32(0, true);
  }
  if (bytes === 8) {
    let hi = c.read32(ea + 4);
    const lo = c.read32(ea);
    if ((hi & 0x7ff0_0000) === 0x7ff0_0000 && ((hi & 0xf_ffff) !== 0 || lo !== 0)) hi |= 0x8_0000;
    scratch.setUint32(0, lo, true); scratch.setUint32(4, hi, true);
    return scratch.getFloat64(0, true);
  }
  return f80ToF64(read80(c, ea));
}

function read80(c: Cpu, ea: number): Uint8Array {
  const b = new Uint8Array(10);
  for (let k = 0; k < 10; k++) b[k] = c.read8(ea + k);
  return b;
}

function write80(c: Cpu, ea: number, b: Uint8Array): void {
  c.probeWrite(ea + 9);
  for (let k = 0; k < 10; k++) c.write8(ea + k, b[k]);
}

function writeReal(c: Cpu, ea: number, bytes: number, v: number): void {
  if (bytes === 4) { scratch.setFloat32(0, v, true); c.write32(ea, scratch.getUint32(0, true)); return; }
  if (bytes === 8) {
    scratch.setFloat64(0, v, true);
    c.write64(ea, scratch.getUint32(0, true), scratch.getUint32(4, true));
    return;
  }
  write80(c, ea, f64ToF80(v));
}

function readInt(c: Cpu, ea: number, bytes: number): number {
  if (bytes === 2) return (c.read16(ea) << 16) >> 16;
  if (bytes === 4) return c.read32(ea) | 0;
  const lo = c.read32(ea), hi = c.read32(ea + 4) | 0;
  return hi * TWO32 + lo;
}

function writeInt(c: Cpu, f: X87, ea: number, bytes: number, v: number): void {
  let r = f.round(v);
  const lim = bytes === 2 ? 32768 : bytes === 4 ? 2147483648 : 9223372036854775808;
  if (!(r >= -lim && r < lim)) { f.sw |= 1; r = -lim; } // integer indefinite
  if (bytes === 2) c.write16(ea, r & 0xffff);
  else if (bytes === 4) c.write32(ea, r | 0);
  else { const hi = Math.floor(r / TWO32); c.write64(ea, (r - hi * TWO32) >>> 0, hi | 0); }
}

function arith(op: number, a: number, b: number): number {
  switch (op) {
    case 0: return a + b;
    case 1: return a * b;
    case 4: return a - b;
    case 5: return b - a;
    case 6: return a / b;
    default: return b / a;
  }
}

function compare(f: X87, a: number, b: number): void {
  f.sw &= ~(FSW_C0 | FSW_C2 | FSW_C3);
  if (Number.isNaN(a) || Number.isNaN(b)) f.sw |= FSW_C0 | FSW_C2 | FSW_C3;
  else if (a < b) f.sw |= FSW_C0;
  else if (a === b) f.sw |= FSW_C3;
}

function compareFlags(c: Cpu, a: number, b: number): void {
  let fl = 0;
  if (Number.isNaN(a) || Number.isNaN(b)) fl = ZF | PF | CF;
  else if (a < b) fl = CF;
  else if (a === b) fl = ZF;
  c.setArithFlags(fl);
}

const CONSTS = [1, Math.log2(10), Math.LOG2E, Math.PI, Math.log10(2), Math.LN2, 0];

/** All of D8-DF; `i.opcode & 7` is the escape, ModRM selects the operation. */
export function x87(c: Cpu, i: Insn): void {
  if ((c.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuFault(Vector.NM);
  const f = c.fpu;
  const esc = i.opcode & 7, reg = (i.modrm >> 3) & 7;
  if (i.rm < 0) { memoryForm(c, f, i, esc, reg); return; }
  const sti = i.modrm & 7;
  switch (esc) {
    case 0: // D8: st0 = st0 op st(i); FCOM/FCOMP
      if (reg === 2 || reg === 3) { compare(f, f.get(0), f.get(sti)); if (reg === 3) f.pop(); return; }
      f.set(0, arith(reg, f.get(0), f.get(sti)));
      return;
    case 4: // DC: st(i) = st(i) op st0 (sub/subr and div/divr swapped as in the SDM)
    case 6: { // DE: same, then pop
      if (esc === 6 && reg === 3 && sti === 1) { compare(f, f.get(0), f.get(1)); f.pop(); f.pop(); return; } // FCOMPP
      if (reg === 2 || reg === 3) { compare(f, f.get(0), f.get(sti)); if (reg === 3) f.pop(); return; }
      const op = reg === 4 ? 5 : reg === 5 ? 4 : reg === 6 ? 7 : reg === 7 ? 6 : reg;
      f.set(sti, arith(op, f.get(sti), f.get(0)));
      if (esc === 6) f.pop();
      return;
    }
    case 1: d9Register(c, f, reg, sti); return;
    case 2: // DA: FCMOVB/E/BE/U, FUCOMPP
      if (reg === 5 && sti === 1) { compare(f, f.get(0), f.get(1)); f.pop(); f.pop(); return; }
      if (reg < 4) { if (fcmovCond(c, reg)) f.set(0, f.get(sti)); return; }
      break;
    case 3: // DB: FCMOVNcc, FNCLEX, FNINIT, FUCOMI, FCOMI
      if (reg < 4) { if (!fcmovCond(c, reg)) f.set(0, f.get(sti)); return; }
      if (reg === 4 && sti === 2) { f.sw &= 0x7f00; return; }
      if (reg === 4 && sti === 3) { f.init(); return; }
      if (reg === 4) return; // FENI/FDISI/FSETPM: no-ops on later CPUs
      if (reg === 5 || reg === 6) { compareFlags(c, f.get(0), f.get(sti)); return; }
      break;
    case 5: // DD: FFREE, FST, FSTP, FUCOM, FUCOMP
      if (reg === 0) { f.empty[(f.top + sti) & 7] = 1; return; }
      if (reg === 2 || reg === 3) { f.set(sti, f.get(0)); if (reg === 3) f.pop(); return; }
      if (reg === 4 || reg === 5) { compare(f, f.get(0), f.get(sti)); if (reg === 5) f.pop(); return; }
      break;
    case 7: // DF: FNSTSW AX, FUCOMIP, FCOMIP, FFREEP
      if (reg === 4 && sti === 0) { c.writeReg(2, 0, f.statusWord()); return; }
      if (reg === 5 || reg === 6) { compareFlags(c, f.get(0), f.get(sti)); f.pop(); return; }
      if (reg === 0) { f.empty[(f.top + sti) & 7] = 1; f.pop(); return; }
      break;
  }
  throw new UnimplementedError(`x87 register form ${(0xd8 + esc).toString(16)} ${i.modrm.toString(16)} not implemented`);
}

function fcmovCond(c: Cpu, reg: number): boolean {
  switch (reg) {
    case 0: return c.getCF() !== 0;
    case 1: return c.getZF();
    case 2: return c.getCF() !== 0 || c.getZF();
    default: return c.getPF();
  }
}

function d9Register(c: Cpu, f: X87, reg: number, sti: number): void {
  switch (reg) {
    case 0: f.push(f.get(sti)); return; // FLD st(i)
    case 1: { const a = f.get(0), b = f.get(sti); f.set(0, b); f.set(sti, a); return; } // FXCH
    case 2: return; // FNOP
    case 3: f.set(sti, f.get(0)); f.pop(); return; // FSTP1 alias
  }
  const m = 0xd9e0 | ((reg - 4) << 3) | sti;
  // Forms that do not read ST(0): reading an empty one would flag a stack underflow.
  if (m >= 0xd9e8 && m <= 0xd9ee) { f.push(CONSTS[m - 0xd9e8]); return; }
  if (m === 0xd9f6) { f.top = (f.top - 1) & 7; return; }
  if (m === 0xd9f7) { f.top = (f.top + 1) & 7; return; }
  const st0 = m === 0xd9e5 ? f.st[f.top] : f.get(0); // FXAM classifies an empty register too
  switch (m) {
    case 0xd9e0: f.set(0, -st0); return;
    case 0xd9e1: f.set(0, Math.abs(st0)); return;
    case 0xd9e4: compare(f, st0, 0); return;
    case 0xd9e5: { // FXAM
      f.sw &= ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3);
      if (f.signBit(0)) f.sw |= FSW_C1;
      if (f.empty[f.top]) f.sw |= FSW_C3 | FSW_C0;
      else if (Number.isNaN(st0)) f.sw |= FSW_C0;
      else if (!Number.isFinite(st0)) f.sw |= FSW_C2 | FSW_C0;
      else if (st0 === 0) f.sw |= FSW_C3;
      else f.sw |= FSW_C2;
      return;
    }
    case 0xd9f0: f.set(0, Math.pow(2, st0) - 1); return;
    case 0xd9f1: { const y = f.get(1); f.pop(); f.set(0, y * Math.log2(st0)); return; }
    case 0xd9f2: f.set(0, Math.tan(st0)); f.push(1); f.sw &= ~FSW_C2; return;
    case 0xd9f3: { const y = f.get(1); f.pop(); f.set(0, Math.atan2(y, st0)); return; }
    case 0xd9f4: { // FXTRACT
      const e = st0 === 0 ? -Infinity : Math.floor(Math.log2(Math.abs(st0)));
      f.set(0, e); f.push(st0 / Math.pow(2, e)); return;
    }
    case 0xd9f5: case 0xd9f8: { // FPREM1 / FPREM: the remainder is exact (IEEE fmod)
      const d = f.get(1);
      let r = st0 % d;
      if (m === 0xd9f5 && Math.abs(r) * 2 > Math.abs(d)) r -= Math.sign(r) * Math.abs(d);
      const q = Math.trunc((st0 - r) / d);
      f.set(0, r);
      f.sw &= ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3);
      if (q & 1) f.sw |= FSW_C1; if (q & 2) f.sw |= FSW_C3; if (q & 4) f.sw |= FSW_C0;
      return;
    }
    case 0xd9f9: { const y = f.get(1); f.pop(); f.set(0, y * Math.log2(st0 + 1)); return; }
    case 0xd9fa: f.set(0, Math.sqrt(st0)); return;
    case 0xd9fb: f.set(0, Math.sin(st0)); f.push(Math.cos(st0)); f.sw &= ~FSW_C2; return;
    case 0xd9fc: f.set(0, f.round(st0)); return;
    case 0xd9fd: f.set(0, st0 * Math.pow(2, Math.trunc(f.get(1)))); return;
    case 0xd9fe: f.set(0, Math.sin(st0)); f.sw &= ~FSW_C2; return;
    case 0xd9ff: f.set(0, Math.cos(st0)); f.sw &= ~FSW_C2; return;
  }
  throw new UnimplementedError(`x87 d9 ${(m & 0xff).toString(16)} not implemented`);
}

function memoryForm(c: Cpu, f: X87, i: Insn, esc: number, reg: number): void {
  const ea = c.ea(i);
  switch (esc) {
    case 0: case 4: case 2: case 6: { // arithmetic with a memory operand
      const v = esc === 0 ? readReal(c, ea, 4) : esc === 4 ? readReal(c, ea, 8) : readInt(c, ea, esc === 2 ? 4 : 2);
      if (reg === 2 || reg === 3) { compare(f, f.get(0), v); if (reg === 3) f.pop(); return; }
      f.set(0, arith(reg, f.get(0), v));
      return;
    }
    case 1:
      switch (reg) {
        case 0: f.push(readReal(c, ea, 4)); return;
        case 2: writeReal(c, ea, 4, f.get(0)); return;
        case 3: writeReal(c, ea, 4, f.get(0)); f.pop(); return;
        case 4: loadEnv(c, f, ea, i.osize); return;
        case 5: f.cw = c.read16(ea); return;
        case 6: storeEnv(c, f, ea, i.osize); return;
        case 7: c.write16(ea, f.cw); return;
      }
      break;
    case 3:
      switch (reg) {
        case 0: f.push(readInt(c, ea, 4)); return;
        case 2: writeInt(c, f, ea, 4, f.get(0)); return;
        case 3: writeInt(c, f, ea, 4, f.get(0)); f.pop(); return;
        case 5: { const b = read80(c, ea); f.push(f80ToF64(b)); if (loadsUnchanged80(b)) f.load80(f.top, b); return; } // keeps the exact image
        case 7: { const v = f.get(0); write80(c, ea, f.empty[f.top] ? f64ToF80(v) : f.image80(f.top)); f.pop(); return; }
      }
      break;
    case 5:
      switch (reg) {
        case 0: f.push(readReal(c, ea, 8)); return;
        case 2: writeReal(c, ea, 8, f.get(0)); return;
        case 3: writeReal(c, ea, 8, f.get(0)); f.pop(); return;
        case 4: { // FRSTOR
          const envBytes = i.osize === 2 ? 14 : 28;
          loadEnv(c, f, ea, i.osize);
          for (let r = 0; r < 8; r++) f.load80((f.top + r) & 7, read80(c, ea + envBytes + 10 * r));
          return;
        }
        case 6: { // FNSAVE
          const envBytes = i.osize === 2 ? 14 : 28;
          storeEnv(c, f, ea, i.osize);
          for (let r = 0; r < 8; r++) write80(c, ea + envBytes + 10 * r, f.image80((f.top + r) & 7));
          f.init();
          return;
        }
        case 7: c.write16(ea, f.statusWord()); return;
      }
      break;
    case 7:
      switch (reg) {
        case 0: f.push(readInt(c, ea, 2)); return;
        case 2: writeInt(c, f, ea, 2, f.get(0)); return;
        case 3: writeInt(c, f, ea, 2, f.get(0)); f.pop(); return;
        case 5: f.push(readInt(c, ea, 8)); return;
        case 7: writeInt(c, f, ea, 8, f.get(0)); f.pop(); return;
      }
      break;
  }
  throw new UnimplementedError(`x87 ${(0xd8 + esc).toString(16)} /${reg} (memory) not implemented`);
}

/** FNSTENV layout, protected mode 32-bit (SDM Vol. 1 Figure 8-9); pointers stored as 0. */
function storeEnv(c: Cpu, f: X87, ea: number, osize: number): void {
  const w = osize === 2 ? 2 : 4;
  const vals = [f.cw, f.statusWord(), f.tagWord(), 0, 0, 0, 0];
  vals.forEach((v, k) => (w === 2 ? c.write16(ea + 2 * k, v) : c.write32(ea + 4 * k, v)));
  f.cw |= 0x3f; // FNSTENV masks all exceptions
}

function loadEnv(c: Cpu, f: X87, ea: number, osize: number): void {
  const rd = (k: number): number => (osize === 2 ? c.read16(ea + 2 * k) : c.read32(ea + 4 * k) & 0xffff);
  f.cw = rd(0);
  const sw = rd(1);
  f.sw = sw & ~0x3800;
  f.top = (sw >> 11) & 7;
  f.setTagWord(rd(2));
}
