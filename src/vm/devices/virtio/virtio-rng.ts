// virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue whose
// device-writable buffers are filled from the host's CSPRNG (node:crypto), so a guest
// never stalls waiting for entropy at boot.
//
// Leaves out: nothing of the device; it has no features and no config space. A request
// is filled up to RNG_MAX_REQUEST_BYTES (§5.4.6.1 lets the device write fewer bytes
// than offered).

import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG, type VirtioContext, type VirtioDevice } from './virtio-device.js';

export const RNG_MAX_REQUEST_BYTES = 64 * 1024;
export const VIRTIO_RNG_QUEUE_SIZE = 64;

export class VirtioRng implements VirtioDevice {
  readonly name = 'virtio-rng';
  readonly deviceType = VIRTIO_ID_RNG;
  readonly queueSizes = [VIRTIO_RNG_QUEUE_SIZE];
  readonly features = 0n;
  readonly configSizeBytes = 0;
  readonly pciClass = 0xff0000; // PCI_CLASS_OTHERS, as QEMU's virtio-rng-pci
  bytesServed = 0;
  private ctx: VirtioContext | null = null;

  readConfig(): number {
    return 0;
  }
  writeConfig(): void {}

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  reset(): void {
    this.ctx = null;
  }

  close(): void {
    this.ctx = null;
  }

  processQueue(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queues[index];
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      let filled = 0;
      // checked: the views cover only writable buffers the virtqueue placed in RAM.
      for (const v of chain.writableViews(0, Math.min(chain.writableBytes, RNG_MAX_REQUEST_BYTES))) {
        randomFillSync(v);
        filled += v.length;
      }
      this.bytesServed += filled;
      q.pushUsed(chain, filled);
    }
    ctx.signalQueue(index);
  }
}
