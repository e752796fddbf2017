// The Domain: the one description of a virtual machine that every later layer renders or
// runs (libvirt XML, disk creation, the VM core, the state store). Plain readonly data,
// no I/O. Field meanings follow libvirt's domain XML format (https://libvirt.org/formatdomain.html);
// units are in the names. Left out: everything tsvirt does not model yet (NUMA, hugepages,
// memory hotplug slots, UEFI firmware, host devices, sound/video/USB controllers).

import type { PortForwardRule } from '../vm/net/port-forward.js';

export type VirtType = 'kvm' | 'qemu';
export type Arch = 'x86_64' | 'i686';
/** libvirt machine aliases: q35 (ICH9, PCIe) or pc (i440FX). */
export type MachineType = 'q35' | 'pc';
/** libvirt <boot dev=...> names (formatdomain "BIOS bootloader"). */
export type BootDevice = 'hd' | 'cdrom' | 'network' | 'fd';
export const BOOT_DEVICES: readonly BootDevice[] = ['hd', 'cdrom', 'network', 'fd'];

export type DiskDevice = 'disk' | 'cdrom' | 'floppy';
export type DiskBus = 'virtio' | 'sata' | 'scsi' | 'ide' | 'fdc';
export type DiskFormat = 'raw' | 'qcow2';
export type DiskCache = 'default' | 'none' | 'writethrough' | 'writeback' | 'directsync' | 'unsafe';
export const DISK_CACHES: readonly DiskCache[] = ['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'];

export interface Disk {
  readonly device: DiskDevice;
  /** Host path of the image; absent for an empty (ejected) cdrom or floppy drive. */
  readonly sourcePath?: string;
  /** Image format as libvirt's <driver type>; absent when unknown (an existing image not probed). */
  readonly format?: DiskFormat;
  readonly bus: DiskBus;
  /** Guest device name (<target dev>): vda, sda, hda, fda ... */
  readonly targetDev: string;
  readonly readonly: boolean;
  readonly shareable: boolean;
  readonly cache?: DiskCache;
  /** Discard requests are passed down (libvirt discard="unmap"); set for disks tsvirt creates. */
  readonly discardUnmap: boolean;
  /** Serial number the guest sees. */
  readonly serial?: string;
  /** Per-device boot order (<boot order=N>); when any device has one, <os> lists no boot devices. */
  readonly bootOrder?: number;
  /**
   * The backing file the user named for this image (virt-install backing_store=, libvirt's
   * user-specified <backingStore>). The image's own backing name may lead there even when
   * it is outside the image's directory (src/storage/qcow2/backing.ts).
   */
  readonly backingStore?: { readonly path: string; readonly format: DiskFormat };
}

export type NicModel = 'virtio' | 'e1000' | 'e1000e' | 'rtl8139';
export const NIC_MODELS: readonly NicModel[] = ['virtio', 'e1000', 'e1000e', 'rtl8139'];

export interface NetworkInterface {
  /** user: user-mode networking; bridge: a host bridge; network: a libvirt virtual network. */
  readonly type: 'user' | 'bridge' | 'network';
  /** Bridge or network name; absent for user. */
  readonly source?: string;
  /** Lower-case colon-separated MAC. */
  readonly mac: string;
  readonly model: NicModel;
  readonly bootOrder?: number;
  /** Inbound port forwards of user networking (libvirt <portForward>, passt's grammar). */
  readonly portForwards?: readonly PortForwardRule[];
}

/** A character device: a serial port or a console, connected to a pty or appended to a file. */
export interface CharDevice {
  readonly type: 'pty' | 'file';
  /** Host file for type file. */
  readonly path?: string;
}

export interface Graphics {
  readonly type: 'vnc' | 'spice';
}

/** virtio-rng fed from the host's /dev/urandom (libvirt <rng model="virtio">). */
export interface Rng {
  readonly model: 'virtio';
  readonly backendPath: '/dev/urandom';
}

export interface CpuTopology {
  readonly sockets: number;
  readonly dies: number;
  readonly cores: number;
  readonly threads: number;
}

export interface Cpu {
  /** Absent: the hypervisor's default CPU (libvirt then omits mode). */
  readonly mode?: 'host-passthrough' | 'host-model' | 'custom';
  /** Named model for mode custom (e.g. Haswell). */
  readonly model?: string;
  readonly topology?: CpuTopology;
}

export interface DomainOs {
  readonly type: 'hvm';
  readonly arch: Arch;
  readonly machine: MachineType;
  /** Direct kernel boot (the install phase of --location, or --boot kernel=). */
  readonly kernel?: string;
  readonly initrd?: string;
  readonly cmdline?: string;
  /** BIOS boot order; empty when a kernel is booted or devices carry boot order. */
  readonly bootOrder: readonly BootDevice[];
}

export type LifecycleAction = 'destroy' | 'restart' | 'preserve' | 'rename-restart';

export interface Lifecycle {
  readonly onPoweroff: LifecycleAction;
  readonly onReboot: LifecycleAction;
  readonly onCrash: LifecycleAction;
}

export interface ClockTimer {
  readonly name: 'rtc' | 'pit' | 'hpet';
  readonly tickpolicy?: 'catchup' | 'delay';
  readonly present?: boolean;
}

export interface Domain {
  readonly type: VirtType;
  readonly name: string;
  readonly uuid: string;
  /** libosinfo URI of the guest OS, kept in <metadata> as virt-install does. */
  readonly osinfo?: string;
  /** <memory>: the maximum the guest may balloon up to. */
  readonly memoryKiB: number;
  /** <currentMemory>: what the guest gets at boot. */
  readonly currentMemoryKiB: number;
  /** <vcpu>: the maximum; vcpusCurrent is what is online at boot. */
  readonly vcpusMax: number;
  readonly vcpusCurrent: number;
  readonly cpu?: Cpu;
  readonly os: DomainOs;
  readonly features: { readonly acpi: boolean; readonly apic: boolean; readonly pae: boolean };
  readonly clock: { readonly offset: 'utc' | 'localtime'; readonly timers: readonly ClockTimer[] };
  readonly lifecycle: Lifecycle;
  readonly devices: {
    readonly disks: readonly Disk[];
    readonly interfaces: readonly NetworkInterface[];
    readonly serials: readonly CharDevice[];
    readonly consoles: readonly CharDevice[];
    readonly graphics: readonly Graphics[];
    readonly rng: readonly Rng[];
  };
}

/** libvirt's defaults for the lifecycle actions (formatdomain "Events configuration"). */
export const DEFAULT_LIFECYCLE: Lifecycle = { onPoweroff: 'destroy', onReboot: 'restart', onCrash: 'destroy' };

export const KIB_PER_MIB = 1024;
export const BYTES_PER_GIB = 1024 ** 3;
