// System instructions (Intel SDM Vol. 2, Vol. 3A Chapters 2-5): IN/OUT with the IOPL
// and TSS I/O-bitmap checks, CLI/STI (STI's one-instruction shadow), HLT, MOV to/from
// CR0/CR2/CR3/CR4/CR8 and DR0-DR7, CLTS, LMSW/SMSW, LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR,
// LAR/LSL/VERR/VERW, INVLPG, WBINVD/INVD, RDMSR/WRMSR, RDTSC/RDTSCP, RDPMC (#GP),
// CPUID, SWAPGS, UD2, the fences and CLFLUSH (no-ops on this coherent memory).

import type { Cpu } from './cpu.js';
import { cpuid } from './cpuid.js';
import { CpuFault, Vector } from './fault.js';
import { IF, IOPL, VM } from './flags.js';
import type { Insn } from './insn.js';
import {
  CR0_PE, CR0_PG, CR0_TS, CR4_PAE, CR4_PGE, CR4_PSE, CR4_TSD, EFER_LMA, EFER_LME, LDTR, SS, TR,
} from './state.js';

const TWO32 = 4294967296;

function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) throw new CpuFault(Vector.GP, 0);
}

// ---- I/O (SDM Vol. 1 §19.5) ----

/** #GP unless CPL <= IOPL or the TSS I/O permission bitmap allows every port touched. */
export function checkIo(c: Cpu, port: number, size: number): void {
  if ((c.cr0 & CR0_PE) === 0) return;
  if (c.cpl <= (c.flags & IOPL) >> 12 && (c.flags & VM) === 0) return;
  const tss = c.segBase[TR], limit = c.segLimit[TR];
  if (limit < 0x67) throw new CpuFault(Vector.GP, 0);
  const mapBase = c.sysRead16(tss + 0x66);
  const byteOff = mapBase + (port >> 3);
  if (byteOff + 1 > limit) throw new CpuFault(Vector.GP, 0);
  const bits = c.sysRead16(tss + byteOff);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) throw new CpuFault(Vector.GP, 0);
}

/** IN AL/eAX, Ib|DX (E4, E5, EC, ED). */
export function inPort(c: Cpu, i: Insn): void {
  const s = i.osize === 8 ? 4 : i.osize;
  const port = i.opcode === 0xe4 || i.opcode === 0xe5 ? i.imm & 0xff : c.lo[2] & 0xffff;
  checkIo(c, port, s);
  const v = c.bus.pioRead(port, s as 1 | 2 | 4);
  c.writeReg(s, 0, s === 4 ? v >>> 0 : v);
  c.breakLoop = true;
}

/** OUT Ib|DX, AL/eAX (E6, E7, EE, EF). */
export function outPort(c: Cpu, i: Insn): void {
  const s = i.osize === 8 ? 4 : i.osize;
  const port = i.opcode === 0xe6 || i.opcode === 0xe7 ? i.imm & 0xff : c.lo[2] & 0xffff;
  checkIo(c, port, s);
  c.bus.pioWrite(port, s as 1 | 2 | 4, c.readReg(s, 0));
  c.deviceAccess();
}

// ---- interrupt flag and halt ----

/** CLI (FA). */
export function cli(c: Cpu, _i: Insn): void {
  if ((c.cr0 & CR0_PE) !== 0 && c.cpl > (c.flags & IOPL) >> 12) throw new CpuFault(Vector.GP, 0);
  c.flags &= ~IF;
}

/** STI (FB): interrupts stay blocked until after the next instruction. */
export function sti(c: Cpu, _i: Insn): void {
  if ((c.cr0 & CR0_PE) !== 0 && c.cpl > (c.flags & IOPL) >> 12) throw new CpuFault(Vector.GP, 0);
  if ((c.flags & IF) === 0) {
    c.flags |= IF;
    c.shadow = true;
  }
  c.breakLoop = true;
}

/** HLT (F4). */
export function hlt(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  c.halted = true;
  c.breakLoop = true;
}

// ---- control and debug registers (SDM Vol. 3A §2.5, §9.8.5) ----

/** Applies a CR0 value with the mode-switch side effects. */
export function writeCr0(c: Cpu, v: number): void {
  v = (v | 0x10) >>> 0; // ET is hardwired to 1
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) throw new CpuFault(Vector.GP, 0);
  const old = c.cr0;
  if ((v & CR0_PG) !== 0 && (old & CR0_PG) === 0 && (c.efer & EFER_LME) !== 0) {
    if ((c.cr4 & CR4_PAE) === 0) throw new CpuFault(Vector.GP, 0);
    c.efer |= EFER_LMA;
  } else if ((v & CR0_PG) === 0 && (old & CR0_PG) !== 0) {
    c.efer &= ~EFER_LMA;
  }
  c.cr0 = v;
  if (((old ^ v) & (CR0_PG | CR0_PE | 0x10000)) !== 0) {
    c.flushTlb();
  }
  c.updateMode();
}

/** MOV Rd, CRn (0F 20). */
export function movFromCr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const cr = (i.modrm >> 3) & 7 | (i.reg & 8);
  let v: number;
  switch (cr) {
    case 0: v = c.cr0; break;
    case 2: v = c.cr2; break;
    case 3: v = c.cr3; break;
    case 4: v = c.cr4; break;
    case 8: v = c.cr8; break;
    default: throw new CpuFault(Vector.UD);
  }
  const rm = i.rm;
  if (c.codeMode === 64) c.setReg64(rm, v < 0 ? v : v);
  else c.writeReg(4, rm, v >>> 0);
}

/** MOV CRn, Rd (0F 22). */
export function movToCr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const cr = (i.modrm >> 3) & 7 | (i.reg & 8);
  const rm = i.rm;
  const lo = c.lo[rm] >>> 0, hi = c.codeMode === 64 ? c.hi[rm] >>> 0 : 0;
  switch (cr) {
    case 0:
      if (hi !== 0) throw new CpuFault(Vector.GP, 0);
      writeCr0(c, lo);
      break;
    case 2: c.cr2 = c.codeMode === 64 ? c.reg64(rm) : lo; break;
    case 3:
      // PCID is not advertised: bit 63 (no-flush) is reserved and bits 0-11 are flags.
      c.cr3 = (hi & 0xfffff) * TWO32 + lo;
      c.flushTlb((c.cr4 & CR4_PGE) !== 0);
      break;
    case 4: {
      const allowed = CR4_PSE | CR4_PAE | CR4_PGE | CR4_TSD | 0x8 | 0x100 | 0x200 | 0x400 | 0x40;
      if (hi !== 0 || (lo & ~allowed) !== 0) throw new CpuFault(Vector.GP, 0);
      if ((c.efer & EFER_LMA) !== 0 && (lo & CR4_PAE) === 0) throw new CpuFault(Vector.GP, 0);
      const old = c.cr4;
      c.cr4 = lo;
      if (((old ^ lo) & (CR4_PSE | CR4_PAE | CR4_PGE)) !== 0) c.flushTlb();
      break;
    }
    case 8: c.cr8 = lo & 0xf; break;
    default: throw new CpuFault(Vector.UD);
  }
  c.breakLoop = true;
}

/** MOV Rd, DRn / MOV DRn, Rd (0F 21/23): kept as storage; breakpoints do not fire. */
export function movDr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const dr = (i.modrm >> 3) & 7;
  const n = dr === 4 ? 6 : dr === 5 ? 7 : dr;
  if (i.opcode === 0x0f21) {
    const v = c.dr[n];
    if (c.codeMode === 64) c.setReg64(i.rm, v); else c.writeReg(4, i.rm, v >>> 0);
  } else {
    let v = c.codeMode === 64 ? c.reg64(i.rm) : c.lo[i.rm] >>> 0;
    if (n === 6) v = (v & 0xf00f) | 0xffff0ff0;
    if (n === 7) v = (v & 0xffff2bff) | 0x400;
    c.dr[n] = v;
  }
}

/** CLTS (0F 06). */
export function clts(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  c.cr0 &= ~CR0_TS;
}

// ---- descriptor tables (0F 00 and 0F 01 groups) ----

/** SGDT/SIDT (0F 01 /0 /1). */
export function sdt(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  const ea = c.ea(i);
  const idt = ((i.modrm >> 3) & 7) === 1;
  const base = idt ? c.idtBase : c.gdtBase, limit = idt ? c.idtLimit : c.gdtLimit;
  c.write16(ea, limit);
  if (c.codeMode === 64) c.write64(ea + 2, base % TWO32 | 0, Math.floor(base / TWO32) | 0);
  else c.write32(ea + 2, base >>> 0);
}

/** LGDT/LIDT (0F 01 /2 /3). */
export function ldt(c: Cpu, i: Insn): void {
  if (i.rm >= 0) throw new CpuFault(Vector.UD);
  requireCpl0(c);
  const ea = c.ea(i);
  const limit = c.read16(ea);
  let base: number;
  if (c.codeMode === 64) { const lo = c.read64(ea + 2); base = (c.th | 0) * TWO32 + lo; }
  else { base = c.read32(ea + 2); if (i.osize === 2) base &= 0xffffff; }
  if (((i.modrm >> 3) & 7) === 3) { c.idtBase = base; c.idtLimit = limit; }
  else { c.gdtBase = base; c.gdtLimit = limit; }
}

/** SMSW (0F 01 /4). */
export function smsw(c: Cpu, i: Insn): void {
  if (i.rm >= 0) c.writeReg(i.osize, i.rm, i.osize === 2 ? c.cr0 & 0xffff : c.cr0 >>> 0, 0);
  else c.write16(c.ea(i), c.cr0 & 0xffff);
}

/** LMSW (0F 01 /6): can set PE but not clear it. */
export function lmsw(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const v = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  writeCr0(c, (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0_PE));
}

/** INVLPG (0F 01 /7, memory form). */
export function invlpg(c: Cpu, i: Insn): void {
  requireCpl0(c);
  c.flushTlbPage(c.ea(i));
}

/** 0F 01 register forms: SWAPGS (F8), RDTSCP (F9); others #UD. */
export function group7Reg(c: Cpu, i: Insn): void {
  switch (i.modrm) {
    case 0xf8:
      if (c.codeMode !== 64) throw new CpuFault(Vector.UD);
      requireCpl0(c);
      c.msr.swapgs();
      return;
    case 0xf9:
      rdtsc(c, i);
      c.writeReg(4, 1, c.msr.tscAux >>> 0);
      return;
    default:
      throw new CpuFault(Vector.UD);
  }
}

/** SLDT/STR (0F 00 /0 /1). */
export function storeSystemSelector(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) throw new CpuFault(Vector.UD);
  const v = c.segSel[((i.modrm >> 3) & 7) === 0 ? LDTR : TR];
  if (i.rm >= 0) c.writeReg(i.osize === 2 ? 2 : 4, i.rm, v);
  else c.write16(c.ea(i), v);
}

/** LLDT/LTR (0F 00 /2 /3). */
export function loadSystemSelector(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) throw new CpuFault(Vector.UD);
  requireCpl0(c);
  const sel = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  c.loadSystemSegment(((i.modrm >> 3) & 7) === 2 ? LDTR : TR, sel);
}

/** Reads a descriptor for LAR/LSL/VERR/VERW, or undefined when not accessible (ZF=0). */
function probeDescriptor(c: Cpu, sel: number): [number, number] | undefined {
  if ((sel & 0xfffc) === 0) return undefined;
  const ldt = (sel & 4) !== 0;
  const limit = ldt ? c.segLimit[LDTR] : c.gdtLimit;
  if ((sel & 0xfff8) + 7 > limit) return undefined;
  const [lo, hi] = c.readDescriptor(sel);
  const attr = (hi >>> 8) & 0xff;
  const dpl = (attr >> 5) & 3;
  const conformingCode = (attr & 0x1c) === 0x1c;
  if (!conformingCode && (dpl < c.cpl || dpl < (sel & 3))) return undefined;
  return [lo, hi];
}

function setZF(c: Cpu, on: boolean): void {
  c.materializeFlags();
  if (on) c.flags |= 0x40; else c.flags &= ~0x40;
}

/** LAR Gv,Ew (0F 02) and LSL Gv,Ew (0F 03). */
export function larLsl(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) throw new CpuFault(Vector.UD);
  const sel = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  const d = probeDescriptor(c, sel);
  if (d) {
    const type = (d[1] >>> 8) & 0x1f;
    // System types valid for LAR/LSL: TSS and LDT (and, for LAR, call gates).
    const okSys = [1, 2, 3, 9, 11].includes(type) || (i.opcode === 0x0f02 && type === 12);
    if ((type & 0x10) === 0 && !okSys) { setZF(c, false); return; }
  }
  if (!d) { setZF(c, false); return; }
  if (i.opcode === 0x0f02) {
    c.writeReg(i.osize, i.reg, (d[1] & 0x00f0ff00) >>> 0, 0);
  } else {
    let limit = (d[0] & 0xffff) | (d[1] & 0xf0000);
    if ((d[1] & 0x80_0000) !== 0) limit = limit * 4096 + 0xfff;
    c.writeReg(i.osize, i.reg, limit >>> 0, 0);
  }
  setZF(c, true);
}

/** VERR/VERW (0F 00 /4 /5). */
export function verrVerw(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) throw new CpuFault(Vector.UD);
  const sel = i.rm >= 0 ? c.lo[i.rm] & 0xffff : c.read16(c.ea(i));
  const d = probeDescriptor(c, sel);
  if (!d || ((d[1] >>> 8) & 0x10) === 0) { setZF(c, false); return; }
  const type = (d[1] >>> 8) & 0xf;
  const write = ((i.modrm >> 3) & 7) === 5;
  const code = (type & 8) !== 0;
  setZF(c, write ? !code && (type & 2) !== 0 : !code || (type & 2) !== 0);
}

// ---- MSRs, TSC, CPUID ----

/** RDMSR (0F 32). */
export function rdmsr(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  const v = c.msr.read(c.lo[1] >>> 0);
  if (v === undefined) throw new CpuFault(Vector.GP, 0);
  c.writeReg(4, 0, Number(v & 0xffff_ffffn));
  c.writeReg(4, 2, Number(v >> 32n));
}

/** WRMSR (0F 30). */
export function wrmsr(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  const v = (BigInt(c.lo[2] >>> 0) << 32n) | BigInt(c.lo[0] >>> 0);
  if (!c.msr.write(c.lo[1] >>> 0, v)) throw new CpuFault(Vector.GP, 0);
  c.breakLoop = true;
}

/** RDTSC (0F 31): CR4.TSD makes it privileged. */
export function rdtsc(c: Cpu, _i: Insn): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl !== 0 && (c.cr0 & CR0_PE) !== 0) throw new CpuFault(Vector.GP, 0);
  const t = c.msr.tsc();
  c.writeReg(4, 0, Number(t & 0xffff_ffffn));
  c.writeReg(4, 2, Number(t >> 32n));
}

/** RDPMC (0F 33): no performance counters. */
export function rdpmc(_c: Cpu, _i: Insn): void {
  throw new CpuFault(Vector.GP, 0);
}

/** CPUID (0F A2). */
export function cpuidInsn(c: Cpu, _i: Insn): void {
  const [a, b, cx, d] = cpuid(c.lo[0] >>> 0, c.lo[1] >>> 0, c.index);
  c.writeReg(4, 0, a >>> 0); c.writeReg(4, 3, b >>> 0); c.writeReg(4, 1, cx >>> 0); c.writeReg(4, 2, d >>> 0);
}

/** WBINVD/INVD (0F 09/08): caches are coherent here; privileged. */
export function wbinvd(c: Cpu, _i: Insn): void {
  requireCpl0(c);
}

/** FWAIT (9B): #NM when CR0.TS and CR0.MP are both set (SDM Vol. 3A §2.5 Table 2-2). */
export function fwait(c: Cpu, _i: Insn): void {
  if ((c.cr0 & (CR0_TS | 2)) === (CR0_TS | 2)) throw new CpuFault(Vector.NM);
}

/** UD2 (0F 0B) and the reserved opcodes that must raise #UD. */
export function ud(_c: Cpu, _i: Insn): void {
  throw new CpuFault(Vector.UD);
}

/** Long-mode consistency check used by tests: EFER.LMA mirrors CR0.PG && EFER.LME. */
export function longModeActive(c: Cpu): boolean {
  return (c.efer & EFER_LMA) !== 0;
}

export { SS };
