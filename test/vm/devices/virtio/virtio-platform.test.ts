// The virtio-pci functions on the PC platform's own parts: config cycles through the PCI
// host's mechanism #1 ports (0xCF8/0xCFC) and ECAM, MSI-X messages through the APIC bus
// into a LAPIC, and INTx through the IOAPIC pin the _PRT swizzle names, with the level
// dropping when the driver reads ISR. This is the wiring the machine does.

import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../../src/vm/bus.js';
import { ManualClock } from '../../../../src/vm/clock.js';
import { ApicBus } from '../../../../src/vm/devices/apic-bus.js';
import { Ioapic, IOREDTBL, IOREGSEL, IOWIN } from '../../../../src/vm/devices/ioapic.js';
import { APIC_EOI, APIC_SPIV, Lapic } from '../../../../src/vm/devices/lapic.js';
import { pciIntxGsi } from '../../../../src/vm/devices/pci/intx-routing.js';
import type { PciAddress, PciFunction } from '../../../../src/vm/devices/pci/pci-function.js';
import { ECAM_BUS_BYTES, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS, PciHost } from '../../../../src/vm/devices/pci/pci-host.js';
import { createVirtioRng } from '../../../../src/vm/devices/virtio/index.js';
import { GuestRam, VirtioGuestDriver } from './support/guest-driver.js';

const ECAM_BASE = 0xb000_0000;
const SLOT: PciAddress = { device: 5, function: 0 };

function platform() {
  const bus = new IoBus();
  const apicBus = new ApicBus();
  let ioapic: Ioapic | undefined;
  const lapic = new Lapic(0, { apicBus, clock: new ManualClock(), timerHz: 1e9, onLevelEoi: (v) => ioapic!.eoi(v) });
  apicBus.attach(lapic);
  ioapic = new Ioapic(apicBus);
  lapic.mmioWrite(APIC_SPIV, 4, 0x1ff);
  const host = new PciHost();
  bus.registerPio(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS, host.configPorts, 'pci-config');
  bus.registerMmio(ECAM_BASE, ECAM_BUS_BYTES, host.ecam, 'ecam');
  const ram = new GuestRam();
  const gsi = pciIntxGsi(SLOT, 1);
  const fn = createVirtioRng({
    bus,
    mem: ram.mem,
    irq: { raise: () => ioapic!.setIrq(gsi, true), lower: () => ioapic!.setIrq(gsi, false) },
    msi: apicBus,
  });
  host.register(SLOT, fn);
  return { bus, lapic, ioapic, host, ram, gsi, fn };
}

/** Config space as the guest reaches it: CONFIG_ADDRESS/CONFIG_DATA (mechanism #1). */
function viaPorts(bus: IoBus, slot: PciAddress): PciFunction {
  const select = (off: number) => bus.pioWrite(0xcf8, 4, (0x8000_0000 | (slot.device << 11) | (slot.function << 8) | (off & 0xfc)) >>> 0);
  return {
    configRead(off, size) {
      select(off);
      return bus.pioRead(0xcfc + (off & 3), size);
    },
    configWrite(off, size, value) {
      select(off);
      bus.pioWrite(0xcfc + (off & 3), size, value);
    },
  };
}

/** Config space through ECAM (MMCONFIG), as Linux prefers once MCFG is present. */
function viaEcam(bus: IoBus, slot: PciAddress): PciFunction {
  const base = ECAM_BASE + ((slot.device << 15) | (slot.function << 12));
  return {
    configRead: (off, size) => bus.mmioRead(base + off, size),
    configWrite: (off, size, value) => bus.mmioWrite(base + off, size, value),
  };
}

describe('virtio-pci on the PC platform', () => {
  it('is found and set up through 0xCF8/0xCFC, and MSI-X reaches the LAPIC as the programmed vector', () => {
    const p = platform();
    const cfg = viaPorts(p.bus, SLOT);
    expect(cfg.configRead(0, 4)).toBe((0x1044 << 16) | 0x1af4);
    const drv = new VirtioGuestDriver(cfg, p.bus, p.ram, { msix: true });
    drv.start(1);
    expect(p.fn.barAddress).not.toBeNull();
    // Queue 0's vector (table entry 1) carries data 0x41: the LAPIC gets vector 0x41.
    const buf = p.ram.alloc(32);
    drv.queues[0].add([{ addr: buf, len: 32, write: true }]);
    drv.queues[0].kick();
    expect(p.lapic.hasInterrupt()).toBe(true);
    expect(p.lapic.acknowledgeInterrupt()).toBe(0x41);
    p.lapic.mmioWrite(APIC_EOI, 4, 0);
    expect(drv.queues[0].reap()).toEqual([{ id: 0, len: 32 }]);
  });

  it('falls back to INTx on the swizzled IOAPIC pin: level-triggered, re-armed by the ISR read', () => {
    const p = platform();
    const cfg = viaEcam(p.bus, SLOT);
    expect(cfg.configRead(0x3d, 1)).toBe(1); // INTA#
    // Linux programs the redirection entry for the _PRT GSI: vector 0x61, level, unmasked.
    p.ioapic.mmioWrite(IOREGSEL, 4, IOREDTBL + 2 * p.gsi);
    p.ioapic.mmioWrite(IOWIN, 4, 0x61 | (1 << 15));
    p.ioapic.mmioWrite(IOREGSEL, 4, IOREDTBL + 2 * p.gsi + 1);
    p.ioapic.mmioWrite(IOWIN, 4, 0);
    const drv = new VirtioGuestDriver(cfg, p.bus, p.ram);
    drv.start(1);
    for (let round = 0; round < 2; round++) {
      const buf = p.ram.alloc(16);
      drv.queues[0].add([{ addr: buf, len: 16, write: true }]);
      drv.queues[0].kick();
      expect(p.lapic.acknowledgeInterrupt()).toBe(0x61);
      // vp_interrupt: read ISR (drops the line), handle the queue, EOI.
      expect(drv.readIsr()).toBe(1);
      expect(drv.queues[0].reap()).toHaveLength(1);
      p.lapic.mmioWrite(APIC_EOI, 4, 0);
      // Line low at EOI: no second delivery of the same interrupt.
      expect(p.lapic.hasInterrupt()).toBe(false);
    }
  });
});
