// NetBackends for the virtio-net tests: a `Wire` joins two NICs back to back (a crossover
// cable: what one sends, the other receives), and a `Port` is a host-side end the test
// holds, recording frames the guest sent and injecting frames for the guest. Both
// implement the real NetBackend contract; neither fakes a result.

import type { NetBackend } from '../../../../../src/vm/net/backend.js';

export class Port implements NetBackend {
  sent: Uint8Array[] = [];
  closed = false;
  private deliver: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  onReceive(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }
  /** Hands a frame to the guest, reusing the buffer afterwards as a real backend may. */
  inject(frame: Uint8Array): void {
    const scratch = frame.slice();
    this.deliver?.(scratch);
    scratch.fill(0xcc);
  }
  close(): void {
    this.closed = true;
  }
}

export function wire(): [NetBackend, NetBackend] {
  const a = new Port();
  const b = new Port();
  a.send = (frame) => b.inject(frame);
  b.send = (frame) => a.inject(frame);
  return [a, b];
}
