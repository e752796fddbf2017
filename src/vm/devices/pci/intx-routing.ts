// How this machine wires PCI INTx pins to IOAPIC inputs (PCI-to-PCI Bridge spec 1.2 §9.1
// "swizzle", applied at the root): device d's pin INTA..INTD (1..4) lands on GSI
// PCI_INTX_FIRST_GSI + (d + pin - 1) mod 4. The DSDT's _PRT (src/vm/boot/dsdt.ts) is
// generated from the same function, so the guest's routing and the wiring agree. GSIs
// 16-19 are level-triggered, active-low from the OS's point of view (ACPI 6.5 §6.2.13
// default for _PRT entries with a GSI); the IOAPIC model sees the logical level.

import type { PciAddress } from './pci-function.js';

export const PCI_INTX_FIRST_GSI = 16;
export const PCI_INTX_PINS = 4;

/** pin: 1 = INTA ... 4 = INTD (the Interrupt Pin register's encoding). */
export function pciIntxGsi(addr: PciAddress, pin: number): number {
  if (pin < 1 || pin > 4) throw new RangeError(`PCI interrupt pin ${pin}`);
  return PCI_INTX_FIRST_GSI + ((addr.device + pin - 1) % PCI_INTX_PINS);
}
