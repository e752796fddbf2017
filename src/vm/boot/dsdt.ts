// The DSDT body for this machine (ACPI 6.5 §5.2.11.1), in AML from ./aml.ts: \_S5 (the
// sleep type src/vm/devices/acpi-pm.ts powers off on), the PCI Express root bridge
// \_SB.PCI0 (PNP0A08, compatible PNP0A03) with its _CRS windows (bus 0, the config
// ports, I/O and 32/64-bit memory windows) and a _PRT routing every slot's INTA-D to GSIs
// by the swizzle in src/vm/devices/pci/intx-routing.ts, and a PNP0C02 motherboard device
// reserving the ECAM window (Linux requires MMCONFIG to be reserved, PCI Firmware 3.2
// §4.1.2). Leaves out legacy device objects (COM ports, RTC, PIC): Linux finds those at
// their fixed ISA addresses.

import { SLP_TYP_S5 } from '../devices/acpi-pm.js';
import { PCI_INTX_PINS, pciIntxGsi } from '../devices/pci/intx-routing.js';
import {
  concat, device, dwordMemory, eisaId, integer, ioPort, memory32Fixed, name, pkg, qwordMemory,
  resourceTemplate, scope, wordAddressSpace,
} from './aml.js';

export interface DsdtFacts {
  ecamBase: number;
  ecamBytes: number;
  /** 32-bit MMIO window for BARs. */
  pciMmio32: { base: number; end: number };
  /** 64-bit MMIO window above RAM (optional). */
  pciMmio64?: { base: number; end: number };
  /** I/O window for BARs (above the legacy ports). */
  pciIo: { base: number; end: number };
}

export function buildDsdt(f: DsdtFacts): Uint8Array {
  const prt: Uint8Array[] = [];
  for (let slot = 0; slot < 32; slot++) {
    for (let pin = 0; pin < PCI_INTX_PINS; pin++) {
      // _PRT entry (ACPI 6.5 §6.2.13): Address (slot, any function), Pin, Source 0, GSI.
      prt.push(pkg(integer(slot * 0x10000 + 0xffff), integer(pin), integer(0), integer(pciIntxGsi({ device: slot, function: 0 }, pin + 1))));
    }
  }

  const crs = [
    wordAddressSpace(2, 0, 0), // bus numbers 0-0
    ioPort(0xcf8, 0xcf8, 1, 8),
    wordAddressSpace(1, 0x0000, 0x0cf7, 0x03),
    wordAddressSpace(1, f.pciIo.base, f.pciIo.end, 0x03),
    dwordMemory(0x000a_0000, 0x000b_ffff), // legacy VGA window
    dwordMemory(f.pciMmio32.base, f.pciMmio32.end),
  ];
  if (f.pciMmio64) crs.push(qwordMemory(f.pciMmio64.base, f.pciMmio64.end));

  return concat(
    name('\\_S5', pkg(integer(SLP_TYP_S5), integer(SLP_TYP_S5), integer(0), integer(0))),
    scope(
      '\\_SB',
      device(
        'PCI0',
        name('_HID', eisaId('PNP0A08')),
        name('_CID', eisaId('PNP0A03')),
        name('_ADR', integer(0)),
        name('_SEG', integer(0)),
        name('_UID', integer(0)),
        name('_BBN', integer(0)),
        name('_CRS', resourceTemplate(...crs)),
        name('_PRT', pkg(...prt)),
      ),
      device('MCFG', name('_HID', eisaId('PNP0C02')), name('_UID', integer(1)), name('_CRS', resourceTemplate(memory32Fixed(f.ecamBase, f.ecamBytes)))),
    ),
  );
}
