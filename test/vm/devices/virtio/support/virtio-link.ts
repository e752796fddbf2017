// A guest network stack's view of a virtio-net device: what Linux's virtio_net driver does
// between the NIC and the IP stack. It implements NetBackend towards a test IP stack
// (test/vm/net/support/test-guest.ts), turning its frames into transmit chains and the
// device's receive interrupts into frames, with mergeable receive buffers re-posted as
// they are used. Interrupts are handled on a later turn of the event loop, as a guest's
// handler runs after the device has returned, never inside it.

import type { NetBackend } from '../../../../../src/vm/net/backend.js';
import { VIRTIO_NET_HDR_BYTES } from '../../../../../src/vm/devices/virtio/virtio-net.js';
import type { GuestQueue, MsiRecorder, VirtioGuestDriver } from './guest-driver.js';

const RX_BUFFER_BYTES = 1536;
const RX_VECTOR_DATA = 0x41;
const TX_VECTOR_DATA = 0x42;

export class VirtioLink implements NetBackend {
  private deliver: ((frame: Uint8Array) => void) | null = null;
  private readonly rx: GuestQueue;
  private readonly tx: GuestQueue;
  private readonly rxAddr = new Map<number, number>();
  private readonly txFree: number[] = [];
  private scheduled = false;
  framesIn = 0;
  framesOut = 0;

  constructor(private readonly drv: VirtioGuestDriver, msi: MsiRecorder, rxBuffers = 128) {
    this.rx = drv.queues[0];
    this.tx = drv.queues[1];
    for (let i = 0; i < rxBuffers; i++) this.postRx(drv.ram.alloc(RX_BUFFER_BYTES));
    this.rx.kick();
    // Transmit slots: header + frame up to 1514 bytes, reused once the device is done.
    for (let i = 0; i < 64; i++) this.txFree.push(drv.ram.alloc(VIRTIO_NET_HDR_BYTES + 1514));
    msi.onMessage = (data) => {
      if (data !== RX_VECTOR_DATA && data !== TX_VECTOR_DATA) return;
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.poll();
      });
    };
  }

  private postRx(addr: number): void {
    const head = this.rx.add([{ addr, len: RX_BUFFER_BYTES, write: true }]);
    this.rxAddr.set(head, addr);
  }

  onReceive(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  send(frame: Uint8Array): void {
    this.reapTx();
    const slot = this.txFree.pop();
    if (slot === undefined || frame.length > 1514) return; // a full ring drops, like a busy NIC
    const mem = this.drv.ram.mem;
    mem.slice(slot, VIRTIO_NET_HDR_BYTES).fill(0);
    mem.slice(slot + VIRTIO_NET_HDR_BYTES, frame.length).set(frame);
    const head = this.tx.add([{ addr: slot, len: VIRTIO_NET_HDR_BYTES + frame.length }]);
    this.txSlot.set(head, slot);
    this.framesOut++;
    this.tx.kick();
  }

  private readonly txSlot = new Map<number, number>();

  private reapTx(): void {
    for (const u of this.tx.reap()) {
      const slot = this.txSlot.get(u.id);
      if (slot !== undefined) this.txFree.push(slot);
    }
  }

  /** The receive interrupt handler: gather merged buffers into frames, re-post buffers. */
  private poll(): void {
    this.reapTx();
    const mem = this.drv.ram.mem;
    const used = this.rx.reap();
    for (let i = 0; i < used.length; ) {
      const first = this.rxAddr.get(used[i].id)!;
      const count = mem.read16(first + 10);
      const parts: Uint8Array[] = [];
      for (let k = 0; k < count && i < used.length; k++, i++) {
        const addr = this.rxAddr.get(used[i].id)!;
        parts.push(mem.slice(addr, used[i].len).slice());
        this.rxAddr.delete(used[i].id);
        this.postRx(addr);
      }
      const all = Buffer.concat(parts);
      this.framesIn++;
      this.deliver?.(all.subarray(VIRTIO_NET_HDR_BYTES));
    }
    if (used.length > 0) this.rx.kick();
  }

  close(): void {}
}
