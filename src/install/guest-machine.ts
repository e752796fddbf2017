// A guest as the install flow describes it (memory, vCPUs, a kernel to boot directly,
// disks and NICs), turned into the VM core's MachineConfig: each disk becomes a
// virtio-blk function and each NIC a virtio-net function, built inside the machine's
// worker by the virtio factory module. This is where "what the VM core can emulate" is
// enforced: anything else is refused at start with a clear error, never dropped.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsvirtError } from '../lib/errors.js';
import type { ImageFormat } from '../storage/open-image.js';
import type { PortForward } from '../vm/net/port-forward.js';
import { runMachine, type ConsoleIo, type MachineConfig, type MachineResult, type PciDeviceSpec } from '../vm/machine/index.js';

export interface GuestDisk {
  path: string;
  format?: ImageFormat;
  readOnly: boolean;
  serial?: string;
  cache?: string;
  /** For messages: the guest-visible target (vda). */
  target: string;
  bus: string;
  device: string;
  /** Backing files allowed outside the image's directory (the user named them). */
  allowBacking?: readonly string[];
}

export interface GuestNic {
  mac: string;
  model: string;
  network: { type: 'user'; portForwards?: readonly PortForward[] } | { type: 'bridge'; bridge: string };
}

export interface GuestSpec {
  memoryBytes: number;
  vcpus: number;
  kernel: string | Uint8Array;
  initrd?: string | Uint8Array;
  cmdline: string;
  disks: readonly GuestDisk[];
  nics: readonly GuestNic[];
  rng: boolean;
  onReboot: 'restart' | 'destroy';
  /** Who runs the vCPUs: KVM for a domain of type kvm, else the software CPU. */
  accelerator?: 'kvm' | 'ts';
}

export type GuestRunner = (spec: GuestSpec, console: ConsoleIo) => Promise<MachineResult>;

// The worker imports the factory module by URL: the built .js beside this module, or the
// built tree when this runs from src/ under the test runner.
function virtioFactoryModule(): string {
  const here = new URL('../vm/devices/virtio/machine-factories.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here.href;
  const built = new URL('../../dist/vm/devices/virtio/machine-factories.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  throw new Error('the virtio factory module is not built; run npm run build');
}

/** Refuses what the VM core cannot emulate yet (issue 7: never silently dropped). */
export function checkEmulatable(spec: Pick<GuestSpec, 'disks' | 'nics'>): void {
  for (const d of spec.disks) {
    if (d.device !== 'disk') {
      throw new TsvirtError(`--disk ${d.target}: device=${d.device} is not supported by the VM core yet`, 'use device=disk (virtio-blk)');
    }
    if (d.bus !== 'virtio') {
      throw new TsvirtError(`--disk ${d.target}: bus=${d.bus} is not supported by the VM core yet`, 'use bus=virtio');
    }
  }
  for (const n of spec.nics) {
    if (n.model !== 'virtio') {
      throw new TsvirtError(`--network model=${n.model} is not supported by the VM core yet`, 'use model=virtio');
    }
  }
}

export function machineConfigFor(spec: GuestSpec): MachineConfig {
  checkEmulatable(spec);
  const module = virtioFactoryModule();
  const pciDevices: PciDeviceSpec[] = [
    ...spec.disks.map((d) => ({
      module,
      exportName: 'virtioBlkFromImage',
      options: { path: d.path, format: d.format, readOnly: d.readOnly, serial: d.serial, cache: d.cache, allowBacking: d.allowBacking },
    })),
    ...spec.nics.map((n) => ({ module, exportName: 'virtioNetFromBackend', options: { mac: n.mac, network: n.network } })),
    ...(spec.rng ? [{ module, exportName: 'virtioRngFromHost' }] : []),
  ];
  return {
    memoryBytes: spec.memoryBytes,
    vcpus: spec.vcpus,
    kernel: spec.kernel,
    initrd: spec.initrd,
    cmdline: spec.cmdline,
    pciDevices,
    accelerator: spec.accelerator ?? 'ts',
    onReboot: spec.onReboot,
  };
}

/** The production runner: tsvirt's own VM core. */
export const runOnVmCore: GuestRunner = (spec, console) => runMachine(machineConfigFor(spec), console);
