// String instructions with REP/REPE/REPNE (Intel SDM Vol. 2 MOVS/CMPS/STOS/LODS/SCAS/
// INS/OUTS, Vol. 1 §7.3.9): rSI/rDI/rCX of the address size, DF for the direction, the
// source segment overridable and ES fixed for the destination.
// A REP loop runs to completion inside one instruction unless it is long: then it stops
// after a slice of iterations with RIP left on the instruction, so interrupts and the
// budget are honoured (as the architecture allows: interrupted string operations resume).
// Fast path: forward REP MOVSB/MOVSD/STOSB/STOSD... run by pages through the TLB.

import type { Cpu } from './cpu.js';
import { CpuFault, Vector } from './fault.js';
import { DF } from './flags.js';
import { alu, alu64 } from './exec-alu.js';
import type { Insn } from './insn.js';
import { ES } from './state.js';
import { checkIo } from './exec-system.js';

const SLICE = 65536;

function getIdx(c: Cpu, r: number, asize: number): number {
  if (asize === 8) return c.reg64(r);
  if (asize === 4) return c.lo[r] >>> 0;
  return c.lo[r] & 0xffff;
}

function setIdx(c: Cpu, r: number, asize: number, v: number): void {
  if (asize === 8) c.setReg64(r, v);
  else if (asize === 4) { c.lo[r] = v; c.hi[r] = 0; }
  else c.lo[r] = (c.lo[r] & ~0xffff) | (v & 0xffff);
}

function wrap(asize: number, v: number): number {
  if (asize === 8) return v;
  if (asize === 4) return v >>> 0;
  return v & 0xffff;
}

/** Runs `body` once, or rCX times under REP; body returns false to stop (REPE/REPNE). */
function repeat(c: Cpu, i: Insn, body: () => boolean): void {
  if (i.rep === 0) { body(); return; }
  const a = i.asize;
  let count = getIdx(c, 1, a);
  let n = 0;
  while (count !== 0) {
    const go = body();
    count = wrap(a, count - 1);
    setIdx(c, 1, a, count);
    if (!go) return;
    if (++n >= SLICE && count !== 0) {
      // Resume later: re-execute this instruction (RIP unchanged).
      c.nextRip = c.rip;
      c.breakLoop = true;
      return;
    }
  }
}

function srcAddr(c: Cpu, i: Insn): number {
  return c.segAddr(i.seg, getIdx(c, 6, i.asize));
}

function dstAddr(c: Cpu, i: Insn): number {
  return c.segAddr(ES, getIdx(c, 7, i.asize));
}

function step(c: Cpu, i: Insn, r: number, s: number): void {
  const d = (c.flags & DF) !== 0 ? -s : s;
  setIdx(c, r, i.asize, wrap(i.asize, getIdx(c, r, i.asize) + d));
}

/** MOVS (A4/A5). */
export function movs(c: Cpu, i: Insn): void {
  const s = i.osize;
  if (i.rep !== 0 && (c.flags & DF) === 0 && fastMovs(c, i)) return;
  repeat(c, i, () => {
    const v = c.readMem(s, srcAddr(c, i)), vh = c.th;
    c.writeMem(s, dstAddr(c, i), v, vh);
    step(c, i, 6, s); step(c, i, 7, s);
    return true;
  });
}

/** Forward REP MOVS between RAM pages: copies whole page runs with copyWithin. */
function fastMovs(c: Cpu, i: Insn): boolean {
  const s = i.osize, a = i.asize;
  let count = getIdx(c, 1, a);
  let budget = SLICE * 4;
  while (count !== 0) {
    const src = srcAddr(c, i), dst = dstAddr(c, i);
    const sOff = src & 0xfff, dOff = dst & 0xfff;
    // Elements fully inside both current pages.
    let n = Math.min(count, Math.floor((4096 - sOff) / s), Math.floor((4096 - dOff) / s));
    if (n === 0) return slowOne(c, i);
    const sp = c.hostRead(src), dp = c.hostWrite(dst);
    if (sp < 0 || dp < 0) return slowOne(c, i);
    const bytes = n * s;
    if (dp > sp && dp < sp + bytes) {
      // Overlap with the destination ahead: element-by-element forward semantics.
      if (s !== 1) return slowOne(c, i);
      for (let k = 0; k < bytes; k++) c.ram[dp + k] = c.ram[sp + k];
    } else c.ram.copyWithin(dp, sp, sp + bytes);
    c.noteRamWrite(dp, bytes);
    setIdx(c, 6, a, wrap(a, getIdx(c, 6, a) + bytes));
    setIdx(c, 7, a, wrap(a, getIdx(c, 7, a) + bytes));
    count = wrap(a, count - n);
    setIdx(c, 1, a, count);
    budget -= n;
    if (budget <= 0 && count !== 0) { c.nextRip = c.rip; c.breakLoop = true; return true; }
    n = 0;
  }
  return true;
}

/** Falls back for one element then lets the instruction re-run (page-crossing or MMIO). */
function slowOne(c: Cpu, i: Insn): boolean {
  const s = i.osize;
  const v = c.readMem(s, srcAddr(c, i)), vh = c.th;
  c.writeMem(s, dstAddr(c, i), v, vh);
  step(c, i, 6, s); step(c, i, 7, s);
  const a = i.asize;
  const count = wrap(a, getIdx(c, 1, a) - 1);
  setIdx(c, 1, a, count);
  if (count !== 0) c.nextRip = c.rip;
  return true;
}

/** STOS (AA/AB). */
export function stos(c: Cpu, i: Insn): void {
  const s = i.osize;
  const v = c.readReg(s, 0), vh = c.th;
  if (i.rep !== 0 && (c.flags & DF) === 0 && fastStos(c, i, v, vh)) return;
  repeat(c, i, () => {
    c.writeMem(s, dstAddr(c, i), v, vh);
    step(c, i, 7, s);
    return true;
  });
}

function fastStos(c: Cpu, i: Insn, v: number, vh: number): boolean {
  const s = i.osize, a = i.asize;
  let count = getIdx(c, 1, a);
  let budget = SLICE * 4;
  while (count !== 0) {
    const dst = dstAddr(c, i);
    const n = Math.min(count, Math.floor((4096 - (dst & 0xfff)) / s));
    const dp = n === 0 ? -1 : c.hostWrite(dst);
    if (dp < 0) {
      c.writeMem(s, dst, v, vh);
      step(c, i, 7, s);
      count = wrap(a, count - 1);
      setIdx(c, 1, a, count);
      if (count !== 0) c.nextRip = c.rip;
      return true;
    }
    if (s === 1) c.ram.fill(v & 0xff, dp, dp + n);
    else if (s === 8 && v === 0 && vh === 0) c.ram.fill(0, dp, dp + n * 8);
    else for (let k = 0; k < n; k++) {
      if (s === 2) c.ramView.setUint16(dp + k * 2, v, true);
      else if (s === 4) c.ramView.setInt32(dp + k * 4, v, true);
      else { c.ramView.setInt32(dp + k * 8, v, true); c.ramView.setInt32(dp + k * 8 + 4, vh, true); }
    }
    c.noteRamWrite(dp, n * s);
    setIdx(c, 7, a, wrap(a, getIdx(c, 7, a) + n * s));
    count = wrap(a, count - n);
    setIdx(c, 1, a, count);
    budget -= n;
    if (budget <= 0 && count !== 0) { c.nextRip = c.rip; c.breakLoop = true; return true; }
  }
  return true;
}

/** LODS (AC/AD). */
export function lods(c: Cpu, i: Insn): void {
  const s = i.osize;
  repeat(c, i, () => {
    const v = c.readMem(s, srcAddr(c, i));
    c.writeReg(s, 0, v, c.th);
    step(c, i, 6, s);
    return true;
  });
}

/** CMPS (A6/A7): compares [rSI] with [rDI]; REPE/REPNE stop on ZF. */
export function cmps(c: Cpu, i: Insn): void {
  const s = i.osize;
  repeat(c, i, () => {
    const a = c.readMem(s, srcAddr(c, i)), ah = c.th;
    const b = c.readMem(s, dstAddr(c, i)), bh = c.th;
    if (s === 8) alu64(c, 7, a, ah, b, bh); else alu(c, 7, s, a, b);
    step(c, i, 6, s); step(c, i, 7, s);
    return i.rep === 1 ? c.getZF() : !c.getZF();
  });
}

/** SCAS (AE/AF): compares the accumulator with [rDI]. */
export function scas(c: Cpu, i: Insn): void {
  const s = i.osize;
  const a = c.readReg(s, 0), ah = c.th;
  repeat(c, i, () => {
    const b = c.readMem(s, dstAddr(c, i)), bh = c.th;
    if (s === 8) alu64(c, 7, a, ah, b, bh); else alu(c, 7, s, a, b);
    step(c, i, 7, s);
    return i.rep === 1 ? c.getZF() : !c.getZF();
  });
}

/** INS (6C/6D): port rDX to ES:[rDI]. */
export function ins(c: Cpu, i: Insn): void {
  const s = i.osize === 8 ? 4 : i.osize;
  const port = c.lo[2] & 0xffff;
  checkIo(c, port, s);
  if (s === 8) throw new CpuFault(Vector.UD);
  repeat(c, i, () => {
    const dst = dstAddr(c, i);
    c.probeWrite(dst);
    c.writeMem(s, dst, c.bus.pioRead(port, s as 1 | 2 | 4));
    step(c, i, 7, s);
    return true;
  });
  c.deviceAccess();
}

/** OUTS (6E/6F): DS:[rSI] (overridable) to port rDX. */
export function outs(c: Cpu, i: Insn): void {
  const s = i.osize === 8 ? 4 : i.osize;
  const port = c.lo[2] & 0xffff;
  checkIo(c, port, s);
  repeat(c, i, () => {
    c.bus.pioWrite(port, s as 1 | 2 | 4, c.readMem(s, srcAddr(c, i)));
    step(c, i, 6, s);
    return true;
  });
  c.deviceAccess();
}
