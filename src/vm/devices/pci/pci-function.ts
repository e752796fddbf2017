// One PCI function as the host bridge sees it (PCI Local Bus 3.0 §6): a 256-byte (or
// 4 KiB with ECAM) configuration space. The host bridge routes config mechanism #1
// (0xCF8/0xCFC) and ECAM accesses to the function at bus/device/function; the function
// owns its header, BARs and capabilities and maps/unmaps its BARs on the IoBus itself
// when the guest reprograms them.

export interface PciFunction {
  configRead(offset: number, size: 1 | 2 | 4): number;
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** Where a function sits: bus 0 only on this machine. */
export interface PciAddress {
  device: number; // 0-31
  function: number; // 0-7
}
