// Which libvirt domain type a guest gets: kvm when the host can run it (/dev/kvm opens
// read-write and the CPU advertises VMX or SVM in /proc/cpuinfo), qemu (TCG; on tsvirt, the
// software CPU) otherwise; --virt-type overrides. The decision takes its inputs so tests
// choose them; probeHostVirt() gathers them from the real host.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import type { VirtType } from './model.js';

export interface HostVirtFacts {
  /** /dev/kvm could be opened read-write. */
  readonly kvmDeviceUsable: boolean;
  /** Contents of /proc/cpuinfo (only the flags lines matter). */
  readonly cpuinfo: string;
}

export function detectVirtType(facts: HostVirtFacts, requested?: VirtType): VirtType {
  if (requested) return requested;
  const hasVmxOrSvm = /^flags\s*:.*\b(vmx|svm)\b/m.test(facts.cpuinfo);
  return facts.kvmDeviceUsable && hasVmxOrSvm ? 'kvm' : 'qemu';
}

export function probeHostVirt(kvmPath = '/dev/kvm', cpuinfoPath = '/proc/cpuinfo'): HostVirtFacts {
  let kvmDeviceUsable = false;
  try {
    closeSync(openSync(kvmPath, constants.O_RDWR));
    kvmDeviceUsable = true;
  } catch {
    kvmDeviceUsable = false;
  }
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync(cpuinfoPath, 'utf8');
  } catch {
    cpuinfo = '';
  }
  return { kvmDeviceUsable, cpuinfo };
}
