// The virtio devices as the machine builds them: one factory per device, each returning
// the PCI function (a PciFunction and MmioDevice, with a `reset()` hook for machine
// reset). See the wiring notes at the top of virtio-pci.ts.

import type { IoBus } from '../../bus.js';
import type { IrqLine, MsiSink } from '../../irq.js';
import type { GuestMemory } from '../../memory.js';
import type { NetBackend } from '../../net/backend.js';
import type { BlockDevice } from '../../../storage/block-device.js';
import { VirtioBlk, type BlkCacheMode } from './virtio-blk.js';
import { VirtioNet } from './virtio-net.js';
import { VirtioPciFunction } from './virtio-pci.js';
import { VirtioRng } from './virtio-rng.js';

export { VirtioPciFunction, VIRTIO_PCI_BAR_SIZE } from './virtio-pci.js';
export type { BlkCacheMode } from './virtio-blk.js';

/** What every virtio PCI function needs from the machine. */
export interface VirtioPlatform {
  bus: IoBus;
  mem: GuestMemory;
  /** INTx line (the slot's INTA# as routed by the _PRT/IOAPIC). */
  irq: IrqLine;
  /** Where MSI-X messages go (the LAPICs). */
  msi: MsiSink;
  /** Debug log for guest errors (one line each time a device breaks). */
  log?: (message: string) => void;
}


export function createVirtioBlk(
  opts: VirtioPlatform & { device: BlockDevice; serial?: string; cache?: BlkCacheMode; readOnly?: boolean },
): VirtioPciFunction & { readonly device: VirtioBlk } {
  const blk = new VirtioBlk({ device: opts.device, serial: opts.serial, cache: opts.cache, readOnly: opts.readOnly });
  return new VirtioPciFunction({ ...opts, device: blk }) as VirtioPciFunction & { readonly device: VirtioBlk };
}

export function createVirtioNet(
  opts: VirtioPlatform & { backend: NetBackend; mac: Uint8Array },
): VirtioPciFunction & { readonly device: VirtioNet } {
  const net = new VirtioNet({ backend: opts.backend, mac: opts.mac });
  return new VirtioPciFunction({ ...opts, device: net }) as VirtioPciFunction & { readonly device: VirtioNet };
}

export function createVirtioRng(opts: VirtioPlatform): VirtioPciFunction & { readonly device: VirtioRng } {
  return new VirtioPciFunction({ ...opts, device: new VirtioRng() }) as VirtioPciFunction & { readonly device: VirtioRng };
}
