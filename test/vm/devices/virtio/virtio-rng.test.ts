import { describe, expect, it } from 'vitest';
import { createVirtioRng } from '../../../../src/vm/devices/virtio/index.js';
import { RNG_MAX_REQUEST_BYTES } from '../../../../src/vm/devices/virtio/virtio-rng.js';
import { VirtioGuestDriver } from './support/guest-driver.js';

function setup() {
  const p = VirtioGuestDriver.platform();
  const fn = createVirtioRng({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi });
  const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: true });
  const [q] = drv.start(1);
  return { ...p, fn, drv, q };
}

describe('virtio-rng', () => {
  it('is device 0x1044 with one queue, no features of its own and no device config', () => {
    const { fn, drv } = setup();
    expect(fn.configRead(2, 2)).toBe(0x1044);
    expect(drv.deviceFeatures() & 0xffffffn).toBe(0n);
    expect(drv.caps.device).toBeUndefined();
  });

  it('fills every writable buffer of a request with fresh host randomness', () => {
    const { ram, q, msi } = setup();
    const a = ram.alloc(16);
    const b = ram.alloc(4096);
    q.add([{ addr: a, len: 16, write: true }, { addr: b, len: 4096, write: true }]);
    const c = ram.alloc(4096);
    q.add([{ addr: c, len: 4096, write: true }], { indirect: true });
    q.kick();
    expect(q.reap().map((u) => u.len)).toEqual([4112, 4096]);
    expect(msi.take()).toEqual([0x41]);
    const first = ram.bytes(b, 4096);
    const second = ram.bytes(c, 4096);
    // 4096 random bytes: every byte value shows up with overwhelming probability, and two
    // requests never match.
    expect(new Set(first).size).toBeGreaterThan(200);
    expect(Buffer.compare(Buffer.from(first), Buffer.from(second))).not.toBe(0);
    expect(ram.bytes(a, 16).some((x) => x !== 0)).toBe(true);
  });

  it('caps one request at RNG_MAX_REQUEST_BYTES and reports what it wrote', () => {
    const { ram, q, fn } = setup();
    const big = ram.alloc(RNG_MAX_REQUEST_BYTES + 4096);
    q.add([{ addr: big, len: RNG_MAX_REQUEST_BYTES + 4096, write: true }]);
    q.kick();
    expect(q.reap()).toEqual([{ id: 0, len: RNG_MAX_REQUEST_BYTES }]);
    expect(ram.bytes(big + RNG_MAX_REQUEST_BYTES, 4096).every((x) => x === 0)).toBe(true);
    expect(fn.device.bytesServed).toBe(RNG_MAX_REQUEST_BYTES);
  });
});
