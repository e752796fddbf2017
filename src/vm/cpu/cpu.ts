// The software x86-64 CPU: the run loop (fetch a cached decode, execute, retire),
// operand access, stacks, mode tracking, segment loading, interrupt and exception
// delivery (Intel SDM Vol. 3A Chapter 6: real-mode IVT, 32-bit and 64-bit IDT gates,
// IST, privilege-level stack switch through the TSS, double fault, triple fault) and
// the Vcpu API the machine drives. Instruction semantics live in exec-*.ts, the decoder
// in decoder.ts, memory translation in mmu.ts.
// Not modelled: task switches (task gates, far jumps to TSS), call gates, virtual-8086
// mode, SMM, VMX, debug-register breakpoints and single-step traps (TF is kept but does
// not trap), alignment checks (#AC).

import type { IoBus } from '../bus.js';
import type { VirtualClock } from '../clock.js';
import type { InterruptAcceptor } from '../irq.js';
import type { GuestMemory } from '../memory.js';
import type { RegisterDump, SegmentDump, Vcpu, VcpuExit } from '../vcpu.js';
import { decode } from './decoder.js';
import { CpuFault, isContributory, pushesErrorCode, UnimplementedError, Vector } from './fault.js';
import { AC, ARITH_FLAGS, F_ADD, F_DEC, F_INC, F_LOGIC, F_NONE, F_SUB, IF, IOPL, NT, RF, TF, VM } from './flags.js';
import { alu64, shift64 } from './exec-alu.js';
import {
  FAST_ADD32, FAST_ALU64, FAST_AND32, FAST_CALL64, FAST_CMP32, FAST_DEC32, FAST_DEC64, FAST_INC32, FAST_INC64,
  FAST_JCC32, FAST_JCC64, FAST_JMP32, FAST_JMP64, FAST_LOAD32, FAST_LOAD64, FAST_MOV_RI32, FAST_MOV_RI64,
  FAST_MOV_RR32, FAST_MOV_RR64, FAST_NONE, FAST_NOP, FAST_OR32, FAST_POP64, FAST_PUSH64, FAST_RET64, FAST_STORE32,
  FAST_STORE64, FAST_SUB32, FAST_TEST32, FAST_TEST64, FAST_XOR32, FAST_LEA64, FAST_MOVZX8, EA_BASE_DISP64,
  FAST_SHIFT64, FAST_MOVSXD, FAST_MOVZX_RR, FAST_SETCC_R, FAST_CMOV64, FAST_CMOV32, FAST_LEA64_SIB, FAST_TEST8,
} from './fast-path.js';
import { BASE_RIP, type Insn } from './insn.js';
import { Mmu } from './mmu.js';
import { MsrFile } from './msr.js';
import {
  ATTR_DB, ATTR_L, ATTR_P, CR0_PE, CR0_PG, CR4_PAE, CS, DS, EFER_LMA, EFER_LME, ES, FS, GS, LDTR, SS, TR,
} from './state.js';
import { X87 } from './x87.js';

export interface CpuOptions {
  index?: number;
  mem: GuestMemory;
  bus: IoBus;
  clock: VirtualClock;
  interrupts?: InterruptAcceptor;
}

const TWO32 = 4294967296;
const TWO64 = 18446744073709551616;
const CHUNK = 4096;

export class Cpu extends Mmu implements Vcpu {
  readonly index: number;
  readonly clock: VirtualClock;
  interrupts: InterruptAcceptor | undefined;
  readonly msr: MsrFile;
  readonly fpu = new X87();

  /** Next RIP: set from the decode length before a handler runs; branches overwrite it. */
  nextRip = 0;
  /** Scratch: the effective linear address of the current memory operand. */
  curEa = 0;
  retired = 0;
  halted = false;
  /** STI / MOV SS interrupt shadow: blocks interrupts until after the next instruction. */
  shadow = false;
  nmiPending = false;
  nmiBlocked = false;
  private kicked = false;
  /** INIT received and waiting for a SIPI (application processors). */
  waitForSipi = false;
  private exitRequest: VcpuExit | undefined;
  /** The last execChunk ended in an exception (no single-step trap for it). */
  private faulted = false;

  constructor(opts: CpuOptions) {
    super(opts.mem, opts.bus);
    this.index = opts.index ?? 0;
    this.clock = opts.clock;
    this.interrupts = opts.interrupts;
    this.msr = new MsrFile(this);
    this.reset();
  }

  get instructionsRetired(): number {
    return this.retired;
  }

  // ---- power-on state (SDM Vol. 3A §9.1.1, Table 9-1) ----

  reset(): void {
    this.lo.fill(0); this.hi.fill(0);
    this.lo[2] = 0x600; // EDX: family/model/stepping signature
    this.rip = 0xfff0;
    this.flags = 2; this.fOp = F_NONE;
    for (let s = 0; s < 8; s++) {
      this.segSel[s] = 0; this.segBase[s] = 0; this.segLimit[s] = 0xffff; this.segAttr[s] = 0x93;
    }
    this.segSel[CS] = 0xf000; this.segBase[CS] = 0xffff_0000; this.segAttr[CS] = 0x9b;
    this.segAttr[LDTR] = 0x82; this.segAttr[TR] = 0x8b;
    this.gdtBase = 0; this.gdtLimit = 0xffff; this.idtBase = 0; this.idtLimit = 0xffff;
    this.cr0 = 0x6000_0010; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0; this.cr8 = 0; this.efer = 0;
    this.dr.fill(0); this.dr[6] = 0xffff0ff0; this.dr[7] = 0x400;
    this.xmm.fill(0); this.mxcsr = 0x1f80;
    this.fpu.reset();
    this.msr.reset();
    this.halted = false; this.shadow = false; this.nmiPending = false; this.nmiBlocked = false;
    this.waitForSipi = false;
    this.updateMode();
    this.flushTlb();
  }

  // ---- mode bookkeeping ----

  /** Recomputes CPL-, CS- and SS-derived state after a change to CR0/EFER/CS/SS. */
  updateMode(): void {
    const lma = (this.efer & EFER_LMA) !== 0;
    const attr = this.segAttr[CS];
    let mode: number;
    if ((this.cr0 & CR0_PE) === 0) mode = (attr & ATTR_DB) !== 0 ? 32 : 16;
    else if (lma && (attr & ATTR_L) !== 0) mode = 64;
    else mode = (attr & ATTR_DB) !== 0 ? 32 : 16;
    this.codeMode = mode;
    this.stackSize = mode === 64 ? 8 : (this.segAttr[SS] & ATTR_DB) !== 0 ? 4 : 2;
    if ((this.cr0 & CR0_PE) === 0) this.cpl = 0;
    const priv = this.cpl === 3 ? 1024 : 0;
    if (priv !== this.tlbPriv) this.tlbPriv = priv;
    this.codeVpn = NaN;
    this.breakLoop = true;
  }

  // ---- operands ----

  /** Effective linear address of the memory operand (SDM Vol. 1 §3.7.5, Vol. 3A §3.4). */
  ea(i: Insn): number {
    const asize = i.asize;
    if (asize === 8) {
      let off = i.disp;
      const b = i.base;
      if (b >= 0) off += b === BASE_RIP ? this.nextRip : this.hi[b] * TWO32 + (this.lo[b] >>> 0);
      if (i.index >= 0) off += (this.hi[i.index] * TWO32 + (this.lo[i.index] >>> 0)) * (1 << i.scale);
      if (i.seg >= FS) off += this.segBase[i.seg];
      if (off >= 9223372036854775808) off -= TWO64;
      else if (off < -9223372036854775808) off += TWO64;
      return off;
    }
    let off = i.disp;
    if (asize === 4) {
      if (i.base >= 0) off += i.base === BASE_RIP ? this.nextRip : this.lo[i.base];
      if (i.index >= 0) off += this.lo[i.index] << i.scale;
      off >>>= 0;
    } else {
      if (i.base >= 0) off += this.lo[i.base] & 0xffff;
      if (i.index >= 0) off += this.lo[i.index] & 0xffff;
      off &= 0xffff;
    }
    if (this.codeMode === 64) return i.seg >= FS ? off + this.segBase[i.seg] : off;
    return (off + this.segBase[i.seg]) >>> 0;
  }

  /** Linear address of seg:offset for string and stack accesses outside 64-bit mode. */
  segAddr(seg: number, off: number): number {
    if (this.codeMode === 64) return seg >= FS ? off + this.segBase[seg] : off;
    return (off + this.segBase[seg]) >>> 0;
  }

  /** Reads the E operand at the instruction's operand size (64-bit: high half in `th`). */
  rdE(i: Insn): number {
    if (i.rm >= 0) return this.readReg(i.osize, i.rm);
    const ea = this.ea(i);
    this.curEa = ea;
    return this.readMem(i.osize, ea);
  }

  /** Writes the E operand after rdE (same effective address). */
  wrE(i: Insn, v: number, vh = 0): void {
    if (i.rm >= 0) this.writeReg(i.osize, i.rm, v, vh);
    else this.writeMem(i.osize, this.curEa, v, vh);
  }

  rdEs(i: Insn, size: number): number {
    if (i.rm >= 0) return this.readReg(size, i.rm);
    const ea = this.ea(i);
    this.curEa = ea;
    return this.readMem(size, ea);
  }

  wrEs(i: Insn, size: number, v: number, vh = 0): void {
    if (i.rm >= 0) this.writeReg(size, i.rm, v, vh);
    else this.writeMem(size, this.curEa, v, vh);
  }

  // ---- stack (SDM Vol. 1 §6.2) ----

  private spLinear(off: number): number {
    return this.codeMode === 64 ? off : (off + this.segBase[SS]) >>> 0;
  }

  push(size: number, v: number, vh = 0): void {
    const ss = this.stackSize;
    if (ss === 8) {
      const sp = this.hi[4] * TWO32 + (this.lo[4] >>> 0) - size;
      this.writeMem(size, sp, v, vh);
      this.setReg64(4, sp);
    } else if (ss === 4) {
      const sp = ((this.lo[4] >>> 0) - size) >>> 0;
      this.writeMem(size, (sp + this.segBase[SS]) >>> 0, v, vh);
      this.lo[4] = sp;
    } else {
      const sp = (this.lo[4] - size) & 0xffff;
      this.writeMem(size, (sp + this.segBase[SS]) >>> 0, v, vh);
      this.lo[4] = (this.lo[4] & ~0xffff) | sp;
    }
  }

  pop(size: number): number {
    const ss = this.stackSize;
    if (ss === 8) {
      const sp = this.hi[4] * TWO32 + (this.lo[4] >>> 0);
      const v = this.readMem(size, sp);
      this.setReg64(4, sp + size);
      return v;
    }
    if (ss === 4) {
      const sp = this.lo[4] >>> 0;
      const v = this.readMem(size, (sp + this.segBase[SS]) >>> 0);
      this.lo[4] = sp + size;
      return v;
    }
    const sp = this.lo[4] & 0xffff;
    const v = this.readMem(size, (sp + this.segBase[SS]) >>> 0);
    this.lo[4] = (this.lo[4] & ~0xffff) | ((sp + size) & 0xffff);
    return v;
  }

  /** Reads the stack at SP + off without popping. */
  peek(size: number, off: number): number {
    const ss = this.stackSize;
    if (ss === 8) return this.readMem(size, this.hi[4] * TWO32 + (this.lo[4] >>> 0) + off);
    if (ss === 4) return this.readMem(size, (((this.lo[4] >>> 0) + off) + this.segBase[SS]) >>> 0);
    return this.readMem(size, (((this.lo[4] + off) & 0xffff) + this.segBase[SS]) >>> 0);
  }

  /** Sets the next RIP of a near branch, truncated to the operand size. */
  branch(target: number, osize: number): void {
    if (this.codeMode === 64 && osize !== 2) {
      if (target >= 9223372036854775808) target -= TWO64;
      this.nextRip = target;
    } else this.nextRip = osize === 2 ? target & 0xffff : target >>> 0;
  }

  // ---- RFLAGS writes (POPF/IRET semantics, SDM Vol. 2 POPF) ----

  /** Writes RFLAGS bits allowed at the current privilege; `mask` limits to the operand size. */
  writeFlags(v: number, mask = 0x3f7fd5): void {
    let allowed = ARITH_FLAGS | TF | 0x400 | NT | AC | 0x200000;
    if (this.cpl === 0) allowed |= IOPL | IF;
    else if (this.cpl <= ((this.flags & IOPL) >> 12)) allowed |= IF;
    allowed &= mask;
    this.materializeFlags();
    const old = this.flags;
    this.flags = ((old & ~allowed) | (v & allowed) | 2) & ~(RF | VM);
    // IF and TF changes are acted on by run() between chunks.
    if (((this.flags ^ old) & (IF | TF)) !== 0) this.breakLoop = true;
  }

  // ---- segments (SDM Vol. 3A §3.4, §5.2-5.8) ----

  /** Reads the 8-byte descriptor for `sel` from the GDT or LDT; #GP(sel) beyond the limit. */
  readDescriptor(sel: number, vector: number = Vector.GP): [number, number, number] {
    const ldt = (sel & 4) !== 0;
    const base = ldt ? this.segBase[LDTR] : this.gdtBase;
    const limit = ldt ? this.segLimit[LDTR] : this.gdtLimit;
    const off = sel & 0xfff8;
    if (off + 7 > limit) throw new CpuFault(vector, sel & 0xfffc);
    const addr = base + off;
    return [this.sysRead32(addr), this.sysRead32(addr + 4), addr];
  }

  /** Fills a segment cache from descriptor dwords. */
  loadCache(seg: number, sel: number, dlo: number, dhi: number): void {
    let limit = (dlo & 0xffff) | (dhi & 0xf0000);
    if ((dhi & 0x80_0000) !== 0) limit = limit * 4096 + 0xfff;
    this.segSel[seg] = sel;
    this.segBase[seg] = ((dlo >>> 16) | ((dhi & 0xff) << 16) | (dhi & 0xff00_0000)) >>> 0;
    this.segLimit[seg] = limit;
    this.segAttr[seg] = ((dhi >>> 8) & 0xff) | (((dhi >>> 20) & 0xf) << 8);
  }

  /** MOV/POP to a data or stack segment register, with the protected-mode checks Linux relies on. */
  loadSegment(seg: number, sel: number): void {
    sel &= 0xffff;
    if ((this.cr0 & CR0_PE) === 0 || (this.flags & VM) !== 0) {
      this.segSel[seg] = sel;
      this.segBase[seg] = sel * 16;
      if (seg === CS) this.updateMode();
      return;
    }
    if ((sel & 0xfffc) === 0) {
      if (seg === SS && (this.codeMode !== 64 || this.cpl === 3)) throw new CpuFault(Vector.GP, 0);
      this.segSel[seg] = sel;
      if (seg !== FS && seg !== GS) this.segBase[seg] = 0;
      this.segAttr[seg] = seg === SS ? (this.segAttr[SS] & ~0xff) | 0x93 : 0;
      if (seg === SS) this.updateMode();
      return;
    }
    const [dlo, dhi] = this.readDescriptor(sel);
    const attr = (dhi >>> 8) & 0xff;
    if ((attr & 0x10) === 0) throw new CpuFault(Vector.GP, sel & 0xfffc); // system descriptor
    if (seg === SS) {
      // Writable data segment with RPL = DPL = CPL (SDM Vol. 3A §5.7).
      if ((attr & 0x0a) !== 0x02 || (sel & 3) !== this.cpl || ((attr >> 5) & 3) !== this.cpl) {
        throw new CpuFault(Vector.GP, sel & 0xfffc);
      }
      if ((attr & 0x80) === 0) throw new CpuFault(Vector.SS, sel & 0xfffc);
    } else {
      if ((attr & 0x0a) === 0x08) throw new CpuFault(Vector.GP, sel & 0xfffc); // execute-only code
      if ((attr & 0x80) === 0) throw new CpuFault(Vector.NP, sel & 0xfffc);
    }
    this.loadCache(seg, sel, dlo, dhi);
    if (seg === SS) this.updateMode();
  }

  /** Loads CS for a far transfer to a code segment at privilege `cpl`. */
  loadCodeSegment(sel: number, newCpl: number): void {
    if ((this.cr0 & CR0_PE) === 0 || (this.flags & VM) !== 0) {
      this.segSel[CS] = sel & 0xffff;
      this.segBase[CS] = (sel & 0xffff) * 16;
      this.updateMode();
      return;
    }
    if ((sel & 0xfffc) === 0) throw new CpuFault(Vector.GP, 0);
    const [dlo, dhi] = this.readDescriptor(sel);
    const attr = (dhi >>> 8) & 0xff;
    if ((attr & 0x18) !== 0x18) {
      throw new UnimplementedError(`far transfer through a system descriptor (type 0x${(attr & 0x1f).toString(16)}, selector 0x${sel.toString(16)}): call gates and task switches are not supported`);
    }
    if ((attr & 0x80) === 0) throw new CpuFault(Vector.NP, sel & 0xfffc);
    this.loadCache(CS, (sel & 0xfffc) | newCpl, dlo, dhi);
    this.cpl = newCpl;
    this.updateMode();
  }

  /** LTR/LLDT-style system descriptor load (16-byte descriptors in long mode). */
  loadSystemSegment(seg: number, sel: number): void {
    if ((sel & 0xfffc) === 0) {
      if (seg === TR) throw new CpuFault(Vector.GP, 0);
      this.segSel[seg] = sel; this.segBase[seg] = 0; this.segLimit[seg] = 0; this.segAttr[seg] = 0;
      return;
    }
    if ((sel & 4) !== 0) throw new CpuFault(Vector.GP, sel & 0xfffc);
    const [dlo, dhi, addr] = this.readDescriptor(sel);
    const type = (dhi >>> 8) & 0x1f;
    if (seg === TR ? type !== 0x09 && type !== 0x01 : type !== 0x02) throw new CpuFault(Vector.GP, sel & 0xfffc);
    if ((dhi & 0x8000) === 0) throw new CpuFault(Vector.NP, sel & 0xfffc);
    this.loadCache(seg, sel, dlo, dhi);
    if ((this.efer & EFER_LMA) !== 0) this.segBase[seg] += (this.sysRead32(addr + 8) | 0) * TWO32;
    if (seg === TR) {
      // Mark the TSS busy in the descriptor (SDM Vol. 3A §7.2.4).
      const pa = this.translate(addr + 4, 0, false);
      this.physWrite(pa, 4, (dhi | 0x200) >>> 0);
      this.segAttr[TR] |= 2;
    }
  }

  // ---- interrupts and exceptions (SDM Vol. 3A Chapter 6) ----

  /**
   * Delivers vector `v` through the IVT/IDT. `soft` for INT n/INT3/INTO (gate DPL is
   * checked), `returnRip` is the RIP pushed, `err` the error code or -1.
   */
  interrupt(v: number, err: number, soft: boolean, returnRip: number): void {
    this.materializeFlags();
    if ((this.cr0 & CR0_PE) === 0) {
      this.realModeInterrupt(v, returnRip);
      return;
    }
    const long = (this.efer & EFER_LMA) !== 0;
    const gsize = long ? 16 : 8;
    const ext = soft ? 0 : 1;
    if (v * gsize + gsize - 1 > this.idtLimit) throw new CpuFault(Vector.GP, v * 8 + 2 + ext);
    const gaddr = this.idtBase + v * gsize;
    const g0 = this.sysRead32(gaddr), g1 = this.sysRead32(gaddr + 4);
    const type = (g1 >>> 8) & 0x1f;
    const gdpl = (g1 >>> 13) & 3;
    if (soft && gdpl < this.cpl) throw new CpuFault(Vector.GP, v * 8 + 2);
    if ((g1 & 0x8000) === 0) throw new CpuFault(Vector.NP, v * 8 + 2 + ext);
    if (type === 0x05) throw new UnimplementedError(`task gate in IDT vector ${v}: task switches are not supported`);
    const is32 = (type & 8) !== 0;
    if ((type & 7) !== 6 && (type & 7) !== 7) throw new CpuFault(Vector.GP, v * 8 + 2 + ext);
    const trapGate = (type & 1) !== 0;
    const sel = g0 >>> 16;
    let offset = ((g0 & 0xffff) | (g1 & 0xffff_0000)) >>> 0;
    if (!is32) offset &= 0xffff;
    if (long) {
      // Bits 63:32 of the offset, signed so that the sum is the canonical signed value.
      offset += (this.sysRead32(gaddr + 8) | 0) * TWO32;
    }
    if ((sel & 0xfffc) === 0) throw new CpuFault(Vector.GP, ext);
    const [dlo, dhi] = this.readDescriptor(sel);
    const dattr = (dhi >>> 8) & 0xff;
    if ((dattr & 0x18) !== 0x18) throw new CpuFault(Vector.GP, (sel & 0xfffc) + ext);
    if ((dattr & 0x80) === 0) throw new CpuFault(Vector.NP, (sel & 0xfffc) + ext);
    const conforming = (dattr & 4) !== 0;
    const newCpl = conforming ? this.cpl : (dattr >> 5) & 3;
    const oldFlags = this.getRflags();
    const oldCs = this.segSel[CS], oldSs = this.segSel[SS];
    const oldRsp = this.reg64(4);
    const oldCpl = this.cpl;
    if (long) {
      let rsp = oldRsp;
      const ist = g1 & 7;
      const tss = this.segBase[TR];
      if (newCpl < oldCpl || ist !== 0) {
        const off = ist !== 0 ? 0x24 + 8 * (ist - 1) : 4 + 8 * newCpl;
        rsp = (this.sysRead32(tss + off) >>> 0) + (this.sysRead32(tss + off + 4) | 0) * TWO32;
      }
      rsp -= ((rsp % 16) + 16) % 16; // align to 16 (SDM Vol. 3A §6.14.2)
      this.cpl = newCpl;
      this.tlbPriv = newCpl === 3 ? 1024 : 0;
      const frame = [oldSs, oldRsp, oldFlags, oldCs, returnRip];
      if (err >= 0) frame.push(err);
      // Write the whole frame before changing any register so a fault leaves state intact.
      try {
        for (let k = 0; k < frame.length; k++) {
          rsp -= 8;
          const val = frame[k];
          this.write64(rsp, val % TWO32 | 0, Math.floor(val / TWO32) | 0);
        }
      } catch (e) {
        this.cpl = oldCpl;
        this.tlbPriv = oldCpl === 3 ? 1024 : 0;
        throw e;
      }
      this.setReg64(4, rsp);
      if (newCpl !== oldCpl) {
        this.segSel[SS] = newCpl;
        this.segBase[SS] = 0; this.segLimit[SS] = 0xffffffff; this.segAttr[SS] = 0x93 | (newCpl << 5);
      }
      this.loadCache(CS, (sel & 0xfffc) | newCpl, dlo, dhi);
      this.rip = offset;
    } else {
      let esp = oldRsp >>> 0;
      let ssBase = this.segBase[SS];
      let newSsSel = oldSs, ssDlo = 0, ssDhi = 0;
      const priv = newCpl < oldCpl;
      if (priv) {
        const tss = this.segBase[TR];
        esp = this.sysRead32(tss + 4 + 8 * newCpl) >>> 0;
        newSsSel = this.sysRead16(tss + 8 + 8 * newCpl);
        [ssDlo, ssDhi] = this.readDescriptor(newSsSel, Vector.TS);
        ssBase = ((ssDlo >>> 16) | ((ssDhi & 0xff) << 16) | (ssDhi & 0xff00_0000)) >>> 0;
      }
      const w = is32 ? 4 : 2;
      const frame: number[] = priv ? [oldSs, oldRsp >>> 0, oldFlags, oldCs, returnRip >>> 0] : [oldFlags, oldCs, returnRip >>> 0];
      if (err >= 0) frame.push(err);
      this.cpl = newCpl;
      this.tlbPriv = newCpl === 3 ? 1024 : 0;
      const big = priv ? (ssDhi & 0x40_0000) !== 0 : this.stackSize === 4;
      try {
        for (const val of frame) {
          esp = big ? (esp - w) >>> 0 : (esp - w) & 0xffff;
          this.writeMem(w, (ssBase + esp) >>> 0, val);
        }
      } catch (e) {
        this.cpl = oldCpl;
        this.tlbPriv = oldCpl === 3 ? 1024 : 0;
        throw e;
      }
      if (priv) this.loadCache(SS, newSsSel, ssDlo, ssDhi);
      if (big) this.lo[4] = esp; else this.lo[4] = (this.lo[4] & ~0xffff) | esp;
      this.loadCache(CS, (sel & 0xfffc) | newCpl, dlo, dhi);
      this.rip = offset;
    }
    this.flags &= ~(TF | NT | RF | VM);
    if (!trapGate) this.flags &= ~IF;
    this.updateMode();
  }

  private realModeInterrupt(v: number, returnRip: number): void {
    if (v * 4 + 3 > this.idtLimit) throw new CpuFault(Vector.GP, 0);
    const ip = this.read16((this.idtBase + v * 4) >>> 0);
    const cs = this.read16((this.idtBase + v * 4 + 2) >>> 0);
    this.push(2, this.getRflags() & 0xffff);
    this.push(2, this.segSel[CS]);
    this.push(2, returnRip & 0xffff);
    this.segSel[CS] = cs; this.segBase[CS] = cs * 16;
    this.rip = ip;
    this.flags &= ~(IF | TF | AC);
    this.updateMode();
  }

  /** Delivers an exception, escalating to #DF and triple fault (SDM Vol. 3A Table 6-5). */
  private deliverException(f: CpuFault): VcpuExit | undefined {
    let vector = f.vector, err = pushesErrorCode(vector) ? Math.max(f.errorCode, 0) : -1;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        this.interrupt(vector, err, false, this.rip);
        return undefined;
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        if (vector === Vector.DF) break;
        const benign = !isContributory(vector) && vector !== Vector.PF;
        if (benign || (vector === Vector.PF && e.vector !== Vector.PF && !isContributory(e.vector))) {
          vector = e.vector; err = pushesErrorCode(vector) ? Math.max(e.errorCode, 0) : -1;
        } else {
          vector = Vector.DF; err = 0;
        }
      }
    }
    this.halted = true;
    return { kind: 'triple-fault', regs: this.getRegisters() };
  }

  // ---- the run loop ----

  kick(): void {
    this.kicked = true;
    this.breakLoop = true;
  }

  raiseNmi(): void {
    this.nmiPending = true;
    this.breakLoop = true;
  }

  /** Ends the current run() with `exit` after the current instruction (HLT, reset requests). */
  requestExit(exit: VcpuExit): void {
    this.exitRequest = exit;
    this.breakLoop = true;
  }

  run(budget: number): VcpuExit {
    let left = budget;
    this.kicked = false;
    while (left > 0) {
      if (this.exitRequest) { const e = this.exitRequest; this.exitRequest = undefined; return e; }
      if (this.kicked) { this.kicked = false; return { kind: 'budget' }; }
      // Events at the instruction boundary (SDM Vol. 3A §6.9 priorities: NMI before INTR).
      if (this.nmiPending && !this.nmiBlocked && !this.shadow) {
        this.nmiPending = false;
        this.nmiBlocked = true;
        this.halted = false;
        const e = this.eventInterrupt(Vector.NMI);
        if (e) return e;
      } else if (!this.shadow && (this.flags & IF) !== 0 && this.interrupts?.hasInterrupt()) {
        const v = this.interrupts.acknowledgeInterrupt();
        if (v >= 0) {
          this.halted = false;
          const e = this.eventInterrupt(v);
          if (e) return e;
        }
      }
      if (this.halted || this.waitForSipi) return { kind: 'hlt' };
      // TF: one instruction at a time, with a single-step #DB trap after each
      // (SDM Vol. 3A §17.3.1.4); TF is sampled before the instruction runs.
      const tf = (this.flags & TF) !== 0;
      const chunk = this.shadow || tf ? 1 : left < CHUNK ? left : CHUNK;
      this.shadow = false;
      const before = this.retired;
      this.faulted = false;
      const exit = this.execChunk(chunk);
      left -= this.retired - before;
      if (exit) return exit;
      if (tf && !this.faulted && !this.halted) {
        this.dr[6] = this.dr[6] | 0x4000; // DR6.BS
        try {
          this.interrupt(Vector.DB, -1, false, this.rip);
        } catch (e) {
          if (!(e instanceof CpuFault)) throw e;
          const ex = this.deliverException(e);
          if (ex) return ex;
        }
      }
      if (this.halted) {
        if (this.exitRequest) { const e = this.exitRequest; this.exitRequest = undefined; return e; }
        return { kind: 'hlt' };
      }
    }
    return { kind: 'budget' };
  }

  private eventInterrupt(v: number): VcpuExit | undefined {
    try {
      this.interrupt(v, -1, false, this.rip);
      return undefined;
    } catch (e) {
      if (e instanceof CpuFault) return this.deliverException(e);
      return this.errorExit(e);
    }
  }

  private errorExit(e: unknown): VcpuExit {
    if (e instanceof UnimplementedError || e instanceof RangeError || e instanceof Error) {
      const bytes: string[] = [];
      for (let n = 0; n < 15; n++) {
        try {
          bytes.push(this.fetch8(this.codeMode === 64 ? this.rip + n : (this.segBase[CS] + this.rip + n) >>> 0).toString(16).padStart(2, '0'));
        } catch {
          break;
        }
      }
      const where = `rip=0x${(this.rip < 0 ? this.rip + TWO64 : this.rip).toString(16)} (cs=0x${this.segSel[CS].toString(16)}, ${this.codeMode}-bit)`;
      return { kind: 'error', message: `${e.message} at ${where}, bytes ${bytes.join(' ')}`, regs: this.getRegisters() };
    }
    throw e;
  }

  /** Executes up to `n` instructions; returns an exit for triple faults and errors. */
  private execChunk(n: number): VcpuExit | undefined {
    this.breakLoop = false;
    const lo = this.lo, hi = this.hi;
    let done = 0;
    // Mode, CS base and the current code page are held in locals: whatever changes them
    // (mode switches, TLB flushes, decode invalidation) also sets breakLoop.
    const mode64 = this.codeMode === 64, csBase = this.segBase[CS];
    let page = this.codeInsns;
    let base = this.codeVpn * 4096; // NaN when no page is current
    try {
      while (done < n) {
        const rip = this.rip;
        const lin = mode64 ? rip : (csBase + rip) >>> 0;
        let off = lin - base;
        if (!(off >= 0 && off < 4096)) {
          const vpn = Math.floor(lin * (1 / 4096));
          this.enterCodePage(lin, vpn);
          page = this.codeInsns;
          base = this.codeVpn === vpn ? vpn * 4096 : NaN; // NaN: not cacheable (not RAM)
          off = lin - vpn * 4096;
        }
        off |= 0;
        let d = page[off];
        if (d === undefined) {
          d = decode(this, lin, this.codeMode);
          if (off + d.len <= 4096 && base === base) page[off] = d;
        }
        this.nextRip = rip + d.len;
        // Fast-path forms inline (fast-path.ts); everything else calls its handler.
        switch (d.fast) {
          case FAST_NONE: d.exec(this, d); break;
          case FAST_NOP: break;
          case FAST_MOV_RR32: lo[d.fd] = lo[d.fs]; hi[d.fd] = 0; break;
          case FAST_MOV_RR64: lo[d.fd] = lo[d.fs]; hi[d.fd] = hi[d.fs]; break;
          case FAST_MOV_RI32: lo[d.fd] = d.imm; hi[d.fd] = 0; break;
          case FAST_MOV_RI64: lo[d.fd] = d.imm; hi[d.fd] = d.imm2; break;
          case FAST_LOAD32: {
            const ea = d.eaFast === EA_BASE_DISP64 ? hi[d.base] * TWO32 + (lo[d.base] >>> 0) + d.disp : this.ea(d);
            lo[d.fd] = this.read32(ea); hi[d.fd] = 0;
            break;
          }
          case FAST_LOAD64: {
            const ea = d.eaFast === EA_BASE_DISP64 ? hi[d.base] * TWO32 + (lo[d.base] >>> 0) + d.disp : this.ea(d);
            lo[d.fd] = this.read64(ea); hi[d.fd] = this.th;
            break;
          }
          case FAST_STORE32: {
            const ea = d.eaFast === EA_BASE_DISP64 ? hi[d.base] * TWO32 + (lo[d.base] >>> 0) + d.disp : this.ea(d);
            this.write32(ea, lo[d.fd]);
            break;
          }
          case FAST_STORE64: {
            const ea = d.eaFast === EA_BASE_DISP64 ? hi[d.base] * TWO32 + (lo[d.base] >>> 0) + d.disp : this.ea(d);
            this.write64(ea, lo[d.fd], hi[d.fd]);
            break;
          }
          case FAST_LEA64: {
            // Exact 64-bit base + disp on halves (LEA is integer arithmetic).
            const l = (lo[d.base] >>> 0) + d.disp;
            const carry = l >= TWO32 ? 1 : l < 0 ? -1 : 0;
            lo[d.fd] = l; hi[d.fd] = hi[d.base] + carry;
            break;
          }
          case FAST_MOVZX8: lo[d.fd] = this.read8(this.ea(d)); hi[d.fd] = 0; break;
          case FAST_ADD32: {
            const a = lo[d.fd] >>> 0, b = d.fs < 0 ? d.imm >>> 0 : lo[d.fs] >>> 0;
            const r = (a + b) >>> 0;
            lo[d.fd] = r; hi[d.fd] = 0;
            this.fOp = F_ADD; this.fSize = 4; this.fA = a; this.fB = b; this.fR = r;
            break;
          }
          case FAST_SUB32: case FAST_CMP32: {
            const a = lo[d.fd] >>> 0, b = d.fs < 0 ? d.imm >>> 0 : lo[d.fs] >>> 0;
            const r = (a - b) >>> 0;
            if (d.fast === FAST_SUB32) { lo[d.fd] = r; hi[d.fd] = 0; }
            this.fOp = F_SUB; this.fSize = 4; this.fA = a; this.fB = b; this.fR = r;
            break;
          }
          case FAST_AND32: case FAST_OR32: case FAST_XOR32: case FAST_TEST32: {
            const a = lo[d.fd], b = d.fs < 0 ? d.imm : lo[d.fs];
            const f = d.fast;
            const r = (f === FAST_OR32 ? a | b : f === FAST_XOR32 ? a ^ b : a & b) >>> 0;
            if (f !== FAST_TEST32) { lo[d.fd] = r; hi[d.fd] = 0; }
            this.fOp = F_LOGIC; this.fSize = 4; this.fA = 0; this.fB = 0; this.fR = r;
            break;
          }
          case FAST_ALU64: {
            const b = d.fs < 0 ? d.imm >>> 0 : lo[d.fs] >>> 0;
            const bh = d.fs < 0 ? (d.imm < 0 ? 0xffff_ffff : 0) : hi[d.fs] >>> 0;
            const r = alu64(this, d.sub, lo[d.fd] >>> 0, hi[d.fd] >>> 0, b, bh);
            if (d.sub !== 7) { lo[d.fd] = r; hi[d.fd] = this.th; }
            break;
          }
          case FAST_TEST64: alu64(this, 4, lo[d.fd] >>> 0, hi[d.fd] >>> 0, lo[d.fs] >>> 0, hi[d.fs] >>> 0); break;
          case FAST_INC32: case FAST_DEC32: {
            const fo = this.fOp;
            const cin = fo === F_LOGIC ? 0 : fo === F_INC || fo === F_DEC ? this.fCin : this.getCF();
            const a = lo[d.fd] >>> 0;
            const r = (d.fast === FAST_INC32 ? a + 1 : a - 1) >>> 0;
            lo[d.fd] = r; hi[d.fd] = 0;
            this.fOp = d.fast === FAST_INC32 ? F_INC : F_DEC; this.fSize = 4; this.fCin = cin; this.fA = a; this.fB = 1; this.fR = r;
            break;
          }
          case FAST_INC64: case FAST_DEC64: {
            const cin = this.getCF();
            const a = lo[d.fd] >>> 0, ah = hi[d.fd] >>> 0;
            let r = d.fast === FAST_INC64 ? a + 1 : a - 1, rh = ah;
            if (r < 0) { r += TWO32; rh = (ah - 1) >>> 0; } else if (r >= TWO32) { r -= TWO32; rh = (ah + 1) >>> 0; }
            lo[d.fd] = r; hi[d.fd] = rh;
            this.fOp = d.fast === FAST_INC64 ? F_INC : F_DEC; this.fSize = 8; this.fCin = cin;
            this.fA = a; this.fAh = ah; this.fB = 1; this.fBh = 0; this.fR = r; this.fRh = rh;
            break;
          }
          case FAST_JCC64: if (this.cond(d.sub)) this.nextRip += d.imm; break;
          case FAST_JCC32: if (this.cond(d.sub)) this.nextRip = (this.nextRip + d.imm) >>> 0; break;
          case FAST_JMP64: this.nextRip += d.imm; break;
          case FAST_JMP32: this.nextRip = (this.nextRip + d.imm) >>> 0; break;
          case FAST_PUSH64: this.push(8, lo[d.reg], hi[d.reg]); break;
          case FAST_POP64: { const v = this.pop(8); lo[d.reg] = v; hi[d.reg] = this.th; break; }
          case FAST_CALL64: {
            const ret = this.nextRip;
            this.push(8, ret % TWO32 | 0, Math.floor(ret / TWO32) | 0);
            this.nextRip = ret + d.imm;
            break;
          }
          case FAST_RET64: { const v = this.pop(8); this.nextRip = (this.th | 0) * TWO32 + v; break; }
          case FAST_SHIFT64: shift64(this, d, d.imm & 0x3f, lo[d.fd] >>> 0, hi[d.fd] >>> 0); break;
          case FAST_MOVSXD: { const v = lo[d.fs]; lo[d.fd] = v; hi[d.fd] = v >> 31; break; }
          case FAST_MOVZX_RR: lo[d.fd] = lo[d.fs] & d.imm; hi[d.fd] = 0; break;
          case FAST_SETCC_R: lo[d.rm] = (lo[d.rm] & ~0xff) | (this.cond(d.sub) ? 1 : 0); break;
          case FAST_CMOV64: if (this.cond(d.sub)) { lo[d.fd] = lo[d.fs]; hi[d.fd] = hi[d.fs]; } break;
          case FAST_CMOV32: if (this.cond(d.sub)) lo[d.fd] = lo[d.fs]; hi[d.fd] = 0; break;
          case FAST_LEA64_SIB: {
            // The same exact 64-bit arithmetic on halves as the LEA handler (exec-move.ts).
            const x = lo[d.index] >>> 0, sc = d.scale;
            let l = d.disp + ((x << sc) >>> 0), h = sc === 0 ? hi[d.index] : (hi[d.index] << sc) | (x >>> (32 - sc));
            if (d.base >= 0) { l += lo[d.base] >>> 0; h += hi[d.base]; }
            const carry = Math.floor(l / TWO32);
            lo[d.fd] = l - carry * TWO32; hi[d.fd] = h + carry;
            break;
          }
          case FAST_TEST8: {
            this.fOp = F_LOGIC; this.fSize = 1; this.fA = 0; this.fB = 0; this.fR = lo[d.fd] & lo[d.fs] & 0xff;
            break;
          }
          default: d.exec(this, d); break;
        }
        this.rip = this.nextRip;
        done++;
        if (this.breakLoop) break;
      }
    } catch (e) {
      this.retired += done + 1;
      this.faulted = true;
      if (e instanceof CpuFault) return this.deliverException(e);
      return this.errorExit(e);
    }
    this.retired += done;
    return undefined;
  }

  // ---- SMP start-up (SDM Vol. 3A §9.4, §11.6.1) ----

  init(): void {
    const apicBase = this.msr.apicBase;
    this.reset();
    this.msr.apicBase = apicBase;
    if (this.index !== 0) this.waitForSipi = true;
  }

  startupIpi(vector: number): void {
    if (!this.waitForSipi) return;
    this.waitForSipi = false;
    this.halted = false;
    this.segSel[CS] = vector << 8;
    this.segBase[CS] = vector << 12;
    this.rip = 0;
    this.updateMode();
    this.breakLoop = true;
  }

  // ---- MSRs ----

  getMsr(index: number): bigint {
    const v = this.msr.read(index);
    if (v === undefined) throw new RangeError(`MSR 0x${index.toString(16)} is not implemented`);
    return v;
  }

  setMsr(index: number, value: bigint): void {
    if (!this.msr.write(index, value)) throw new RangeError(`MSR 0x${index.toString(16)} rejects 0x${value.toString(16)}`);
  }

  // ---- register dump and load (KVM_GET/SET_REGS + SREGS semantics) ----

  private segDump(s: number): SegmentDump {
    return { selector: this.segSel[s], base: BigInt.asUintN(64, BigInt(this.segBase[s])), limit: this.segLimit[s] >>> 0, attrs: this.segAttr[s] };
  }

  getRegisters(): RegisterDump {
    const u64 = (idx: number): bigint => (BigInt(this.hi[idx] >>> 0) << 32n) | BigInt(this.lo[idx] >>> 0);
    const big = (v: number): bigint => BigInt.asUintN(64, BigInt(Math.trunc(v)));
    return {
      rax: u64(0), rcx: u64(1), rdx: u64(2), rbx: u64(3), rsp: u64(4), rbp: u64(5), rsi: u64(6), rdi: u64(7),
      r8: u64(8), r9: u64(9), r10: u64(10), r11: u64(11), r12: u64(12), r13: u64(13), r14: u64(14), r15: u64(15),
      rip: big(this.rip),
      rflags: BigInt(this.getRflags()),
      es: this.segDump(ES), cs: this.segDump(CS), ss: this.segDump(SS), ds: this.segDump(DS), fs: this.segDump(FS), gs: this.segDump(GS),
      ldtr: this.segDump(LDTR), tr: this.segDump(TR),
      gdt: { base: big(this.gdtBase), limit: this.gdtLimit }, idt: { base: big(this.idtBase), limit: this.idtLimit },
      cr0: BigInt(this.cr0 >>> 0), cr2: big(this.cr2), cr3: big(this.cr3), cr4: BigInt(this.cr4 >>> 0), cr8: BigInt(this.cr8),
      efer: BigInt(this.efer),
    };
  }

  setRegisters(r: Partial<RegisterDump>): void {
    const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
    names.forEach((name, idx) => {
      const v = r[name];
      if (v === undefined) return;
      const u = BigInt.asUintN(64, v);
      this.lo[idx] = Number(u & 0xffff_ffffn) | 0;
      this.hi[idx] = Number(u >> 32n) | 0;
    });
    const signed = (v: bigint): number => Number(BigInt.asIntN(64, v));
    if (r.rflags !== undefined) {
      this.flags = (Number(r.rflags & 0xffff_ffffn) | 2) >>> 0;
      this.fOp = F_NONE;
    }
    const segs = [['es', ES], ['cs', CS], ['ss', SS], ['ds', DS], ['fs', FS], ['gs', GS], ['ldtr', LDTR], ['tr', TR]] as const;
    for (const [name, s] of segs) {
      const d = r[name];
      if (!d) continue;
      this.segSel[s] = d.selector;
      this.segBase[s] = s === FS || s === GS || s === TR || s === LDTR ? signed(d.base) : Number(BigInt.asUintN(32, d.base));
      this.segLimit[s] = d.limit >>> 0;
      this.segAttr[s] = d.attrs & 0xfff;
    }
    if (r.gdt) { this.gdtBase = signed(r.gdt.base); this.gdtLimit = r.gdt.limit; }
    if (r.idt) { this.idtBase = signed(r.idt.base); this.idtLimit = r.idt.limit; }
    if (r.cr0 !== undefined) this.cr0 = Number(r.cr0 & 0xffff_ffffn);
    if (r.cr2 !== undefined) this.cr2 = signed(r.cr2);
    if (r.cr3 !== undefined) this.cr3 = Number(r.cr3);
    if (r.cr4 !== undefined) this.cr4 = Number(r.cr4 & 0xffff_ffffn);
    if (r.cr8 !== undefined) this.cr8 = Number(r.cr8 & 0xfn);
    if (r.efer !== undefined) this.efer = Number(r.efer & 0xffffn);
    // EFER.LMA follows CR0.PG && EFER.LME (KVM derives it the same way when it is not given).
    if (r.efer !== undefined || r.cr0 !== undefined) {
      const lma = (this.cr0 & CR0_PG) !== 0 && (this.efer & EFER_LME) !== 0 && (this.cr4 & CR4_PAE) !== 0;
      this.efer = lma ? this.efer | EFER_LMA : this.efer & ~EFER_LMA;
    }
    // CPL is CS.DPL for the non-conforming code segments a loader sets up.
    if (r.cs || r.cr0 !== undefined) this.cpl = (this.cr0 & CR0_PE) === 0 ? 0 : (this.segAttr[CS] >> 5) & 3;
    if (r.rip !== undefined) this.rip = signed(r.rip);
    if (this.codeMode !== 64 && (this.segAttr[CS] & ATTR_P) === 0 && r.cs) this.segAttr[CS] |= ATTR_P;
    this.halted = false;
    this.updateMode();
    if (this.codeMode !== 64) this.rip = this.codeMode === 16 ? this.rip & 0xffff : this.rip >>> 0;
    this.flushTlb();
    this.flushCodeCache();
  }
}
