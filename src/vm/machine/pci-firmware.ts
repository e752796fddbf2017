// The part of PC firmware that sets up PCI before the OS runs (PCI Firmware 3.2 §3.5,
// PCI Local Bus 3.0 §6.2.5.1 BAR sizing): every function's BARs are sized with the
// all-ones write, given naturally aligned addresses in the host bridge's windows, and
// decoding is enabled; Interrupt Line gets the GSI the _PRT routes its pin to. Linux
// keeps firmware assignments that lie inside the root bridge's _CRS windows. Leaves out
// expansion ROMs and bridges.

import type { PciAddress, PciFunction } from '../devices/pci/pci-function.js';
import { pciIntxGsi } from '../devices/pci/intx-routing.js';

export interface PciWindows {
  mmio32: { base: number; end: number };
  io: { base: number; end: number };
}

const PCI_COMMAND = 0x04;
const PCI_COMMAND_IO = 0x1;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_BAR0 = 0x10;
const PCI_INTERRUPT_LINE = 0x3c;
const PCI_INTERRUPT_PIN = 0x3d;

export function assignPciResources(functions: ReadonlyArray<{ address: PciAddress; fn: PciFunction }>, windows: PciWindows): void {
  let mmio = windows.mmio32.base;
  let io = windows.io.base;
  for (const { address, fn } of functions) {
    let command = 0;
    for (let bar = 0; bar < 6; bar++) {
      const reg = PCI_BAR0 + bar * 4;
      const orig = fn.configRead(reg, 4) >>> 0;
      fn.configWrite(reg, 4, 0xffff_ffff);
      const probe = fn.configRead(reg, 4) >>> 0;
      fn.configWrite(reg, 4, orig);
      if (probe === 0 || probe === 0xffff_ffff) continue;
      if (probe & 1) {
        const size = (~(probe & 0xffff_fffc) + 1) & 0xffff;
        if (size === 0) continue;
        io = Math.ceil(io / size) * size;
        if (io + size - 1 > windows.io.end) throw new Error(`PCI I/O window exhausted at ${address.device}.${address.function} BAR${bar}`);
        fn.configWrite(reg, 4, io);
        io += size;
        command |= PCI_COMMAND_IO;
        continue;
      }
      const is64 = ((probe >> 1) & 3) === 2;
      const size = (~(probe & 0xffff_fff0) + 1) >>> 0;
      if (size === 0) continue;
      mmio = Math.ceil(mmio / size) * size;
      if (mmio + size - 1 > windows.mmio32.end) throw new Error(`PCI MMIO window exhausted at ${address.device}.${address.function} BAR${bar}`);
      fn.configWrite(reg, 4, mmio);
      if (is64) {
        fn.configWrite(reg + 4, 4, 0);
        bar++;
      }
      mmio += size;
      command |= PCI_COMMAND_MEMORY;
    }
    const pin = fn.configRead(PCI_INTERRUPT_PIN, 1);
    if (pin >= 1 && pin <= 4) fn.configWrite(PCI_INTERRUPT_LINE, 1, pciIntxGsi(address, pin));
    if (command) fn.configWrite(PCI_COMMAND, 2, (fn.configRead(PCI_COMMAND, 2) | command) & 0xffff);
  }
}
