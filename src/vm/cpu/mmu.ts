// Linear-to-physical translation and guest memory access for the software CPU:
// the page walk (Intel SDM Vol. 3A §4.3 32-bit paging, §4.4 PAE, §4.5 4-level paging;
// 4K/2M/4M/1G pages, NX, A/D bits written back, CR0.WP, global pages), a software TLB in
// front of it, physical dispatch to RAM or the IoBus (MMIO), and the per-physical-page
// cache of decoded instructions with self-modifying-code detection.
//
// TLB: direct-mapped, separate read/write/execute tag arrays, split by privilege
// (CPL 3 entries are kept apart from CPL 0-2 entries, which lets a hit skip the U/S and
// R/W checks). Only pages of the first RAM region are cached (the PC's RAM below the PCI
// hole); RAM above 4 GiB and MMIO take the slow path on every access.
// Code pages never get write-TLB entries, so every write into a page with cached decodes
// takes the slow path, which drops the page's decodes. Writes that bypass the CPU (device
// DMA) are caught by comparing a snapshot of the page when it is entered again after an
// I/O or MMIO write (a doorbell starting DMA, or the EOI of its completion interrupt).
// Not modelled: segment limit checks outside real mode, PCID, protection keys, SMEP/SMAP,
// memory types (PAT/MTRR only read back as written), the A20 gate (always enabled).

import type { IoBus } from '../bus.js';
import type { GuestMemory } from '../memory.js';
import { CpuFault, PFEC_I, PFEC_P, PFEC_RSVD, PFEC_U, PFEC_W, Vector } from './fault.js';
import type { Insn } from './insn.js';
import { CpuState, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_NXE } from './state.js';

export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
const INV_PAGE = 1 / 4096;
const FILLED_MAX = 4 * TLB_SIZE;

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;

/** Decoded instructions of one physical page, for one code mode (16/32/64). */
export interface CodePage {
  mode: number;
  insns: (Insn | undefined)[];
  snapshot: Int32Array;
  /** ioEpoch at which the snapshot was last compared with RAM. */
  epoch: number;
}

export class Mmu extends CpuState {
  readonly ram: Uint8Array;
  readonly ramView: DataView;
  readonly ram32: Int32Array;
  readonly ramSize: number;

  // TLB: index = (vpn & TLB_MASK) + tlbPriv; tags are virtual page numbers (NaN = empty).
  protected readonly rTag = new Float64Array(2 * TLB_SIZE).fill(NaN);
  protected readonly wTag = new Float64Array(2 * TLB_SIZE).fill(NaN);
  protected readonly xTag = new Float64Array(2 * TLB_SIZE).fill(NaN);
  protected readonly rPhys = new Float64Array(2 * TLB_SIZE);
  protected readonly wPhys = new Float64Array(2 * TLB_SIZE);
  protected readonly xPhys = new Float64Array(2 * TLB_SIZE);
  private readonly global = new Uint8Array(6 * TLB_SIZE);
  private readonly filled = new Int32Array(FILLED_MAX);
  private filledCount = 0;
  tlbPriv = 0;

  // Walk results (set by translate()).
  private walkGlobal = false;

  // Decoded-instruction cache.
  protected readonly codeCache = new Map<number, CodePage>();
  protected readonly codePages: Uint8Array;
  /** The virtual page the run loop is executing in, and its decodes. */
  codeVpn = NaN;
  codeInsns: (Insn | undefined)[] = new Array(4096);
  /** Set when an access left the CPU (MMIO/PIO): the run loop re-checks interrupts. */
  breakLoop = false;
  /** Counts device writes (PIO/MMIO): code pages are re-verified after one. */
  ioEpoch = 0;

  constructor(readonly mem: GuestMemory, readonly bus: IoBus) {
    super();
    const r0 = mem.regions[0];
    if (r0 && r0.gpa === 0) {
      this.ram = r0.bytes;
    } else {
      this.ram = new Uint8Array(0);
    }
    this.ramSize = this.ram.length;
    this.ramView = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.ram32 = new Int32Array(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength >> 2);
    this.codePages = new Uint8Array(Math.ceil(this.ramSize / 4096));
  }

  // ---- TLB maintenance ----

  /** Drops translations: all, or all but global ones (CR3 write with CR4.PGE). */
  flushTlb(keepGlobal = false): void {
    if (this.filledCount >= FILLED_MAX) {
      this.rTag.fill(NaN); this.wTag.fill(NaN); this.xTag.fill(NaN);
      this.filledCount = 0;
    } else {
      let kept = 0;
      for (let n = 0; n < this.filledCount; n++) {
        const e = this.filled[n];
        if (keepGlobal && this.global[e]) { this.filled[kept++] = e; continue; }
        const k = e % (2 * TLB_SIZE);
        const arr = e < 2 * TLB_SIZE ? this.rTag : e < 4 * TLB_SIZE ? this.wTag : this.xTag;
        arr[k] = NaN;
      }
      this.filledCount = kept;
    }
    this.codeVpn = NaN;
    this.breakLoop = true; // the run loop caches the code page in locals
  }

  /** INVLPG: drops one page's translations (both privileges, global or not). */
  flushTlbPage(lin: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = vpn & TLB_MASK;
    for (const base of [0, TLB_SIZE]) {
      if (this.rTag[k + base] === vpn) this.rTag[k + base] = NaN;
      if (this.wTag[k + base] === vpn) this.wTag[k + base] = NaN;
      if (this.xTag[k + base] === vpn) this.xTag[k + base] = NaN;
    }
    this.codeVpn = NaN;
    this.breakLoop = true; // the run loop caches the code page in locals
  }

  private noteFilled(e: number, global: boolean): void {
    this.global[e] = global ? 1 : 0;
    if (this.filledCount < FILLED_MAX) this.filled[this.filledCount++] = e;
    else this.filledCount = FILLED_MAX; // overflow: the next flush clears everything
  }

  // ---- the page walk ----

  /**
   * Translates a linear address for an access at privilege `user`; throws #PF.
   * Sets accessed/dirty bits as the hardware does (SDM Vol. 3A §4.8).
   */
  translate(lin: number, access: number, user: boolean): number {
    if ((this.cr0 & CR0_PG) === 0) {
      this.walkGlobal = false;
      return lin >= 0 ? lin % 4294967296 : (lin % 4294967296) + 4294967296;
    }
    const nxe = (this.efer & EFER_NXE) !== 0;
    const wp = (this.cr0 & CR0_WP) !== 0;
    let writable = true, usr = true, nx = false;
    let pte = 0, pteHi = 0, pteAddr = 0, pageSize = 4096;
    if ((this.cr4 & CR4_PAE) !== 0) {
      const lma = (this.efer & EFER_LMA) !== 0;
      // 48-bit unsigned view of the (canonical) linear address.
      const u = lin < 0 ? lin + 281474976710656 : lin;
      let table = Math.floor(this.cr3 / 4096) * 4096;
      let levels: number[];
      if (lma) {
        levels = [Math.floor(u / 549755813888) & 511, Math.floor(u / 1073741824) & 511,
          Math.floor(u / 2097152) & 511, Math.floor(u / 4096) & 511];
      } else {
        const l32 = u % 4294967296;
        table = (this.cr3 >>> 0) & 0xffff_ffe0;
        levels = [-1, Math.floor(l32 / 1073741824) & 3, Math.floor(l32 / 2097152) & 511, Math.floor(l32 / 4096) & 511];
      }
      for (let lvl = lma ? 0 : 1; lvl < 4; lvl++) {
        pteAddr = table + levels[lvl] * 8;
        pte = this.physRead32(pteAddr) >>> 0;
        pteHi = this.physRead32(pteAddr + 4) >>> 0;
        if ((pte & 1) === 0) throw this.pageFault(lin, access, user, false, false);
        if (!lma && lvl === 1) {
          // PAE PDPTEs carry no R/W, U/S or NX bits (SDM Vol. 3A §4.4.1).
          table = (pteHi & 0xfffff) * 4294967296 + ((pte & 0xffff_f000) >>> 0);
          continue;
        }
        if ((pteHi & 0x8000_0000) !== 0) {
          if (!nxe) throw this.pageFault(lin, access, user, true, true);
          nx = true;
        }
        // Reserved bits: physical address bits 51:40 (MAXPHYADDR = 40), PS in a PML4E,
        // the low address bits of large-page frames (SDM Vol. 3A §4.5.4, Table 4-20).
        const psBit = (pte & 0x80) !== 0;
        if ((pteHi & 0x000f_ff00) !== 0 || (lma && lvl === 0 && psBit)
          || (psBit && lvl === 1 && (pte & 0x3fff_e000) !== 0) || (psBit && lvl === 2 && (pte & 0x001f_e000) !== 0)) {
          throw this.pageFault(lin, access, user, true, true);
        }
        if ((pte & 2) === 0) writable = false;
        if ((pte & 4) === 0) usr = false;
        if ((pte & 0x20) === 0) this.physWrite32(pteAddr, pte | 0x20);
        const ps = (pte & 0x80) !== 0;
        if (lvl === 3 || (ps && (lvl === 1 || lvl === 2))) {
          pageSize = lvl === 3 ? 4096 : lvl === 2 ? 2097152 : 1073741824;
          break;
        }
        table = (pteHi & 0xfffff) * 4294967296 + ((pte & 0xffff_f000) >>> 0);
      }
    } else {
      const l32 = lin >>> 0;
      pteAddr = ((this.cr3 >>> 0) & 0xffff_f000) + (l32 >>> 22) * 4;
      pte = this.physRead32(pteAddr) >>> 0;
      if ((pte & 1) === 0) throw this.pageFault(lin, access, user, false, false);
      if ((pte & 2) === 0) writable = false;
      if ((pte & 4) === 0) usr = false;
      if ((pte & 0x20) === 0) this.physWrite32(pteAddr, pte | 0x20);
      if ((pte & 0x80) !== 0 && (this.cr4 & CR4_PSE) !== 0) {
        pageSize = 4194304;
        // PSE-36: bits 13-16 of a 4M PDE are physical address bits 32-35.
        pteHi = (pte >>> 13) & 0xf;
        pte = pte & 0xffc0_1fff;
      } else {
        pteAddr = (pte & 0xffff_f000) + ((l32 >>> 12) & 1023) * 4;
        pte = this.physRead32(pteAddr) >>> 0;
        if ((pte & 1) === 0) throw this.pageFault(lin, access, user, false, false);
        if ((pte & 2) === 0) writable = false;
        if ((pte & 4) === 0) usr = false;
        if ((pte & 0x20) === 0) this.physWrite32(pteAddr, pte | 0x20);
      }
      pteHi = pageSize === 4194304 ? pteHi : 0;
    }
    if (user && !usr) throw this.pageFault(lin, access, user, true, false);
    if (access === ACCESS_WRITE && !writable && (user || wp)) throw this.pageFault(lin, access, user, true, false);
    if (access === ACCESS_EXEC && nx) throw this.pageFault(lin, access, user, true, false);
    if (access === ACCESS_WRITE && (pte & 0x40) === 0) {
      this.physWrite32(pteAddr, this.physRead32(pteAddr) | 0x60);
    }
    this.walkGlobal = (pte & 0x100) !== 0 && (this.cr4 & CR4_PGE) !== 0;
    const frame = (pteHi & 0xfffff) * 4294967296 + ((pte & 0xffff_f000) >>> 0);
    const base = frame - (frame % pageSize);
    // Offset within the page from the 48-bit view (exact; 2^64 + lin would round).
    const u = lin < 0 ? lin + 281474976710656 : lin;
    return base + (u % pageSize);
  }

  /** #PF with CR2 and the error code (SDM Vol. 3A §4.7). */
  private pageFault(lin: number, access: number, user: boolean, present: boolean, rsvd: boolean): CpuFault {
    this.cr2 = lin;
    let ec = present ? PFEC_P : 0;
    if (access === ACCESS_WRITE) ec |= PFEC_W;
    if (user) ec |= PFEC_U;
    if (rsvd) ec |= PFEC_RSVD | PFEC_P;
    if (access === ACCESS_EXEC && (this.efer & EFER_NXE) !== 0) ec |= PFEC_I;
    return new CpuFault(Vector.PF, ec);
  }

  /** Translation through the TLB, filling it for RAM pages; returns the physical address. */
  protected translateFill(lin: number, access: number): number {
    const user = this.cpl === 3;
    if ((this.efer & EFER_LMA) !== 0 && (lin >= 140737488355328 || lin < -140737488355328)) {
      throw new CpuFault(Vector.GP, 0); // non-canonical (SDM Vol. 1 §3.3.7.1)
    }
    const pa = this.translate(lin, access, user);
    const ppage = pa - (pa % 4096);
    if (ppage + 4096 <= this.ramSize) {
      const vpn = Math.floor(lin * INV_PAGE);
      const k = (vpn & TLB_MASK) + this.tlbPriv;
      if (access === ACCESS_READ) {
        this.rTag[k] = vpn; this.rPhys[k] = ppage; this.noteFilled(k, this.walkGlobal);
      } else if (access === ACCESS_WRITE) {
        if (this.codePages[ppage / 4096]) this.invalidateCodePage(ppage / 4096);
        this.wTag[k] = vpn; this.wPhys[k] = ppage; this.noteFilled(k + 2 * TLB_SIZE, this.walkGlobal);
        // A writable page is readable too.
        this.rTag[k] = vpn; this.rPhys[k] = ppage; this.noteFilled(k, this.walkGlobal);
      } else {
        this.xTag[k] = vpn; this.xPhys[k] = ppage; this.noteFilled(k + 4 * TLB_SIZE, this.walkGlobal);
      }
    }
    return pa;
  }

  // ---- physical access ----

  physRead32(pa: number): number {
    if (pa + 4 <= this.ramSize) return this.ramView.getInt32(pa, true);
    if (this.mem.isRam(pa, 4)) return this.mem.read32(pa) | 0;
    this.breakLoop = true;
    return this.bus.mmioRead(pa, 4) | 0;
  }

  physWrite32(pa: number, v: number): void {
    if (pa + 4 <= this.ramSize) {
      if (this.codePages[Math.floor(pa / 4096)]) this.invalidateCodePage(Math.floor(pa / 4096));
      this.ramView.setInt32(pa, v, true);
      return;
    }
    if (this.mem.isRam(pa, 4)) { this.mem.write32(pa, v >>> 0); return; }
    this.deviceAccess();
    this.bus.mmioWrite(pa, 4, v >>> 0);
  }

  physRead(pa: number, size: 1 | 2 | 4): number {
    if (pa + size <= this.ramSize) {
      if (size === 1) return this.ram[pa];
      if (size === 2) return this.ramView.getUint16(pa, true);
      return this.ramView.getUint32(pa, true);
    }
    if (this.mem.isRam(pa, size)) {
      return size === 1 ? this.mem.read8(pa) : size === 2 ? this.mem.read16(pa) : this.mem.read32(pa) >>> 0;
    }
    this.breakLoop = true;
    return this.bus.mmioRead(pa, size) >>> 0;
  }

  physWrite(pa: number, size: 1 | 2 | 4, v: number): void {
    if (pa + size <= this.ramSize) {
      const ppn = Math.floor(pa / 4096);
      if (this.codePages[ppn]) this.invalidateCodePage(ppn);
      if (size === 1) this.ram[pa] = v;
      else if (size === 2) this.ramView.setUint16(pa, v, true);
      else this.ramView.setUint32(pa, v >>> 0, true);
      if (((pa + size - 1) & 0xfff) < (pa & 0xfff) && this.codePages[ppn + 1]) this.invalidateCodePage(ppn + 1);
      return;
    }
    if (this.mem.isRam(pa, size)) {
      if (size === 1) this.mem.write8(pa, v); else if (size === 2) this.mem.write16(pa, v); else this.mem.write32(pa, v >>> 0);
      return;
    }
    this.deviceAccess();
    this.bus.mmioWrite(pa, size, size === 4 ? v >>> 0 : v);
  }

  /**
   * A write reached a device (a doorbell may start DMA into guest RAM): code pages are
   * re-verified when next entered, and the run loop re-checks interrupts. Device reads
   * only set breakLoop.
   */
  deviceAccess(): void {
    this.ioEpoch++;
    this.codeVpn = NaN;
    this.breakLoop = true;
  }

  // ---- linear access (the executor's interface) ----

  read8(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.rTag[k] === vpn) return this.ram[this.rPhys[k] + (lin & 0xfff)];
    return this.physRead(this.translateFill(lin, ACCESS_READ), 1);
  }

  read16(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.rTag[k] === vpn && off <= 0xffe) return this.ramView.getUint16(this.rPhys[k] + off, true);
    if (off > 0xffe) return this.read8(lin) | (this.read8(lin + 1) << 8);
    return this.physRead(this.translateFill(lin, ACCESS_READ), 2);
  }

  read32(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.rTag[k] === vpn && off <= 0xffc) return this.ramView.getUint32(this.rPhys[k] + off, true);
    if (off > 0xffc) {
      return (this.read8(lin) | (this.read8(lin + 1) << 8) | (this.read8(lin + 2) << 16) | (this.read8(lin + 3) << 24)) >>> 0;
    }
    return this.physRead(this.translateFill(lin, ACCESS_READ), 4);
  }

  /** Reads 64 bits: returns the low half, the high half goes to `th`. */
  read64(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.rTag[k] === vpn && off <= 0xff8) {
      const p = this.rPhys[k] + off;
      this.th = this.ramView.getUint32(p + 4, true);
      return this.ramView.getUint32(p, true);
    }
    const lo = this.read32(lin);
    this.th = this.read32(lin + 4);
    return lo;
  }

  write8(lin: number, v: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.wTag[k] === vpn) { this.ram[this.wPhys[k] + (lin & 0xfff)] = v; return; }
    this.physWrite(this.translateFill(lin, ACCESS_WRITE), 1, v & 0xff);
  }

  write16(lin: number, v: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.wTag[k] === vpn && off <= 0xffe) { this.ramView.setUint16(this.wPhys[k] + off, v, true); return; }
    if (off > 0xffe) {
      this.probeWrite(lin + 1);
      this.write8(lin, v); this.write8(lin + 1, v >> 8);
      return;
    }
    this.physWrite(this.translateFill(lin, ACCESS_WRITE), 2, v & 0xffff);
  }

  write32(lin: number, v: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.wTag[k] === vpn && off <= 0xffc) { this.ramView.setInt32(this.wPhys[k] + off, v, true); return; }
    if (off > 0xffc) {
      this.probeWrite(lin); this.probeWrite(lin + 3);
      for (let n = 0; n < 4; n++) this.write8(lin + n, v >>> (8 * n));
      return;
    }
    this.physWrite(this.translateFill(lin, ACCESS_WRITE), 4, v);
  }

  write64(lin: number, lo: number, hi: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    const off = lin & 0xfff;
    if (this.wTag[k] === vpn && off <= 0xff8) {
      const p = this.wPhys[k] + off;
      this.ramView.setInt32(p, lo, true);
      this.ramView.setInt32(p + 4, hi, true);
      return;
    }
    this.probeWrite(lin); this.probeWrite(lin + 7);
    this.write32(lin, lo);
    this.write32(lin + 4, hi);
  }

  /** Faults now if a write to `lin` would fault (keeps multi-part writes all-or-nothing). */
  probeWrite(lin: number): void {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.wTag[k] !== vpn) this.translateFill(lin, ACCESS_WRITE);
  }

  /** Reads by size (1, 2, 4, 8; 8 sets `th`). */
  readMem(size: number, lin: number): number {
    switch (size) {
      case 1: return this.read8(lin);
      case 2: return this.read16(lin);
      case 4: return this.read32(lin);
      default: return this.read64(lin);
    }
  }

  writeMem(size: number, lin: number, v: number, vh = 0): void {
    switch (size) {
      case 1: this.write8(lin, v); return;
      case 2: this.write16(lin, v); return;
      case 4: this.write32(lin, v); return;
      default: this.write64(lin, v, vh); return;
    }
  }

  /** Supervisor-privileged linear reads (descriptor tables, TSS, IDT) bypass the TLB. */
  sysRead32(lin: number): number {
    const pa = this.translate(lin, ACCESS_READ, false);
    if ((pa & 0xfff) <= 0xffc) return this.physRead(pa, 4);
    return (this.sysRead8(lin) | (this.sysRead8(lin + 1) << 8) | (this.sysRead8(lin + 2) << 16) | (this.sysRead8(lin + 3) << 24)) >>> 0;
  }

  sysRead8(lin: number): number {
    return this.physRead(this.translate(lin, ACCESS_READ, false), 1);
  }

  sysRead16(lin: number): number {
    return this.sysRead8(lin) | (this.sysRead8(lin + 1) << 8);
  }

  sysWrite32(lin: number, v: number): void {
    const pa = this.translate(lin, ACCESS_WRITE, false);
    if ((pa & 0xfff) <= 0xffc) { this.physWrite(pa, 4, v); return; }
    for (let n = 0; n < 4; n++) this.physWrite(this.translate(lin + n, ACCESS_WRITE, false), 1, (v >>> (8 * n)) & 0xff);
  }

  /** RAM index of a readable linear address (filling the TLB), or -1 when it is not RAM. */
  hostRead(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.rTag[k] === vpn) return this.rPhys[k] + (lin & 0xfff);
    const pa = this.translateFill(lin, ACCESS_READ);
    return pa < this.ramSize ? pa : -1;
  }

  /** RAM index of a writable linear address (code pages are invalidated), or -1. */
  hostWrite(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.wTag[k] === vpn) return this.wPhys[k] + (lin & 0xfff);
    const pa = this.translateFill(lin, ACCESS_WRITE);
    if (pa >= this.ramSize) return -1;
    const ppn = Math.floor(pa / 4096);
    if (this.codePages[ppn]) this.invalidateCodePage(ppn);
    return pa;
  }

  /** Bulk writes into RAM through hostWrite: drop decodes of the pages touched. */
  noteRamWrite(p: number, n: number): void {
    for (let ppn = Math.floor(p / 4096); ppn <= Math.floor((p + n - 1) / 4096); ppn++) {
      if (this.codePages[ppn]) this.invalidateCodePage(ppn);
    }
  }

  // ---- instruction fetch and the decode cache ----

  /** Reads one instruction byte (used by the decoder). */
  fetch8(lin: number): number {
    const vpn = Math.floor(lin * INV_PAGE);
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    if (this.xTag[k] === vpn) return this.ram[this.xPhys[k] + (lin & 0xfff)];
    return this.physRead(this.translateFill(lin, ACCESS_EXEC), 1);
  }

  /**
   * Makes `vpn` (the page of `lin`) the current code page: translates it for execution
   * and returns the page's decode cache (a fresh, unshared array for pages not in RAM).
   */
  enterCodePage(lin: number, vpn: number): void {
    const k = (vpn & TLB_MASK) + this.tlbPriv;
    let ppage: number;
    if (this.xTag[k] === vpn) {
      ppage = this.xPhys[k];
    } else {
      const pa = this.translateFill(lin, ACCESS_EXEC);
      ppage = pa - (pa % 4096);
    }
    if (ppage + 4096 > this.ramSize) {
      // Not RAM (e.g. a ROM behind MMIO): decoded every time, never cached.
      this.codeVpn = NaN;
      this.codeInsns = new Array(4096);
      return;
    }
    const ppn = ppage / 4096;
    let page = this.codeCache.get(ppn);
    // Only device activity (DMA) can change a code page behind the CPU's back: CPU writes
    // drop the page's decodes directly.
    if (page && page.epoch !== this.ioEpoch) {
      if (!this.snapshotMatches(page, ppage)) page.mode = -1;
      page.epoch = this.ioEpoch;
    }
    if (page && page.mode !== this.codeMode) {
      this.codeCache.delete(ppn);
      page = undefined;
    }
    if (!page) {
      page = { mode: this.codeMode, insns: new Array(4096), snapshot: this.ram32.slice(ppage >> 2, (ppage >> 2) + 1024), epoch: this.ioEpoch };
      this.codeCache.set(ppn, page);
      if (!this.codePages[ppn]) {
        this.codePages[ppn] = 1;
        this.dropWriteEntries(ppage);
      }
    }
    this.codeVpn = vpn;
    this.codeInsns = page.insns;
  }

  private snapshotMatches(page: CodePage, ppage: number): boolean {
    const s = page.snapshot, base = ppage >> 2, r = this.ram32;
    for (let n = 0; n < 1024; n++) if (s[n] !== r[base + n]) return false;
    return true;
  }

  private dropWriteEntries(ppage: number): void {
    for (let k = 0; k < 2 * TLB_SIZE; k++) if (this.wPhys[k] === ppage) this.wTag[k] = NaN;
  }

  /** A write hit a page with cached decodes: forget them (self-modifying code). */
  invalidateCodePage(ppn: number): void {
    this.codeCache.delete(ppn);
    this.codePages[ppn] = 0;
    this.codeVpn = NaN;
    this.breakLoop = true; // the run loop caches the code page in locals
  }

  /** Drops every cached decode (mode switches that change decoding do this per page lazily). */
  flushCodeCache(): void {
    this.codeCache.clear();
    this.codePages.fill(0);
    this.codeVpn = NaN;
    this.breakLoop = true; // the run loop caches the code page in locals
  }
}
