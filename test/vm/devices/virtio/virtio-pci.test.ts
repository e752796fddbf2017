import { describe, expect, it } from 'vitest';
import { createVirtioRng } from '../../../../src/vm/devices/virtio/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../../src/vm/devices/virtio/virtio-device.js';
import {
  BAR_COMMON,
  CAP_OFFSETS,
  COMMON_MSIX,
  COMMON_NUMQ,
  COMMON_Q_ENABLE,
  COMMON_Q_MSIX,
  COMMON_Q_SELECT,
  COMMON_Q_SIZE,
  COMMON_STATUS,
  VIRTIO_PCI_BAR_SIZE,
} from '../../../../src/vm/devices/virtio/virtio-pci.js';
import { BAR_GPA, GuestRam, VirtioGuestDriver } from './support/guest-driver.js';

function rng(opts: { msix?: boolean; ram?: GuestRam } = {}) {
  const p = VirtioGuestDriver.platform(opts.ram);
  const fn = createVirtioRng({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi });
  return { ...p, fn };
}

/** One rng request: a writable buffer; returns its address. */
function request(d: ReturnType<typeof rng>, drv: VirtioGuestDriver, len = 64, reap = true): number {
  const buf = d.ram.alloc(len);
  drv.queues[0].add([{ addr: buf, len, write: true }]);
  drv.queues[0].kick();
  // Like the driver's interrupt handler: take the used element, re-arm used_event.
  if (reap) drv.queues[0].reap();
  return buf;
}

describe('virtio-pci transport', () => {
  it('presents a modern virtio header and the capability chain Linux looks for', () => {
    const { fn } = rng();
    expect(fn.configRead(0, 4)).toBe((0x1044 << 16) | 0x1af4);
    expect(fn.configRead(0x08, 1)).toBeGreaterThanOrEqual(1); // revision
    expect(fn.configRead(0x08, 4) >>> 8).toBe(0xff0000); // class: other
    expect(fn.configRead(0x0e, 1)).toBe(0); // type-0 header, single function
    expect(fn.configRead(0x2c, 2)).toBe(0x1af4);
    expect(fn.configRead(0x2e, 2)).toBeGreaterThanOrEqual(0x40);
    expect(fn.configRead(0x06, 2) & 0x10).toBe(0x10);
    expect(fn.configRead(0x3d, 1)).toBe(1);
    const seen: Array<[number, number]> = [];
    for (let at = fn.configRead(0x34, 1); at; at = fn.configRead(at + 1, 1)) {
      seen.push([fn.configRead(at, 1), fn.configRead(at, 1) === 9 ? fn.configRead(at + 3, 1) : -1]);
    }
    // rng has no device config: common, ISR, notify, PCI cfg access, then MSI-X.
    expect(seen).toEqual([[9, 1], [9, 3], [9, 2], [9, 5], [0x11, -1]]);
    expect(fn.configRead(CAP_OFFSETS.msix + 2, 2) & 0x7ff).toBe(1); // 2 vectors: config + 1 queue
    expect(fn.configRead(0x1000, 4)).toBe(0xffff_ffff); // beyond 4 KiB ECAM space
    expect(fn.configRead(0x100, 4)).toBe(0); // no extended capabilities
  });

  it('sizes, maps, moves and unmaps BAR0 on the IoBus with memory decoding', () => {
    const { fn, bus } = rng();
    fn.configWrite(0x10, 4, 0xffff_ffff);
    expect(fn.configRead(0x10, 4) >>> 0).toBe((~(VIRTIO_PCI_BAR_SIZE - 1) & ~0xf | 0x4) >>> 0);
    fn.configWrite(0x14, 4, 0xffff_ffff);
    expect(fn.configRead(0x14, 4) >>> 0).toBe(0xffff_ffff);
    fn.configWrite(0x10, 4, 0xd000_0000);
    fn.configWrite(0x14, 4, 0);
    expect(bus.claimsMmio(0xd000_0000)).toBe(false); // decoding still off
    fn.configWrite(0x04, 2, 0x2);
    expect(fn.barAddress).toBe(0xd000_0000);
    expect(bus.mmioRead(0xd000_0000 + BAR_COMMON + COMMON_NUMQ, 2)).toBe(1);
    fn.configWrite(0x10, 4, 0xe000_0000);
    expect(bus.claimsMmio(0xd000_0000)).toBe(false);
    expect(bus.mmioRead(0xe000_0000 + COMMON_NUMQ, 2)).toBe(1);
    fn.configWrite(0x14, 4, 1); // above 4 GiB
    expect(fn.barAddress).toBe(0x1_e000_0000);
    fn.configWrite(0x04, 2, 0);
    expect(fn.barAddress).toBe(null);
    expect(bus.claimsMmio(0x1_e000_0000)).toBe(false);
    // A BAR placed over another device stays unmapped instead of throwing.
    bus.registerMmio(0xf000_0000, 0x1000, { mmioRead: () => 0, mmioWrite: () => undefined }, 'other');
    fn.configWrite(0x14, 4, 0);
    fn.configWrite(0x10, 4, 0xf000_0000);
    fn.configWrite(0x04, 2, 0x2);
    expect(fn.barAddress).toBe(null);
    expect(fn.faults.guest).toBe(1);
    fn.reset();
    expect(fn.configRead(0x10, 4)).toBe(0x4);
  });

  it('negotiates features: VERSION_1 required, unknown bits refused at FEATURES_OK', () => {
    const { fn, bus, ram } = rng();
    const drv = new VirtioGuestDriver(fn, bus, ram);
    const offered = drv.deviceFeatures();
    expect(offered).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX);
    expect(drv.negotiate(VIRTIO_F_VERSION_1 | (1n << 40n))).toBe(true); // asks only for what was offered
    drv.setStatus(0);
    drv.setStatus(3);
    drv.writeFeatures(VIRTIO_F_VERSION_1 | (1n << 40n));
    drv.setStatus(3 | 8);
    expect(drv.status() & 8).toBe(0);
    drv.setStatus(0);
    drv.setStatus(3);
    drv.writeFeatures(VIRTIO_F_RING_INDIRECT_DESC); // a legacy driver
    drv.setStatus(3 | 8);
    expect(drv.status() & 8).toBe(0);
    expect(drv.negotiate()).toBe(true);
    expect(drv.status()).toBe(11);
  });

  it('serves the common config through the VIRTIO_PCI_CAP_PCI_CFG window too', () => {
    const { fn, bus, ram } = rng();
    new VirtioGuestDriver(fn, bus, ram);
    const pc = CAP_OFFSETS.pciCfg;
    fn.configWrite(pc + 4, 1, 0);
    fn.configWrite(pc + 8, 4, COMMON_NUMQ);
    fn.configWrite(pc + 12, 4, 2);
    expect(fn.configRead(pc + 16, 4)).toBe(1);
    expect(fn.configRead(pc + 16, 1)).toBe(1);
    fn.configWrite(pc + 8, 4, COMMON_Q_SIZE); // queue_size and queue_msix_vector in one dword
    fn.configWrite(pc + 12, 4, 4);
    expect(fn.configRead(pc + 16, 4) >>> 0).toBe((0xffff << 16 | 64) >>> 0);
    expect(fn.configRead(pc + 16, 2)).toBe(64);
    expect(fn.configRead(pc + 18, 2)).toBe(0xffff);
    expect(fn.configRead(pc + 17, 1)).toBe(0);
    fn.configWrite(pc + 8, 4, COMMON_STATUS);
    fn.configWrite(pc + 12, 4, 1);
    fn.configWrite(pc + 16, 1, 1);
    expect(bus.mmioRead(BAR_GPA + COMMON_STATUS, 1)).toBe(1);
    fn.configWrite(pc + 8, 4, VIRTIO_PCI_BAR_SIZE); // outside the BAR: reads 0, no fault
    expect(fn.configRead(pc + 16, 4)).toBe(0);
  });

  it('delivers queue interrupts as MSI-X messages, holding masked ones in the PBA', () => {
    const d = rng({ msix: true });
    const drv = new VirtioGuestDriver(d.fn, d.bus, d.ram, { msix: true });
    drv.start(1);
    request(d, drv);
    expect(d.msi.messages).toEqual([{ address: 0xfee0_0000n, data: 0x41 }]);
    expect(d.irq.level).toBe(false);
    d.msi.take();
    // Mask vector 1: the message waits in the PBA and goes out on unmask.
    d.bus.mmioWrite(drv.caps.msixTable + 16 + 12, 4, 1);
    request(d, drv);
    expect(d.msi.take()).toEqual([]);
    expect(d.bus.mmioRead(drv.caps.msixPba, 4)).toBe(2);
    d.bus.mmioWrite(drv.caps.msixTable + 16 + 12, 4, 0);
    expect(d.msi.take()).toEqual([0x41]);
    expect(d.bus.mmioRead(drv.caps.msixPba, 4)).toBe(0);
    // Vectors the table does not have read back as NO_VECTOR (Linux then falls back).
    drv.w(COMMON_MSIX, 2, 7);
    expect(drv.r(COMMON_MSIX, 2)).toBe(0xffff);
    drv.w(COMMON_Q_SELECT, 2, 0);
    drv.w(COMMON_Q_MSIX, 2, 0xffff);
    request(d, drv);
    expect(d.msi.take()).toEqual([]);
  });

  it('falls back to INTx: line high while ISR is set, low once the driver reads ISR', () => {
    const d = rng();
    const drv = new VirtioGuestDriver(d.fn, d.bus, d.ram);
    drv.start(1);
    const buf = request(d, drv, 64, false);
    expect(drv.queues[0].reap()).toEqual([{ id: 0, len: 64 }]);
    expect(d.ram.bytes(buf, 64).some((b) => b !== 0)).toBe(true);
    expect(d.irq.level).toBe(true);
    expect(d.fn.configRead(0x06, 2) & 0x08).toBe(0x08);
    expect(drv.readIsr()).toBe(1);
    expect(d.irq.level).toBe(false);
    expect(drv.readIsr()).toBe(0);
    // INTx Disable in the command register keeps the line low.
    d.fn.configWrite(0x04, 2, 0x406);
    request(d, drv);
    expect(d.irq.level).toBe(false);
    d.fn.configWrite(0x04, 2, 0x006);
    expect(d.irq.level).toBe(true);
  });

  it('suppresses interrupts with VIRTQ_AVAIL_F_NO_INTERRUPT and, with EVENT_IDX, honours used_event', () => {
    const d = rng({ msix: true });
    const noEvent = new VirtioGuestDriver(d.fn, d.bus, d.ram, { msix: true });
    noEvent.start(1, VIRTIO_F_VERSION_1);
    noEvent.queues[0].setAvailFlags(1);
    request(d, noEvent);
    expect(d.msi.take()).toEqual([]);
    noEvent.queues[0].setAvailFlags(0);
    request(d, noEvent);
    expect(d.msi.take()).toEqual([0x41]);

    const drv = new VirtioGuestDriver(d.fn, d.bus, d.ram, { msix: true });
    drv.start(1);
    const q = drv.queues[0];
    q.setUsedEvent(2); // interrupt only once used idx passes 2
    request(d, drv, 64, false);
    request(d, drv, 64, false);
    expect(d.msi.take()).toEqual([]);
    request(d, drv, 64, false);
    expect(d.msi.take()).toEqual([0x41]);
    expect(q.availEvent()).toBe(3); // the device asks to be notified at the next one
  });

  it('checks queue size and ring placement at queue_enable and reports NEEDS_RESET', () => {
    const ram = new GuestRam(1 << 20);
    const cases: Array<[string, (drv: VirtioGuestDriver) => void]> = [
      ['size not a power of two', (drv) => drv.w(COMMON_Q_SIZE, 2, 48)],
      ['size above the maximum', (drv) => drv.w(COMMON_Q_SIZE, 2, 128)],
      ['size zero', (drv) => drv.w(COMMON_Q_SIZE, 2, 0)],
      ['descriptor table outside RAM', (drv) => drv.writeQueueAddrs(0x10_0000, 0x2000, 0x3000)],
      ['descriptor table crossing the end of RAM', (drv) => drv.writeQueueAddrs(0xfff00, 0x2000, 0x3000)],
      ['misaligned descriptor table', (drv) => drv.writeQueueAddrs(0x1008, 0x2000, 0x3000)],
      ['misaligned used ring', (drv) => drv.writeQueueAddrs(0x1000, 0x2000, 0x3002)],
      ['used ring beyond 2^53', (drv) => {
        drv.writeQueueAddrs(0x1000, 0x2000, 0x3000);
        drv.w(0x34, 4, 0xffff_ffff);
      }],
    ];
    for (const [what, spoil] of cases) {
      const d = rng({ ram });
      const drv = new VirtioGuestDriver(d.fn, d.bus, d.ram);
      expect(drv.negotiate()).toBe(true);
      drv.w(COMMON_Q_SELECT, 2, 0);
      drv.writeQueueAddrs(0x1000, 0x2000, 0x3000);
      spoil(drv);
      drv.w(COMMON_Q_ENABLE, 2, 1);
      expect({ what, needsReset: d.fn.needsReset, enabled: drv.r(COMMON_Q_ENABLE, 2) }).toEqual({ what, needsReset: true, enabled: 0 });
      expect(d.fn.faults).toMatchObject({ guest: 1, memory: 0, internal: 0 });
      // DRIVER_OK on a broken device does not start it; a reset clears the state.
      drv.setStatus(15);
      expect(drv.status() & 0x40).toBe(0x40);
      drv.setStatus(0);
      expect(drv.status()).toBe(0);
    }
  });

  it('logs one line per breakage, not one per bad notify', () => {
    const p = VirtioGuestDriver.platform();
    const lines: string[] = [];
    const fn = createVirtioRng({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, log: (m) => lines.push(m) });
    const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: true });
    const breakIt = () => {
      const q = drv.queues[0];
      q.setAvailIdx(1000); // more chains than the queue holds
      q.kick();
      q.kick();
    };
    drv.start(1);
    breakIt();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/virtio-rng: queue 0: avail index moved from 0 to 1000; device needs reset/);
    drv.start(1);
    breakIt();
    expect(lines).toHaveLength(2);
    expect(fn.faults.guest).toBe(2); // the second kick on a broken device is not even looked at
  });

  it('resets: status 0 clears queues, vectors and ISR, and the device starts cleanly again', () => {
    const d = rng({ msix: true });
    const drv = new VirtioGuestDriver(d.fn, d.bus, d.ram, { msix: true });
    drv.start(1);
    drv.setStatus(0);
    expect(drv.r(COMMON_Q_ENABLE, 2)).toBe(0);
    expect(drv.r(COMMON_MSIX, 2)).toBe(0xffff);
    expect(drv.r(COMMON_Q_SIZE, 2)).toBe(64);
    drv.start(1);
    const buf = request(d, drv, 64, false);
    expect(drv.queues[0].reap()).toEqual([{ id: 0, len: 64 }]);
    expect(d.ram.bytes(buf, 64).some((b) => b !== 0)).toBe(true);
  });
});
