// Data movement and bit instructions (Intel SDM Vol. 2): MOV in all forms, MOVZX/MOVSX/
// MOVSXD, LEA, XCHG, BSWAP, PUSH/POP (registers, immediates, memory, segment registers),
// PUSHA/POPA, PUSHF/POPF, LAHF/SAHF, CMOVcc, SETcc, BT/BTS/BTR/BTC, BSF/BSR, XLAT,
// ENTER/LEAVE, the flag instructions CLC/STC/CMC/CLD/STD and NOPs.

import type { Cpu } from './cpu.js';
import { CpuFault, Vector } from './fault.js';
import { AF, CF, DF, PF, SF, ZF } from './flags.js';
import { BASE_RIP, type Insn } from './insn.js';
import { CS, SS } from './state.js';

const TWO32 = 4294967296;

export function nop(_c: Cpu, _i: Insn): void {}

/** MOV Eb,Gb / Ev,Gv (88/89). */
export function movEG(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (i.rm >= 0) {
    if (s === 8) { c.lo[i.rm] = c.lo[i.reg]; c.hi[i.rm] = c.hi[i.reg]; return; }
    if (s === 4) { c.lo[i.rm] = c.lo[i.reg]; c.hi[i.rm] = 0; return; }
    c.writeReg(s, i.rm, c.readReg(s, i.reg));
    return;
  }
  const ea = c.ea(i);
  if (s === 8) c.write64(ea, c.lo[i.reg], c.hi[i.reg]);
  else if (s === 4) c.write32(ea, c.lo[i.reg]);
  else c.writeMem(s, ea, c.readReg(s, i.reg));
}

/** MOV Gb,Eb / Gv,Ev (8A/8B). */
export function movGE(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (i.rm >= 0) {
    if (s === 8) { c.lo[i.reg] = c.lo[i.rm]; c.hi[i.reg] = c.hi[i.rm]; return; }
    if (s === 4) { c.lo[i.reg] = c.lo[i.rm]; c.hi[i.reg] = 0; return; }
    c.writeReg(s, i.reg, c.readReg(s, i.rm));
    return;
  }
  const ea = c.ea(i);
  if (s === 8) { c.lo[i.reg] = c.read64(ea); c.hi[i.reg] = c.th; }
  else if (s === 4) { c.lo[i.reg] = c.read32(ea); c.hi[i.reg] = 0; }
  else c.writeReg(s, i.reg, c.readMem(s, ea));
}

/** MOV Zb,Ib / Zv,Iv (B0-BF). */
export function movZI(c: Cpu, i: Insn): void {
  c.writeReg(i.osize, i.reg, i.imm, i.imm2);
}

/** MOV Eb,Ib / Ev,Iz (C6/C7 /0). */
export function movEI(c: Cpu, i: Insn): void {
  const s = i.osize;
  const hi = i.imm < 0 ? -1 : 0;
  if (i.rm >= 0) { c.writeReg(s, i.rm, s === 4 ? i.imm >>> 0 : i.imm, hi); return; }
  c.writeMem(s, c.ea(i), i.imm, hi);
}

/** MOV AL/rAX, moffs and back (A0-A3). */
export function movMoffs(c: Cpu, i: Insn): void {
  let off = i.imm;
  if (i.asize === 8) off = i.imm2 * TWO32 + i.imm;
  const lin = c.codeMode === 64 ? (i.seg >= 4 ? off + c.segBase[i.seg] : off) : (off + c.segBase[i.seg]) >>> 0;
  const s = i.osize;
  if (i.opcode === 0xa0 || i.opcode === 0xa1) { const v = c.readMem(s, lin); c.writeReg(s, 0, v, c.th); }
  else c.writeMem(s, lin, c.readReg(s, 0), c.th);
}

/** LEA Gv,M (8D). */
export function lea(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  if (i.asize === 8) {
    // Exact 64-bit arithmetic on halves: LEA is integer arithmetic to compilers.
    let lo = i.disp, hi = 0;
    if (i.base === BASE_RIP) {
      const r = c.nextRip, rh = Math.floor(r / TWO32);
      lo += r - rh * TWO32; hi += rh;
    } else if (i.base >= 0) { lo += c.lo[i.base] >>> 0; hi += c.hi[i.base]; }
    if (i.index >= 0) {
      const x = c.lo[i.index] >>> 0, sc = i.scale;
      lo += (x << sc) >>> 0;
      hi += sc === 0 ? c.hi[i.index] : (c.hi[i.index] << sc) | (x >>> (32 - sc));
    }
    const carry = Math.floor(lo / TWO32);
    lo = lo - carry * TWO32;
    hi = (hi + carry) | 0;
    if (i.osize === 8) c.writeReg(8, i.reg, lo, hi);
    else c.writeReg(i.osize, i.reg, i.osize === 4 ? lo >>> 0 : lo & 0xffff);
    return;
  }
  // The offset only: no segment base (compute with the segment stripped).
  const seg = i.seg;
  i.seg = 3;
  let v: number;
  if (c.codeMode === 64 || c.segBase[3] === 0) v = c.ea(i);
  else v = (c.ea(i) - c.segBase[3]) >>> 0;
  i.seg = seg;
  if (i.osize === 8) { c.setReg64(i.reg, v); return; }
  c.writeReg(i.osize, i.reg, i.osize === 4 ? (v % TWO32) >>> 0 : v & 0xffff);
}

/** MOVZX Gv,Eb/Ew (0F B6/B7) and MOVSX (0F BE/BF). */
export function movx(c: Cpu, i: Insn): void {
  const srcSize = i.opcode === 0x0fb6 || i.opcode === 0x0fbe ? 1 : 2;
  let v: number;
  if (i.rm >= 0) {
    // A byte register from ModRM.rm follows the byte-register rules (AH..BH without REX).
    let rm = i.rm;
    if (srcSize === 1 && !i.rex && rm >= 4 && rm < 8) rm += 12;
    v = c.readReg(srcSize, rm);
  } else v = c.readMem(srcSize, c.ea(i));
  const sign = i.opcode === 0x0fbe || i.opcode === 0x0fbf;
  if (sign) v = srcSize === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
  if (i.osize === 8) c.writeReg(8, i.reg, v >>> 0, v < 0 ? -1 : 0);
  else c.writeReg(i.osize, i.reg, i.osize === 4 ? v >>> 0 : v & 0xffff);
}

/** MOVSXD Gv,Ed (63 in 64-bit mode); ARPL Ew,Gw outside it. */
export function movsxd(c: Cpu, i: Insn): void {
  if (c.codeMode !== 64) {
    // ARPL (SDM Vol. 2 ARPL): raise the destination selector's RPL to the source's.
    if ((c.cr0 & 1) === 0) throw new CpuFault(Vector.UD);
    const dst = c.rdEs(i, 2), src = c.lo[i.reg] & 3;
    c.materializeFlags();
    if ((dst & 3) < src) { c.wrEs(i, 2, (dst & ~3) | src); c.flags |= ZF; } else c.flags &= ~ZF;
    return;
  }
  const v = i.rm >= 0 ? c.lo[i.rm] : c.read32(c.ea(i)) | 0;
  if (i.osize === 8) c.writeReg(8, i.reg, v >>> 0, v >> 31);
  else c.writeReg(i.osize, i.reg, i.osize === 4 ? v >>> 0 : v & 0xffff);
}

/** XCHG Eb,Gb / Ev,Gv (86/87). */
export function xchgEG(c: Cpu, i: Insn): void {
  const s = i.osize;
  const a = c.rdE(i), ah = c.th;
  const b = c.readReg(s, i.reg), bh = c.th;
  c.wrE(i, b, bh);
  c.writeReg(s, i.reg, a, ah);
}

/** XCHG rAX,Zv (90+r); 90 without REX.B is NOP, F3 90 is PAUSE. */
export function xchgAZ(c: Cpu, i: Insn): void {
  if (i.reg === 0) {
    if (i.osize === 4 && c.codeMode === 64) return; // NOP does not zero-extend EAX
    return;
  }
  const s = i.osize;
  const a = c.readReg(s, 0), ah = c.th;
  const b = c.readReg(s, i.reg), bh = c.th;
  c.writeReg(s, 0, b, bh);
  c.writeReg(s, i.reg, a, ah);
}

/** BSWAP Zv (0F C8+r). */
export function bswap(c: Cpu, i: Insn): void {
  const sw = (v: number): number => ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0;
  if (i.osize === 8) {
    const lo = c.lo[i.reg], hi = c.hi[i.reg];
    c.lo[i.reg] = sw(hi); c.hi[i.reg] = sw(lo);
  } else if (i.osize === 4) c.writeReg(4, i.reg, sw(c.lo[i.reg]));
  else c.writeReg(2, i.reg, 0); // undefined for 16-bit operands; real CPUs zero the word
}

// ---- stack ----

/** Stack operand size of PUSH/POP: 64-bit mode defaults to 8 (66 gives 2). */
function stackOp(i: Insn): number {
  return i.osize;
}

export function pushZ(c: Cpu, i: Insn): void {
  const s = stackOp(i);
  c.push(s, c.lo[i.reg], c.hi[i.reg]);
}

export function popZ(c: Cpu, i: Insn): void {
  const s = stackOp(i);
  const v = c.pop(s);
  c.writeReg(s, i.reg, v, c.th);
}

/** PUSH Iz/Ib (68/6A): sign-extended to the operand size. */
export function pushI(c: Cpu, i: Insn): void {
  c.push(i.osize, i.osize === 2 ? i.imm & 0xffff : i.imm, i.imm < 0 ? -1 : 0);
}

/** PUSH Ev (FF /6). */
export function pushE(c: Cpu, i: Insn): void {
  const v = c.rdE(i);
  c.push(i.osize, v, c.th);
}

/** POP Ev (8F /0): RSP is incremented before the destination address is computed. */
export function popE(c: Cpu, i: Insn): void {
  const v = c.pop(i.osize), vh = c.th;
  if (i.rm >= 0) c.writeReg(i.osize, i.rm, v, vh);
  else c.writeMem(i.osize, c.ea(i), v, vh);
}

/** PUSH ES/CS/SS/DS/FS/GS (06, 0E, 16, 1E, 0F A0, 0F A8); sub = segment. */
export function pushSeg(c: Cpu, i: Insn): void {
  c.push(i.osize, c.segSel[i.sub], 0);
}

/** POP ES/SS/DS/FS/GS. POP SS blocks interrupts for one instruction. */
export function popSeg(c: Cpu, i: Insn): void {
  const v = c.peek(i.osize, 0);
  c.loadSegment(i.sub, v & 0xffff);
  c.pop(i.osize);
  if (i.sub === SS) { c.shadow = true; c.breakLoop = true; }
}

/** PUSHA/PUSHAD (60, not in 64-bit mode). */
export function pusha(c: Cpu, i: Insn): void {
  const s = i.osize;
  const sp = c.readReg(s, 4);
  for (let r = 0; r < 8; r++) c.push(s, r === 4 ? sp : c.readReg(s, r));
}

/** POPA/POPAD (61). */
export function popa(c: Cpu, i: Insn): void {
  const s = i.osize;
  for (let r = 7; r >= 0; r--) {
    const v = c.pop(s);
    if (r !== 4) c.writeReg(s, r, v);
  }
}

/** ENTER Iw,Ib (C8). */
export function enter(c: Cpu, i: Insn): void {
  const s = i.osize, level = i.imm2 & 31;
  const bp = c.readReg(s, 5), bph = c.th;
  c.push(s, bp, bph);
  const frame = c.readReg(s, 4), frameh = c.th;
  for (let n = 1; n < level; n++) {
    const v = c.peek(s, 0);
    c.push(s, v, c.th);
  }
  if (level > 0) c.push(s, frame, frameh);
  c.writeReg(s, 5, frame, frameh);
  if (c.stackSize === 8) c.setReg64(4, c.reg64(4) - i.imm);
  else if (c.stackSize === 4) c.lo[4] = (c.lo[4] - i.imm) >>> 0;
  else c.lo[4] = (c.lo[4] & ~0xffff) | ((c.lo[4] - i.imm) & 0xffff);
}

/** LEAVE (C9). */
export function leave(c: Cpu, i: Insn): void {
  if (c.stackSize === 8) { c.lo[4] = c.lo[5]; c.hi[4] = c.hi[5]; }
  else if (c.stackSize === 4) c.lo[4] = c.lo[5];
  else c.lo[4] = (c.lo[4] & ~0xffff) | (c.lo[5] & 0xffff);
  const v = c.pop(i.osize);
  c.writeReg(i.osize, 5, v, c.th);
}

/** PUSHF/PUSHFD/PUSHFQ (9C): VM and RF read as 0. */
export function pushf(c: Cpu, i: Insn): void {
  c.push(i.osize, c.getRflags() & 0xfcffff, 0);
}

/** POPF (9D). */
export function popf(c: Cpu, i: Insn): void {
  const v = c.pop(i.osize);
  c.writeFlags(v, i.osize === 2 ? 0xffff : 0x3f7fd5);
}

/** LAHF (9F): AH = SF:ZF:0:AF:0:PF:1:CF. */
export function lahf(c: Cpu, _i: Insn): void {
  const f = c.getRflags() & (SF | ZF | AF | PF | CF);
  c.lo[0] = (c.lo[0] & ~0xff00) | ((f | 2) << 8);
}

/** SAHF (9E). */
export function sahf(c: Cpu, _i: Insn): void {
  const ah = (c.lo[0] >> 8) & 0xff;
  c.setArithFlags((c.getRflags() & 0x800) | (ah & (SF | ZF | AF | PF | CF)));
}

/** CLC/STC/CMC/CLD/STD (F8, F9, F5, FC, FD). */
export function flagOp(c: Cpu, i: Insn): void {
  c.materializeFlags();
  switch (i.opcode) {
    case 0xf8: c.flags &= ~CF; break;
    case 0xf9: c.flags |= CF; break;
    case 0xf5: c.flags ^= CF; break;
    case 0xfc: c.flags &= ~DF; break;
    default: c.flags |= DF; break;
  }
}

// ---- conditional moves and sets ----

/** CMOVcc Gv,Ev (0F 40-4F): the source is read (and may fault) even when false. */
export function cmov(c: Cpu, i: Insn): void {
  const v = c.rdE(i), vh = c.th;
  if (c.cond(i.sub)) c.writeReg(i.osize, i.reg, v, vh);
  else if (i.osize === 4) c.hi[i.reg] = 0; // a 32-bit CMOV zero-extends even when false
}

/** SETcc Eb (0F 90-9F). */
export function setcc(c: Cpu, i: Insn): void {
  const v = c.cond(i.sub) ? 1 : 0;
  if (i.rm >= 0) c.writeReg(1, i.rm, v);
  else c.write8(c.ea(i), v);
}

// ---- bit instructions ----

/** BT/BTS/BTR/BTC Ev,Gv (0F A3/AB/B3/BB) and Ev,Ib (0F BA /4-7). sub: 0 BT, 1 BTS, 2 BTR, 3 BTC. */
export function bitTest(c: Cpu, i: Insn): void {
  const s = i.osize, bits = s * 8;
  const immForm = i.opcode === 0x0fba;
  let off: number;
  if (immForm) off = i.imm & (bits - 1);
  else if (s === 8) off = c.reg64(i.reg);
  else off = s === 4 ? c.lo[i.reg] : (c.lo[i.reg] << 16) >> 16;
  let v: number, vh = 0, lin = 0;
  if (i.rm >= 0) {
    off = immForm ? off : c.lo[i.reg] & (bits - 1);
    v = c.readReg(s, i.rm); vh = c.th;
  } else {
    lin = c.ea(i);
    // Register bit offsets address memory beyond the operand (SDM Vol. 2 BT).
    const unit = Math.floor(off / bits);
    lin += unit * s;
    if (c.codeMode !== 64) lin = lin >>> 0;
    off -= unit * bits;
    v = c.readMem(s, lin); vh = c.th;
  }
  const inHi = off >= 32;
  const mask = 1 << (off & 31);
  const word = inHi ? vh : v;
  const bit = (word & mask) !== 0;
  c.materializeFlags();
  c.flags = bit ? c.flags | CF : c.flags & ~CF;
  if (i.sub === 0) return;
  let nw = word;
  if (i.sub === 1) nw = word | mask; else if (i.sub === 2) nw = word & ~mask; else nw = word ^ mask;
  nw >>>= 0;
  if (inHi) vh = nw; else v = nw;
  if (i.rm >= 0) c.writeReg(s, i.rm, v, vh);
  else c.writeMem(s, lin, v, vh);
}

/** BSF/BSR Gv,Ev (0F BC/BD): ZF=1 and the destination kept when the source is 0. */
export function bitScan(c: Cpu, i: Insn): void {
  const v = c.rdE(i), vh = i.osize === 8 ? c.th : 0;
  c.materializeFlags();
  if (v === 0 && vh === 0) { c.flags |= ZF; return; }
  c.flags &= ~ZF;
  let r: number;
  if (i.opcode === 0x0fbc) r = v !== 0 ? 31 - Math.clz32(v & -v) : 32 + 31 - Math.clz32(vh & -vh);
  else r = vh !== 0 ? 63 - Math.clz32(vh) : 31 - Math.clz32(v);
  c.writeReg(i.osize, i.reg, r, 0);
}

/** XLAT (D7): AL = [seg:rBX + AL]. */
export function xlat(c: Cpu, i: Insn): void {
  let off: number;
  if (i.asize === 8) off = c.reg64(3) + (c.lo[0] & 0xff);
  else if (i.asize === 4) off = ((c.lo[3] >>> 0) + (c.lo[0] & 0xff)) >>> 0;
  else off = ((c.lo[3] & 0xffff) + (c.lo[0] & 0xff)) & 0xffff;
  c.writeReg(1, 0, c.read8(c.segAddr(i.seg, off)));
}

/** MOV Ev,Sw (8C): a register destination gets the zero-extended selector. */
export function movESreg(c: Cpu, i: Insn): void {
  const sreg = (i.modrm >> 3) & 7;
  if (sreg > 5) throw new CpuFault(Vector.UD);
  const v = c.segSel[sreg];
  if (i.rm >= 0) c.writeReg(i.osize === 2 ? 2 : 4, i.rm, v);
  else c.write16(c.ea(i), v);
}

/** MOV Sw,Ew (8E): MOV SS blocks interrupts for one instruction. */
export function movSregE(c: Cpu, i: Insn): void {
  const sreg = (i.modrm >> 3) & 7;
  if (sreg > 5 || sreg === CS) throw new CpuFault(Vector.UD);
  const v = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  c.loadSegment(sreg, v);
  if (sreg === SS) { c.shadow = true; c.breakLoop = true; }
}

/** LDS/LES/LSS/LFS/LGS Gv,Mp (C5, C4, 0F B2, 0F B4, 0F B5); sub = segment. */
export function loadFarPointer(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  const ea = c.ea(i);
  const s = i.osize;
  const off = c.readMem(s, ea), offh = c.th;
  const sel = c.read16(ea + s);
  c.loadSegment(i.sub, sel);
  c.writeReg(s, i.reg, off, offh);
}
