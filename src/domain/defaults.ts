// Tool defaults: what a guest gets when neither the command line nor its OS variant says
// otherwise (STYLE.md §8: explicit, then os-variant, then these). Each is a small named
// function so the rule and its reason sit together. They follow virt-install's choices
// (virtinst guest.py set_defaults, devices/disk.py _default_bus) except where tsvirt's own
// VM core differs: no display (the console is serial) and user-mode networking by default.
import type { BootDevice, ClockTimer, Cpu, DiskBus, DiskDevice, DiskFormat, MachineType, NicModel, VirtType } from './model.js';
import type { OsVariant } from './os-variants.js';

/**
 * virt-install (devices/disk.py _default_bus, x86): disks go on virtio when the OS has
 * the driver; the rest (cdroms too) on SATA on q35, IDE on i440FX.
 */
export function defaultDiskBus(device: DiskDevice, variant: Pick<OsVariant, 'virtioDisk'>, machine: MachineType): DiskBus {
  if (device === 'floppy') return 'fdc';
  if (device === 'disk' && variant.virtioDisk) return 'virtio';
  return machine === 'q35' ? 'sata' : 'ide';
}

/** New images are qcow2 (virt-install's default for new volumes). */
export function defaultDiskFormat(): DiskFormat {
  return 'qcow2';
}

/**
 * virt-install (devices/interface.py default_model, x86): virtio when the OS has the
 * driver, else e1000e on q35, else the OS's legacy preference (OsVariant.legacyNicModel).
 */
export function defaultNicModel(variant: Pick<OsVariant, 'virtioNet' | 'legacyNicModel'>, machine: MachineType): NicModel {
  if (variant.virtioNet) return 'virtio';
  return machine === 'q35' ? 'e1000e' : variant.legacyNicModel;
}

/** tsvirt runs guests itself, without libvirt's "default" network: user-mode networking. */
export function defaultNetworkType(): 'user' {
  return 'user';
}

/** KVM guests see the host CPU; TCG (the software CPU) uses its own default model. */
export function defaultCpu(virtType: VirtType): Cpu | undefined {
  return virtType === 'kvm' ? { mode: 'host-passthrough' } : undefined;
}

/** virt-install's x86 timer policy: RTC catches up, PIT delays, no HPET. */
export function defaultClockTimers(): ClockTimer[] {
  return [
    { name: 'rtc', tickpolicy: 'catchup' },
    { name: 'pit', tickpolicy: 'delay' },
    { name: 'hpet', present: false },
  ];
}

/** virt-install's boot list: the device to boot, plus hd whenever the guest has a disk. */
export function buildBootOrder(bootDevice: BootDevice, hasDisk: boolean): BootDevice[] {
  return hasDisk && bootDevice !== 'hd' ? [bootDevice, 'hd'] : [bootDevice];
}

/** Random locally administered MAC in QEMU's 52:54:00 range (libvirt's default prefix). */
export function generateMac(random: (n: number) => Uint8Array): string {
  const b = random(3);
  return ['52', '54', '00', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))].join(':');
}

/**
 * The argument that points the installer at a network tree (virt-install adds
 * `ARG=URL`, ARG from the OS's kernel-url-argument: inst.repo, method, install); a local
 * tree gets none.
 */
export function installerRepoArgs(kernelUrlArg: string | undefined, location: string, isUrl: boolean): string[] {
  return isUrl && kernelUrlArg ? [`${kernelUrlArg}=${location}`] : [];
}
