// The machine assigns BARs and interrupt lines like PC firmware, here for a real
// virtio-rng PCI function (src/vm/devices/virtio), and the guest sees it through ECAM.
import { describe, expect, it } from 'vitest';
import { createVirtioRng } from '../../../src/vm/devices/virtio/index.js';
import { ECAM_BASE, PcMachine, PCI_MMIO32_WINDOW } from '../../../src/vm/machine/pc-machine.js';
import { IsaIrqs } from '../../../src/vm/machine/isa-irqs.js';
import { ApicBus } from '../../../src/vm/devices/apic-bus.js';
import { I8259Pair } from '../../../src/vm/devices/i8259-pic.js';
import { Ioapic } from '../../../src/vm/devices/ioapic.js';
import { bzImageOf, HLT } from './guest-programs.js';

describe('PC firmware duties of the machine', () => {
  it('sizes and places a virtio function BAR in the _CRS window and sets its interrupt line', () => {
    const m = new PcMachine({ memoryBytes: 64 << 20, vcpus: 1, cmdline: '' });
    const addr = { device: 3, function: 0 };
    m.attachPci(addr, createVirtioRng(m.platformFor(addr)));
    m.loadKernel(bzImageOf([HLT]), undefined, '');
    const cfg = (reg: number, size: 1 | 2 | 4 = 4) => m.bus.mmioRead(ECAM_BASE + (3 << 15) + reg, size) >>> 0;
    expect(cfg(0x00)).toBe(0x10441af4); // virtio-rng, modern id 0x1044
    const bar0 = (cfg(0x10) & ~0xf) >>> 0;
    expect(bar0).toBeGreaterThanOrEqual(PCI_MMIO32_WINDOW.base);
    expect(bar0 % 0x8000).toBe(0);
    expect(cfg(0x14)).toBe(0);
    expect(cfg(0x04, 2) & 0x2).toBe(0x2); // memory decoding on
    expect(cfg(0x3c, 1)).toBe(19); // slot 3 INTA -> GSI 16 + 3
    expect(m.bus.claimsMmio(bar0)).toBe(true); // the function mapped its BAR
    // The same through configuration mechanism #1.
    m.bus.pioWrite(0xcf8, 4, 0x80000000 | (3 << 11) | 0x10);
    expect((m.bus.pioRead(0xcfc, 4) & ~0xf) >>> 0).toBe(bar0);
  });

  it('wires ISA IRQ0 to IOAPIC pin 2 (the MADT override) and the others straight', () => {
    const bus = new ApicBus();
    const seen: number[] = [];
    bus.attach({ apicId: 0, matchesLogical: () => false, accept: (msg) => seen.push(msg.vector) });
    const ioapic = new Ioapic(bus);
    const pic = new I8259Pair();
    const isa = new IsaIrqs(pic, ioapic);
    for (const pin of [2, 4]) {
      ioapic.mmioWrite(0, 4, 0x10 + pin * 2);
      ioapic.mmioWrite(0x10, 4, 0x30 + pin);
    }
    isa.line(0).raise();
    isa.line(4).raise();
    expect(seen).toEqual([0x32, 0x34]);
    expect(() => isa.line(2)).toThrow(/cannot be wired/);
  });
});
