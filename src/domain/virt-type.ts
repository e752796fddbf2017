// Which libvirt domain type a guest gets: kvm when the host can run it (/dev/kvm opens
// read-write and the CPU advertises VMX or SVM in /proc/cpuinfo), qemu (TCG; on tsvirt, the
// software CPU) otherwise; --virt-type overrides. The rule itself is the accelerator
// choice of src/vm/accel/select.ts (one place for it); this module gathers the facts from
// the host and says why, when the default falls back to the software CPU.
import { chooseAccelerator, kvmDeviceOpens, readCpuinfo, reportsHardwareVirt } from '../vm/accel/select.js';
import type { VirtType } from './model.js';

export interface HostVirtFacts {
  /** /dev/kvm could be opened read-write. */
  readonly kvmDeviceUsable: boolean;
  /** Contents of /proc/cpuinfo (only the flags lines matter). */
  readonly cpuinfo: string;
}

export interface VirtTypeChoice {
  virtType: VirtType;
  /** Why the default fell back to the software CPU (virt-install warns there too). */
  note?: string;
}

export function virtTypeChoice(facts: HostVirtFacts, requested?: VirtType): VirtTypeChoice {
  const c = chooseAccelerator(requested, { kvmDevice: facts.kvmDeviceUsable, hardwareVirt: reportsHardwareVirt(facts.cpuinfo) });
  return c.note ? { virtType: c.virtType, note: c.note } : { virtType: c.virtType };
}

export function detectVirtType(facts: HostVirtFacts, requested?: VirtType): VirtType {
  return virtTypeChoice(facts, requested).virtType;
}

export function probeHostVirt(kvmPath = '/dev/kvm', cpuinfoPath = '/proc/cpuinfo'): HostVirtFacts {
  return { kvmDeviceUsable: kvmDeviceOpens(kvmPath), cpuinfo: readCpuinfo(cpuinfoPath) };
}
