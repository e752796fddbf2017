// Which accelerator runs a guest (issue 9): `--virt-type kvm` forces KVM (its errors say
// why it cannot run), `--virt-type qemu` forces the software CPU, and by default KVM is
// used only when /dev/kvm opens read-write AND the host CPU reports hardware
// virtualization (vmx or svm in /proc/cpuinfo). The second condition matters: a nested
// /dev/kvm without vmx/svm in the guest's cpuinfo emulates in software and is far
// slower than tsvirt's own CPU.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';

export type Accelerator = 'kvm' | 'ts';
/** libvirt's domain types: kvm, or qemu for software emulation. */
export type VirtType = 'kvm' | 'qemu';

export interface HostVirtProbe {
  /** /dev/kvm opens read-write for this user. */
  kvmDevice: boolean;
  /** vmx or svm among the host CPU's flags. */
  hardwareVirt: boolean;
}

/**
 * /dev/kvm opens read-write: the real open, since a permission check alone can pass in a
 * container where the open fails.
 */
export function kvmDeviceOpens(devicePath = '/dev/kvm'): boolean {
  try {
    closeSync(openSync(devicePath, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/** vmx or svm among the CPU flags of a /proc/cpuinfo text. */
export function reportsHardwareVirt(cpuinfo: string): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo);
}

/** The text of /proc/cpuinfo, or '' when it cannot be read. */
export function readCpuinfo(cpuinfoPath = '/proc/cpuinfo'): string {
  try {
    return readFileSync(cpuinfoPath, 'utf8');
  } catch {
    return '';
  }
}

export function probeHost(devicePath = '/dev/kvm', cpuinfoPath = '/proc/cpuinfo'): HostVirtProbe {
  return { kvmDevice: kvmDeviceOpens(devicePath), hardwareVirt: reportsHardwareVirt(readCpuinfo(cpuinfoPath)) };
}

export interface AcceleratorChoice {
  accelerator: Accelerator;
  virtType: VirtType;
  /** One informational line when the default fell back to the software CPU. */
  note?: string;
}

export function chooseAccelerator(requested: VirtType | undefined, probe: HostVirtProbe): AcceleratorChoice {
  if (requested === 'kvm') return { accelerator: 'kvm', virtType: 'kvm' };
  if (requested === 'qemu') return { accelerator: 'ts', virtType: 'qemu' };
  if (probe.kvmDevice && probe.hardwareVirt) return { accelerator: 'kvm', virtType: 'kvm' };
  const why = !probe.kvmDevice
    ? '/dev/kvm is missing or cannot be opened read-write'
    : 'the host CPU reports no hardware virtualization (vmx/svm), so /dev/kvm here would emulate in software';
  return { accelerator: 'ts', virtType: 'qemu', note: `KVM acceleration not available, using tsvirt's software CPU: ${why}` };
}
