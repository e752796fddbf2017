// Control transfer (Intel SDM Vol. 2, Vol. 3A §5.8, §6.12-6.14): Jcc, JMP, CALL, RET,
// LOOP/JCXZ, far JMP/CALL/RET to code segments, INT n/INT3/INTO/INT1, IRET/IRETD/IRETQ,
// SYSCALL/SYSRET and SYSENTER/SYSEXIT.
// Not modelled: call gates and task switches (reported as unimplemented), virtual-8086
// returns from IRET.

import type { Cpu } from './cpu.js';
import { CpuFault, UnimplementedError, Vector } from './fault.js';
import { IF, IOPL, NT, OF, RF, VM } from './flags.js';
import type { Insn } from './insn.js';
import { CR0_PE, CS, EFER_LMA, EFER_SCE, SS } from './state.js';

const TWO32 = 4294967296;

/** Jcc Jb/Jz (70-7F, 0F 80-8F). */
export function jcc(c: Cpu, i: Insn): void {
  if (c.cond(i.sub)) c.branch(c.nextRip + i.imm, i.osize);
}

/** JMP Jb/Jz (EB/E9). */
export function jmpRel(c: Cpu, i: Insn): void {
  c.branch(c.nextRip + i.imm, i.osize);
}

/** JMP Ev (FF /4). */
export function jmpE(c: Cpu, i: Insn): void {
  const v = c.rdE(i);
  c.branch(i.osize === 8 ? (c.th | 0) * TWO32 + v : v, i.osize);
}

/** CALL Jz (E8). */
export function callRel(c: Cpu, i: Insn): void {
  pushRip(c, i.osize, c.nextRip);
  c.branch(c.nextRip + i.imm, i.osize);
}

function pushRip(c: Cpu, s: number, rip: number): void {
  if (s === 8) c.push(8, rip % TWO32 | 0, Math.floor(rip / TWO32) | 0);
  else c.push(s, rip);
}

/** CALL Ev (FF /2). */
export function callE(c: Cpu, i: Insn): void {
  const v = c.rdE(i);
  const target = i.osize === 8 ? (c.th | 0) * TWO32 + v : v;
  pushRip(c, i.osize, c.nextRip);
  c.branch(target, i.osize);
}

/** RET / RET Iw (C3/C2). */
export function ret(c: Cpu, i: Insn): void {
  const v = c.pop(i.osize);
  const target = i.osize === 8 ? (c.th | 0) * TWO32 + v : v;
  if (i.opcode === 0xc2) releaseStack(c, i.imm);
  c.branch(target, i.osize);
}

function releaseStack(c: Cpu, n: number): void {
  if (c.stackSize === 8) c.setReg64(4, c.reg64(4) + n);
  else if (c.stackSize === 4) c.lo[4] = (c.lo[4] >>> 0) + n;
  else c.lo[4] = (c.lo[4] & ~0xffff) | ((c.lo[4] + n) & 0xffff);
}

/** LOOP/LOOPE/LOOPNE/JrCXZ (E2, E1, E0, E3). */
export function loop(c: Cpu, i: Insn): void {
  let count: number;
  if (i.opcode === 0xe3) {
    count = i.asize === 8 ? (c.lo[1] | c.hi[1]) : i.asize === 4 ? c.lo[1] : c.lo[1] & 0xffff;
    if (count === 0) c.branch(c.nextRip + i.imm, i.osize);
    return;
  }
  if (i.asize === 8) { c.setReg64(1, c.reg64(1) - 1); count = c.lo[1] | c.hi[1]; }
  else if (i.asize === 4) { c.lo[1] = c.lo[1] - 1; count = c.lo[1]; }
  else { c.lo[1] = (c.lo[1] & ~0xffff) | ((c.lo[1] - 1) & 0xffff); count = c.lo[1] & 0xffff; }
  let take = count !== 0;
  if (i.opcode === 0xe1) take = take && c.getZF();
  else if (i.opcode === 0xe0) take = take && !c.getZF();
  if (take) c.branch(c.nextRip + i.imm, i.osize);
}

// ---- far transfers ----

/** Far JMP to a code segment (EA Ap outside 64-bit mode, FF /5 Mp). */
export function jmpFar(c: Cpu, i: Insn): void {
  let off: number, sel: number;
  if (i.opcode === 0xea) { off = i.imm; sel = i.imm2; }
  else {
    if (i.rm >= 0) throw new CpuFault(Vector.UD);
    const ea = c.ea(i);
    off = c.readMem(i.osize, ea);
    if (i.osize === 8) off = (c.th | 0) * TWO32 + off;
    sel = c.read16(ea + i.osize);
  }
  farTo(c, sel, off, i.osize);
}

function farTo(c: Cpu, sel: number, off: number, osize: number): void {
  const pm = (c.cr0 & CR0_PE) !== 0 && (c.flags & VM) === 0;
  c.loadCodeSegment(sel, pm ? c.cpl : 0);
  c.nextRip = c.codeMode === 64 ? off : osize === 2 ? off & 0xffff : off >>> 0;
}

/** Far CALL (9A Ap, FF /3 Mp). */
export function callFar(c: Cpu, i: Insn): void {
  let off: number, sel: number;
  if (i.opcode === 0x9a) { off = i.imm; sel = i.imm2; }
  else {
    if (i.rm >= 0) throw new CpuFault(Vector.UD);
    const ea = c.ea(i);
    off = c.readMem(i.osize, ea);
    if (i.osize === 8) off = (c.th | 0) * TWO32 + off;
    sel = c.read16(ea + i.osize);
  }
  const oldCs = c.segSel[CS];
  const ret = c.nextRip;
  c.push(i.osize, oldCs);
  pushRip(c, i.osize, ret);
  farTo(c, sel, off, i.osize);
}

/** RETF / RETF Iw (CB/CA), with the return to an outer privilege level. */
export function retFar(c: Cpu, i: Insn): void {
  const s = i.osize;
  let off = c.pop(s);
  if (s === 8) off = (c.th | 0) * TWO32 + off;
  const sel = c.pop(s) & 0xffff;
  const pm = (c.cr0 & CR0_PE) !== 0 && (c.flags & VM) === 0;
  const rpl = sel & 3;
  if (pm && rpl > c.cpl) {
    if (i.opcode === 0xca) releaseStack(c, i.imm);
    let sp = c.pop(s);
    if (s === 8) sp = (c.th | 0) * TWO32 + sp;
    const ss = c.pop(s) & 0xffff;
    c.loadCodeSegment(sel, rpl);
    c.loadSegment(SS, ss);
    if (c.stackSize === 8 || s === 8) c.setReg64(4, sp); else c.writeReg(c.stackSize, 4, sp);
  } else {
    c.loadCodeSegment(sel, pm ? c.cpl : 0);
  }
  if (i.opcode === 0xca) releaseStack(c, i.imm);
  c.nextRip = c.codeMode === 64 ? off : s === 2 ? off & 0xffff : off >>> 0;
}

// ---- software interrupts ----

/** INT Ib (CD), INT3 (CC), INTO (CE), INT1 (F1). */
export function int(c: Cpu, i: Insn): void {
  let v: number;
  switch (i.opcode) {
    case 0xcc: v = Vector.BP; break;
    case 0xce:
      if (c.codeMode === 64) throw new CpuFault(Vector.UD);
      if (!c.getOF()) return;
      v = Vector.OF;
      break;
    case 0xf1: v = Vector.DB; break;
    default: v = i.imm & 0xff; break;
  }
  c.interrupt(v, -1, i.opcode !== 0xf1, c.nextRip);
  c.nextRip = c.rip;
}

/** IRET/IRETD/IRETQ (CF) (SDM Vol. 2 IRET). */
export function iret(c: Cpu, i: Insn): void {
  const s = i.osize;
  c.breakLoop = true;
  c.nmiBlocked = false;
  if ((c.cr0 & CR0_PE) === 0) {
    const ip = c.pop(s), cs = c.pop(s) & 0xffff, fl = c.pop(s);
    c.loadCodeSegment(cs, 0);
    c.nextRip = s === 2 ? ip & 0xffff : ip >>> 0;
    c.writeFlags(fl, s === 2 ? 0xffff : 0x3f7fd5);
    return;
  }
  if ((c.flags & NT) !== 0 && (c.efer & EFER_LMA) === 0) throw new UnimplementedError('IRET with NT=1 (task return) is not supported');
  let rip = c.pop(s);
  if (s === 8) rip = (c.th | 0) * TWO32 + rip;
  const cs = c.pop(s) & 0xffff;
  const fl = c.pop(s);
  const rpl = cs & 3;
  if (rpl < c.cpl) throw new CpuFault(Vector.GP, cs & 0xfffc);
  if ((fl & VM) !== 0 && c.cpl === 0 && c.codeMode !== 64) throw new UnimplementedError('IRET to virtual-8086 mode is not supported');
  const oldCpl = c.cpl;
  if (c.codeMode === 64 || rpl > oldCpl) {
    let sp = c.pop(s);
    if (s === 8) sp = (c.th | 0) * TWO32 + sp;
    const ss = c.pop(s) & 0xffff;
    c.loadCodeSegment(cs, rpl);
    // Flags are written with the old CPL's permissions (SDM IRET: "tempEFLAGS").
    const newCpl = c.cpl;
    c.cpl = oldCpl;
    c.writeFlags(fl, s === 2 ? 0xffff : 0x3f7fd5);
    c.cpl = newCpl;
    if ((ss & 0xfffc) === 0 && (c.efer & EFER_LMA) !== 0 && c.codeMode === 64 && rpl !== 3) {
      c.segSel[SS] = ss; c.segAttr[SS] = 0x93 | (rpl << 5); c.segBase[SS] = 0;
    } else c.loadSegment(SS, ss);
    if (c.codeMode === 64 || s === 8) c.setReg64(4, sp);
    else if (c.stackSize === 4) c.lo[4] = sp;
    else c.lo[4] = (c.lo[4] & ~0xffff) | (sp & 0xffff);
    c.updateMode();
  } else {
    c.loadCodeSegment(cs, rpl);
    c.writeFlags(fl, s === 2 ? 0xffff : 0x3f7fd5);
  }
  c.nextRip = c.codeMode === 64 ? rip : s === 2 ? rip & 0xffff : rip >>> 0;
}

// ---- fast system calls (SDM Vol. 2 SYSCALL/SYSRET, SYSENTER/SYSEXIT) ----

/** SYSCALL (0F 05). */
export function syscall(c: Cpu, _i: Insn): void {
  if ((c.efer & EFER_SCE) === 0) throw new CpuFault(Vector.UD);
  const star = c.msr.star;
  const sel = Number((star >> 32n) & 0xffffn);
  c.materializeFlags();
  const long = (c.efer & EFER_LMA) !== 0;
  if (long) {
    c.setReg64(1, c.nextRip);
    c.lo[11] = c.flags & ~RF; c.hi[11] = 0;
    const target = c.codeMode === 64 ? c.msr.lstar : c.msr.cstar;
    c.flags = (c.flags & ~c.msr.sfmask & ~RF) | 2;
    setFlat(c, CS, sel & 0xfffc, 0xa9b);
    setFlat(c, SS, (sel + 8) & 0xfffc, 0xc93);
    c.cpl = 0;
    c.updateMode();
    c.nextRip = target;
  } else {
    c.writeReg(4, 1, c.nextRip >>> 0);
    c.flags &= ~(VM | IF | RF);
    setFlat(c, CS, sel & 0xfffc, 0xc9b);
    setFlat(c, SS, (sel + 8) & 0xfffc, 0xc93);
    c.cpl = 0;
    c.updateMode();
    c.nextRip = Number(star & 0xffff_ffffn);
  }
  c.breakLoop = true;
}

function setFlat(c: Cpu, seg: number, sel: number, attrs: number): void {
  c.segSel[seg] = sel;
  c.segBase[seg] = 0;
  c.segLimit[seg] = 0xffff_ffff;
  c.segAttr[seg] = attrs;
}

/** SYSRET (0F 07): to 64-bit code with REX.W, else to compatibility mode. */
export function sysret(c: Cpu, i: Insn): void {
  if ((c.efer & EFER_SCE) === 0) throw new CpuFault(Vector.UD);
  if (c.cpl !== 0 || (c.cr0 & CR0_PE) === 0) throw new CpuFault(Vector.GP, 0);
  const sel = Number((c.msr.star >> 48n) & 0xffffn);
  const long = (c.efer & EFER_LMA) !== 0;
  if (long) {
    const fl = c.lo[11];
    c.fOp = 0;
    c.flags = ((fl & 0x3c7fd7) | 2) & ~(RF | VM);
    if (i.osize === 8) {
      const rip = c.reg64(1);
      if (rip >= 140737488355328 || rip < -140737488355328) throw new CpuFault(Vector.GP, 0);
      setFlat(c, CS, ((sel + 16) & 0xfffc) | 3, 0xafb);
      c.nextRip = rip;
    } else {
      setFlat(c, CS, (sel & 0xfffc) | 3, 0xcfb);
      c.nextRip = c.lo[1] >>> 0;
    }
  } else {
    c.flags |= IF;
    setFlat(c, CS, (sel & 0xfffc) | 3, 0xcfb);
    c.nextRip = c.lo[1] >>> 0;
  }
  // SS keeps its flat cache; only the selector and DPL change (SDM SYSRET Operation).
  c.segSel[SS] = ((sel + 8) & 0xfffc) | 3;
  c.segAttr[SS] = 0xcf3;
  c.segBase[SS] = 0; c.segLimit[SS] = 0xffff_ffff;
  c.cpl = 3;
  c.updateMode();
}

/** SYSENTER (0F 34). */
export function sysenter(c: Cpu, _i: Insn): void {
  const cs = Number(c.getMsr(0x174) & 0xffffn);
  if ((c.cr0 & CR0_PE) === 0 || (cs & 0xfffc) === 0) throw new CpuFault(Vector.GP, 0);
  const long = (c.efer & EFER_LMA) !== 0;
  c.materializeFlags();
  c.flags &= ~(VM | IF | RF);
  setFlat(c, CS, cs & 0xfffc, long ? 0xa9b : 0xc9b);
  setFlat(c, SS, (cs + 8) & 0xfffc, 0xc93);
  c.cpl = 0;
  c.updateMode();
  const esp = Number(BigInt.asIntN(64, c.getMsr(0x175)));
  const eip = Number(BigInt.asIntN(64, c.getMsr(0x176)));
  if (long) { c.setReg64(4, esp); c.nextRip = eip; }
  else { c.writeReg(4, 4, esp >>> 0); c.nextRip = eip >>> 0; }
}

/** SYSEXIT (0F 35). */
export function sysexit(c: Cpu, i: Insn): void {
  const cs = Number(c.getMsr(0x174) & 0xffffn);
  if ((c.cr0 & CR0_PE) === 0 || c.cpl !== 0 || (cs & 0xfffc) === 0) throw new CpuFault(Vector.GP, 0);
  if (i.osize === 8) {
    setFlat(c, CS, ((cs + 32) & 0xfffc) | 3, 0xafb);
    setFlat(c, SS, ((cs + 40) & 0xfffc) | 3, 0xcf3);
    c.nextRip = c.reg64(2);
    c.setReg64(4, c.reg64(1));
  } else {
    setFlat(c, CS, ((cs + 16) & 0xfffc) | 3, 0xcfb);
    setFlat(c, SS, ((cs + 24) & 0xfffc) | 3, 0xcf3);
    c.nextRip = c.lo[2] >>> 0;
    c.writeReg(4, 4, c.lo[1] >>> 0);
  }
  c.cpl = 3;
  c.updateMode();
}

/** The IOPL check of CLI/STI and I/O instructions. */
export function iopl(c: Cpu): number {
  return (c.flags & IOPL) >> 12;
}

export { OF };
