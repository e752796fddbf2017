// The split between a virtio transport and a virtio device (STYLE.md §4; virtio 1.2 §2,
// §3): the transport (virtio-pci.ts) owns status, feature negotiation, queue setup and
// interrupts; a device (virtio-blk.ts, virtio-net.ts, virtio-rng.ts) owns its config
// space and what its queues carry.
//
// Differs from STYLE.md §4's sketch in one place: `activate` takes a VirtioContext
// instead of a single IrqLine, because with MSI-X every queue has its own vector, and a
// device fed from outside the vCPU's notify path (virtio-net's receive side) needs a way
// to report a broken ring without throwing into its caller.

import type { GuestMemory } from '../../memory.js';
import type { Virtqueue } from './virtqueue.js';

// virtio 1.2 §2.1 device status bits
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 0x40;
export const VIRTIO_STATUS_FAILED = 0x80;

// virtio 1.2 §6 reserved feature bits the transport handles
export const VIRTIO_F_RING_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_RING_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

// virtio 1.2 §5 device ids
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_RNG = 4;

/** What an active device may do besides touching its queues. */
export interface VirtioContext {
  readonly mem: GuestMemory;
  /** Enabled queues by index (undefined where the driver left a queue disabled). */
  readonly queues: ReadonlyArray<Virtqueue | undefined>;
  /** The features the driver accepted. */
  readonly features: bigint;
  /** False once the device broke (NEEDS_RESET) or was reset: stop touching the queues. */
  readonly running: boolean;
  /** Used elements were pushed on queue `index`: interrupt the driver if it wants one. */
  signalQueue(index: number): void;
  /** The device config changed (e.g. link status): config-change interrupt. */
  configChanged(): void;
  /**
   * Runs device work outside the transport's notify path (e.g. a frame arriving from the
   * host); a guest error inside marks the device DEVICE_NEEDS_RESET instead of throwing.
   */
  guard(work: () => void): void;
}

export interface VirtioDevice {
  /** Short name for logs ("virtio-blk"). */
  readonly name: string;
  readonly deviceType: number;
  /** Maximum size of each queue, in queue-index order. */
  readonly queueSizes: readonly number[];
  /** Device-specific feature bits (0-23) offered; the transport adds the ring/version bits. */
  readonly features: bigint;
  /** Bytes of device-specific config space (0 when the device has none). */
  readonly configSizeBytes: number;
  /** PCI class code (class << 16 | subclass << 8 | prog-if). */
  readonly pciClass: number;
  readConfig(offset: number, size: 1 | 2 | 4): number;
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /** The driver set DRIVER_OK. */
  activate(ctx: VirtioContext): void;
  /** The driver notified queue `index` (or the device was just activated). May throw VirtqueueError. */
  processQueue(index: number): void;
  /** Device reset (status 0, or the transport's reset hook). */
  reset(): void;
  /** Releases what the device owns on the host (its disk, its network backend). */
  close(): void;
}

/** Reads `size` little-endian bytes of `bytes` at `offset` (0 past the end). */
export function readLe(bytes: Uint8Array, offset: number, size: 1 | 2 | 4): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < bytes.length && offset + i >= 0 ? bytes[offset + i] : 0);
  return v >>> 0;
}
