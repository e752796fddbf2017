// What a machine is made of, as plain serializable data (it crosses into the vCPU worker
// thread): RAM, vCPUs, the kernel to boot directly, PCI functions to attach and what to
// do on a guest reboot. Derived from a Domain by the install layer; the VM core knows
// nothing of virt-install options (ARCHITECTURE.md "Layers").

import type { PciAddress } from '../devices/pci/pci-function.js';

/**
 * A PCI function built inside the machine's thread by a factory module: `module` is an
 * importable URL or path, `exportName` a function `(platform, options) => PciFunction`
 * (optionally async), where platform is { bus, mem, irq, msi, log, address }: the
 * shape of src/vm/devices/virtio VirtioPlatform. Options must be structured-cloneable.
 */
export interface PciDeviceSpec {
  address?: PciAddress;
  module: string;
  exportName: string;
  options?: unknown;
}

export interface MachineConfig {
  memoryBytes: number;
  vcpus: number;
  /** Path to a bzImage, or its bytes. */
  kernel: string | Uint8Array;
  initrd?: string | Uint8Array;
  /** Kernel command line; console=ttyS0 is appended when it names no console. */
  cmdline: string;
  pciDevices?: PciDeviceSpec[];
  /** Who runs the vCPUs: tsvirt's software CPU (default) or KVM (/dev/kvm, in-kernel irqchip and PIT). */
  accelerator?: 'ts' | 'kvm';
  /** What a guest reboot does: boot again (libvirt on_reboot=restart) or stop (destroy). */
  onReboot?: 'restart' | 'destroy';
  /** Stop with kind 'timeout' after this much wall time. */
  timeoutMs?: number;
}

export type MachineExitKind = 'poweroff' | 'reset' | 'crash' | 'timeout' | 'stopped';

export interface MachineResult {
  kind: MachineExitKind;
  /** The last lines the guest wrote to its serial console. */
  lastConsoleLines: string[];
  /** For crashes: what happened (triple fault, CPU error) and the register dump. */
  message?: string;
  registers?: string;
  instructionsRetired?: number;
}
