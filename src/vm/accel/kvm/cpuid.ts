// The CPUID a KVM vCPU reports: what KVM_GET_SUPPORTED_CPUID allows, adjusted for the
// guest's topology (--vcpus: one socket, N cores, one thread each) and this vCPU's APIC
// ID, with the hypervisor-present bit set (Intel SDM Vol. 2A, CPUID; leaves 1, 4, 0xB).
// KVM's own paravirtual leaves (0x40000000 "KVMKVMKVM", kvmclock) are passed through:
// they are what a Linux guest expects from a KVM host.

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface CpuTopology {
  apicId: number;
  vcpus: number;
}

const CPUID_1_ECX_HYPERVISOR = 1 << 31;
const CPUID_1_EDX_HTT = 1 << 28;

export function buildCpuid(supported: readonly CpuidEntry[], topo: CpuTopology): CpuidEntry[] {
  if (topo.vcpus < 1 || topo.vcpus > 255) throw new RangeError(`bad vCPU count ${topo.vcpus}`);
  const coreBits = Math.ceil(Math.log2(topo.vcpus));
  return supported.map((e) => {
    const out = { ...e };
    switch (e.function) {
      case 1:
        out.ebx = ((e.ebx & 0x0000ffff) | ((topo.vcpus & 0xff) << 16) | ((topo.apicId & 0xff) << 24)) >>> 0;
        out.ecx = (e.ecx | CPUID_1_ECX_HYPERVISOR) >>> 0;
        out.edx = (topo.vcpus > 1 ? e.edx | CPUID_1_EDX_HTT : e.edx & ~CPUID_1_EDX_HTT) >>> 0;
        break;
      case 4:
        // EAX[31:26]: cores per package - 1; EAX[25:14]: logical CPUs sharing this cache - 1
        // (one thread per core, so 0 for every level).
        out.eax = ((e.eax & 0x00003fff) | ((topo.vcpus - 1) << 26)) >>> 0;
        break;
      case 0xb:
      case 0x1f:
        out.edx = topo.apicId >>> 0;
        if (e.index === 0) {
          out.eax = 0; // SMT level: no threads
          out.ebx = 1;
          out.ecx = (1 << 8) | 0;
        } else if (e.index === 1) {
          out.eax = coreBits;
          out.ebx = topo.vcpus;
          out.ecx = (2 << 8) | 1;
        } else {
          out.eax = 0;
          out.ebx = 0;
          out.ecx = e.index & 0xff;
        }
        break;
      default:
        break;
    }
    return out;
  });
}
