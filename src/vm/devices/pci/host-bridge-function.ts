// The host bridge's own function at 00:00.0 (PCI Local Bus 3.0 §6.1 type 0 header, class
// 06/00/00 "host bridge"): identifies the root complex to the guest. Red Hat's QEMU PCIe
// host bridge IDs (1b36:0008) are used so guest drivers apply no chipset quirks. Only the
// command register is writable; there are no BARs or capabilities.

import type { PciFunction } from './pci-function.js';

export const PCI_VENDOR_ID_REDHAT = 0x1b36;
export const PCI_DEVICE_ID_REDHAT_PCIE_HOST = 0x0008;
export const PCI_CLASS_BRIDGE_HOST = 0x0600;

export class HostBridgeFunction implements PciFunction {
  private readonly space = new Uint8Array(256);
  private readonly view = new DataView(this.space.buffer);

  constructor() {
    this.view.setUint16(0x00, PCI_VENDOR_ID_REDHAT, true);
    this.view.setUint16(0x02, PCI_DEVICE_ID_REDHAT_PCIE_HOST, true);
    this.view.setUint16(0x0a, PCI_CLASS_BRIDGE_HOST, true); // class/subclass; prog-if 0
    this.view.setUint16(0x2c, PCI_VENDOR_ID_REDHAT, true); // subsystem vendor
    this.view.setUint16(0x2e, 0x1100, true); // subsystem (QEMU's)
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    if (offset + size > 256) return size === 4 ? 0xffff_ffff : 0; // no extended space
    if (size === 1) return this.space[offset];
    if (size === 2) return this.view.getUint16(offset, true);
    return this.view.getUint32(offset, true);
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    // Command register bits: I/O, memory, bus master (the only state a host bridge keeps).
    if (offset === 0x04 && size >= 2) this.view.setUint16(0x04, value & 0x0007, true);
    else if (offset === 0x04 && size === 1) this.space[0x04] = value & 0x07;
  }
}
