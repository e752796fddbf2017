// Which libvirt domain type a guest gets: kvm when the host can run it (/dev/kvm opens
// read-write and the CPU advertises VMX or SVM in /proc/cpuinfo), qemu (TCG; on tsvirt, the
// software CPU) otherwise; --virt-type overrides. The rule itself is the accelerator
// choice of src/vm/accel/select.ts (one place for it); this module gathers the facts from
// the host — opening /dev/kvm for real, which a permission check alone can get wrong in a
// container — and says why, when the default falls back to the software CPU.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { chooseAccelerator } from '../vm/accel/select.js';
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
  const hardwareVirt = /^flags\s*:.*\b(vmx|svm)\b/m.test(facts.cpuinfo);
  const c = chooseAccelerator(requested, { kvmDevice: facts.kvmDeviceUsable, hardwareVirt });
  return c.note ? { virtType: c.virtType, note: c.note } : { virtType: c.virtType };
}

export function detectVirtType(facts: HostVirtFacts, requested?: VirtType): VirtType {
  return virtTypeChoice(facts, requested).virtType;
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
