// Model-specific registers of the software CPU (Intel SDM Vol. 4, Table 2-2 "IA-32
// architectural MSRs"): the ones with behaviour (EFER, the SYSCALL MSRs, FS/GS bases,
// TSC and TSC_ADJUST, APIC base), the read-only ARCH_CAPABILITIES, and a small set kept as
// read-as-written (PAT, MISC_ENABLE, SYSENTER, BIOS_SIGN_ID, TSC_AUX). Anything else
// raises #GP, as real hardware does for MSRs it lacks; Linux probes with rdmsr_safe.
// Not modelled: MTRRs (MTRR is not advertised), machine-check banks, performance counters,
// SPEC_CTRL, TSC_DEADLINE (not advertised).

import { TSC_HZ } from '../clock.js';
import type { Cpu } from './cpu.js';
import { CR0_PG, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, FS, GS } from './state.js';

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_ADJUST = 0x3b;
export const MSR_IA32_BIOS_SIGN_ID = 0x8b;
export const MSR_IA32_ARCH_CAPABILITIES = 0x10a;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_IA32_PAT = 0x277;
export const MSR_EFER = 0xc000_0080;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_SFMASK = 0xc000_0084;
export const MSR_FS_BASE = 0xc000_0100;
export const MSR_GS_BASE = 0xc000_0101;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;
export const MSR_TSC_AUX = 0xc000_0103;

/** APIC base: the BSP flag (bit 8), global enable (bit 11), base 0xFEE00000 (SDM Vol. 3A §11.4.4). */
const APIC_BASE_DEFAULT = 0xfee0_0000 | 0x800;
const PAT_DEFAULT = 0x0007_0406_0007_0406n;
/**
 * ARCH_CAPABILITIES (SDM Vol. 4 Table 2-2): RDCL_NO (0), SKIP_L1DFL_VMENTRY (3), MDS_NO (5),
 * PSCHANGE_MC_NO (6), TAA_NO (8), SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15).
 */
const ARCH_CAPABILITIES = (1n << 0n) | (1n << 3n) | (1n << 5n) | (1n << 6n) | (1n << 8n) | (1n << 13n) | (1n << 14n) | (1n << 15n);
/** MISC_ENABLE: fast strings (bit 0) as firmware leaves it. */
const MISC_ENABLE_DEFAULT = 1n;

const PLAIN = [MSR_IA32_BIOS_SIGN_ID, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
  MSR_IA32_MISC_ENABLE, MSR_IA32_PAT, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_KERNEL_GS_BASE, MSR_TSC_AUX];

export class MsrFile {
  apicBase = APIC_BASE_DEFAULT;
  private readonly plain = new Map<number, bigint>();
  /** SYSCALL fast-path copies of the 64-bit MSRs as numbers. */
  star = 0n;
  lstar = 0;
  cstar = 0;
  sfmask = 0;
  kernelGsBase = 0;
  tscAux = 0;
  /**
   * TSC = clock * TSC_HZ + tscAdjust. The offset is IA32_TSC_ADJUST itself (SDM Vol. 3B
   * §18.17.3): a WRMSR to the TSC moves it by the same amount the TSC moved, a WRMSR to
   * TSC_ADJUST moves the TSC. Signed 64-bit.
   */
  private tscAdjust = 0n;

  constructor(private readonly cpu: Cpu) {}

  reset(): void {
    this.plain.clear();
    for (const m of PLAIN) this.plain.set(m, 0n);
    this.plain.set(MSR_IA32_PAT, PAT_DEFAULT);
    this.plain.set(MSR_IA32_MISC_ENABLE, MISC_ENABLE_DEFAULT);
    this.apicBase = APIC_BASE_DEFAULT | (this.cpu.index === 0 ? 0x100 : 0);
    this.star = 0n; this.lstar = 0; this.cstar = 0; this.sfmask = 0; this.kernelGsBase = 0; this.tscAux = 0;
    this.tscAdjust = 0n;
  }

  tsc(): bigint {
    // nowNs * TSC_HZ / 1e9 without losing precision for long uptimes.
    return BigInt.asUintN(64, this.clockTicks() + this.tscAdjust);
  }

  /** The clock in TSC ticks: every vCPU's TSC and the timers advance from the same clock. */
  private clockTicks(): bigint {
    return (BigInt(Math.floor(this.cpu.clock.nowNs())) * BigInt(TSC_HZ)) / 1_000_000_000n;
  }

  /** The MSR's value, or undefined when this CPU has no such MSR (#GP for RDMSR). */
  read(index: number): bigint | undefined {
    const c = this.cpu;
    switch (index >>> 0) {
      case MSR_IA32_TSC: return this.tsc();
      case MSR_IA32_TSC_ADJUST: return BigInt.asUintN(64, this.tscAdjust);
      case MSR_IA32_APIC_BASE: return BigInt(this.apicBase >>> 0);
      case MSR_IA32_ARCH_CAPABILITIES: return ARCH_CAPABILITIES;
      case MSR_EFER: return BigInt(c.efer);
      case MSR_FS_BASE: return BigInt.asUintN(64, BigInt(c.segBase[FS]));
      case MSR_GS_BASE: return BigInt.asUintN(64, BigInt(c.segBase[GS]));
      case MSR_KERNEL_GS_BASE: return BigInt.asUintN(64, BigInt(this.kernelGsBase));
      default: return this.plain.get(index >>> 0);
    }
  }

  /** Writes an MSR; false when the MSR does not exist or the value is reserved (#GP). */
  write(index: number, value: bigint): boolean {
    const c = this.cpu;
    value = BigInt.asUintN(64, value);
    const signed = Number(BigInt.asIntN(64, value));
    const canonical = signed < 140737488355328 && signed >= -140737488355328;
    switch (index >>> 0) {
      case MSR_IA32_TSC:
        this.tscAdjust = BigInt.asIntN(64, value - this.clockTicks());
        return true;
      case MSR_IA32_TSC_ADJUST:
        this.tscAdjust = BigInt.asIntN(64, value);
        return true;
      case MSR_IA32_APIC_BASE:
        if (value >> 40n) return false;
        // The BSP flag is read-only.
        this.apicBase = (Number(value & 0xffff_fe00n) | (this.apicBase & 0x100)) >>> 0;
        return true;
      case MSR_EFER: {
        const allowed = EFER_SCE | EFER_LME | EFER_NXE | EFER_LMA;
        if (value & ~BigInt(allowed)) return false;
        let v = Number(value);
        // LME may not change while paging is on; LMA is read-only (SDM Vol. 3A §9.8.5).
        if ((c.cr0 & CR0_PG) !== 0 && ((v ^ c.efer) & EFER_LME) !== 0) return false;
        v = (v & ~EFER_LMA) | (c.efer & EFER_LMA);
        const flush = ((v ^ c.efer) & EFER_NXE) !== 0;
        c.efer = v;
        if (flush) c.flushTlb();
        return true;
      }
      case MSR_FS_BASE: case MSR_GS_BASE:
        if (!canonical) return false;
        c.segBase[index === MSR_FS_BASE ? FS : GS] = signed;
        return true;
      case MSR_KERNEL_GS_BASE:
        if (!canonical) return false;
        this.kernelGsBase = signed;
        return true;
      case MSR_LSTAR: case MSR_CSTAR:
        if (!canonical) return false;
        if (index === MSR_LSTAR) this.lstar = signed; else this.cstar = signed;
        this.plain.set(index, value);
        return true;
      case MSR_STAR: this.star = value; this.plain.set(index, value); return true;
      case MSR_SFMASK: this.sfmask = Number(value & 0xffff_ffffn); this.plain.set(index, value); return true;
      case MSR_TSC_AUX: this.tscAux = Number(value & 0xffff_ffffn); this.plain.set(index, value); return true;
      case MSR_IA32_PAT: {
        // Each byte must be a valid memory type (0,1,4,5,6,7).
        for (let b = 0n; b < 64n; b += 8n) {
          const t = Number((value >> b) & 0xffn);
          if (t === 2 || t === 3 || t > 7) return false;
        }
        this.plain.set(index, value);
        return true;
      }
      default:
        if (!this.plain.has(index >>> 0)) return false;
        this.plain.set(index >>> 0, value);
        return true;
    }
  }

  /** SWAPGS (SDM Vol. 2 SWAPGS). */
  swapgs(): void {
    const c = this.cpu;
    const k = this.kernelGsBase;
    this.kernelGsBase = c.segBase[GS];
    c.segBase[GS] = k;
  }
}
