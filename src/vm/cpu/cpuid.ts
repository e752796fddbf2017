// CPUID of the software CPU (Intel SDM Vol. 2 CPUID, Tables 3-8 to 3-20): a coherent
// family-6 Intel-style processor that advertises exactly what this interpreter
// implements, plus a hypervisor leaf (0x40000000, "TsvirtTsvirt") and the TSC frequency
// (leaves 0x15/0x16 and 0x40000010) so the kernel does not calibrate.
// Advertised: FPU PSE TSC MSR PAE CX8 APIC SEP CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 PGE,
// CX16, hypervisor; ERMS/FSRM (fast REP MOVSB); SYSCALL NX 1G pages RDTSCP LM LAHF_LM;
// invariant TSC and IA32_TSC_ADJUST (every vCPU's TSC follows the one host-monotonic
// clock the timers use: constant rate, never stops, the vCPUs agree; with TSC_ADJUST Linux
// trusts such a TSC without the clocksource watchdog, whose early reference, tick-counting
// jiffies, loses ticks on a slow software vCPU); IA32_ARCH_CAPABILITIES reporting the CPU
// as not affected by Meltdown, MDS, TAA and the other speculation bugs (an interpreter has
// no speculation), so Linux needs no page-table isolation (which would flush the TLB on
// every kernel entry).
// Not advertised (not implemented): VME DE MCE MCA MTRR DS ACPI SS HTT TM PBE, SSE3 and
// later SIMD, POPCNT, MOVBE, XSAVE/AVX, x2APIC, TSC-deadline, PCID, FSGSBASE, SMEP/SMAP,
// RDRAND, BMI, IBRS/IBPB/STIBP/SSBD (SPEC_CTRL), monitor/mwait.

import { TSC_HZ } from '../clock.js';

export const CPUID_VENDOR = 'GenuineIntel';
export const HYPERVISOR_VENDOR = 'TsvirtTsvirt';
const BRAND = 'tsvirt software x86-64 CPU';

// Family 6, model 0x3A (Ivy Bridge class: no quirk paths in Linux depend on it), stepping 9.
const SIGNATURE = (0x3 << 16) | (6 << 8) | (0xa << 4) | 9;

export const CPUID1_EDX =
  (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 11) | (1 << 13) | (1 << 15) |
  (1 << 16) | (1 << 17) | (1 << 19) | (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26);
export const CPUID1_ECX = (1 << 13) | (1 << 31);
export const CPUID7_EBX = (1 << 1) | (1 << 9); // IA32_TSC_ADJUST, ERMS
/** FSRM (bit 4) and IA32_ARCH_CAPABILITIES (bit 29). */
export const CPUID7_EDX = (1 << 4) | (1 << 29);
export const CPUID80000001_EDX = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
export const CPUID80000001_ECX = 1 << 0; // LAHF/SAHF in 64-bit mode

function str4(s: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) v |= (s.charCodeAt(at + k) || 0) << (8 * k);
  return v >>> 0;
}

/** Returns [eax, ebx, ecx, edx] for leaf/subleaf on vCPU `apicId`. */
export function cpuid(leaf: number, subleaf: number, apicId: number): [number, number, number, number] {
  leaf >>>= 0;
  switch (leaf) {
    case 0: return [0x16, str4(CPUID_VENDOR, 0), str4(CPUID_VENDOR, 8), str4(CPUID_VENDOR, 4)];
    case 1: return [SIGNATURE, ((apicId & 0xff) << 24) | (1 << 16) | (8 << 8), CPUID1_ECX >>> 0, CPUID1_EDX >>> 0];
    case 2: return [0x0000_0001, 0, 0, 0]; // one iteration, no descriptors (leaf 4 is authoritative)
    case 4: return [0, 0, 0, 0]; // no cache levels described
    case 7: return subleaf === 0 ? [0, CPUID7_EBX, 0, CPUID7_EDX] : [0, 0, 0, 0];
    case 0x15: return [1, 1, TSC_HZ, 0]; // TSC = crystal (ECX Hz) * EBX / EAX
    case 0x16: {
      const mhz = Math.round(TSC_HZ / 1e6);
      return [mhz, mhz, 100, 0];
    }
    case 0x4000_0000: return [0x4000_0010, str4(HYPERVISOR_VENDOR, 0), str4(HYPERVISOR_VENDOR, 4), str4(HYPERVISOR_VENDOR, 8)];
    case 0x4000_0010: return [Math.round(TSC_HZ / 1000), 0, 0, 0];
    case 0x8000_0000: return [0x8000_0008, 0, 0, 0];
    case 0x8000_0001: return [0, 0, CPUID80000001_ECX, CPUID80000001_EDX >>> 0];
    case 0x8000_0002: case 0x8000_0003: case 0x8000_0004: {
      const b = BRAND.padEnd(48, '\0');
      const o = (leaf - 0x8000_0002) * 16;
      return [str4(b, o), str4(b, o + 4), str4(b, o + 8), str4(b, o + 12)];
    }
    case 0x8000_0007: return [0, 0, 0, 1 << 8]; // invariant TSC
    case 0x8000_0008: return [0x3028, 0, 0, 0]; // 40 physical, 48 linear address bits
    default:
      // Leaves within range but not described return zeros; beyond the maximum basic
      // leaf Intel returns the highest basic leaf's data (SDM CPUID "INPUT EAX").
      if (leaf > 0x16 && leaf < 0x4000_0000) return cpuid(0x16, 0, apicId);
      return [0, 0, 0, 0];
  }
}
