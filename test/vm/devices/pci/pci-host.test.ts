import { describe, expect, it } from 'vitest';
import { HostBridgeFunction } from '../../../../src/vm/devices/pci/host-bridge-function.js';
import { pciIntxGsi } from '../../../../src/vm/devices/pci/intx-routing.js';
import { PciHost } from '../../../../src/vm/devices/pci/pci-host.js';
import type { PciFunction } from '../../../../src/vm/devices/pci/pci-function.js';
import { ResetControl } from '../../../../src/vm/devices/reset-control.js';

class Recording implements PciFunction {
  writes: Array<[number, number, number]> = [];
  configRead(offset: number, size: 1 | 2 | 4): number {
    return offset === 0 && size === 4 ? 0x10421af4 : offset;
  }
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.writes.push([offset, size, value]);
  }
}

describe('PciHost', () => {
  it('answers config mechanism #1 like Linux pci_conf1 probes it', () => {
    const host = new PciHost();
    host.register({ device: 0, function: 0 }, new HostBridgeFunction());
    const p = host.configPorts;
    p.pioWrite(0, 4, 0x80000000);
    expect(p.pioRead(0, 4)).toBe(0x80000000);
    expect(p.pioRead(4, 4)).toBe(0x00081b36);
    p.pioWrite(0, 4, 0x80000008);
    expect(p.pioRead(4 + 2, 2)).toBe(0x0600); // class at 0x0A via the byte lane
    p.pioWrite(0, 4, 0x80000800); // 00:01.0 absent
    expect(p.pioRead(4, 4)).toBe(0xffffffff);
    p.pioWrite(0, 4, 0x80010000); // bus 1
    expect(p.pioRead(4, 2)).toBe(0xffff);
  });

  it('routes ECAM accesses by device/function/register and reaches extended space', () => {
    const host = new PciHost();
    const fn = new Recording();
    host.register({ device: 3, function: 0 }, fn);
    expect(host.ecam.mmioRead(3 << 15, 4)).toBe(0x10421af4);
    expect(host.ecam.mmioRead((3 << 15) | 0x104, 2)).toBe(0x104);
    host.ecam.mmioWrite((3 << 15) | 0x10, 4, 0xfebf0000);
    expect(fn.writes).toEqual([[0x10, 4, 0xfebf0000]]);
    expect(host.ecam.mmioRead(4 << 15, 4)).toBe(0xffffffff);
    expect(() => host.register({ device: 3, function: 0 }, fn)).toThrow(/already taken/);
    expect(() => host.register({ device: 32, function: 0 }, fn)).toThrow(/bad PCI address/);
  });

  it('forwards byte writes at 0xCF9 to the reset control register', () => {
    let resets = 0;
    const host = new PciHost(new ResetControl(() => resets++));
    host.configPorts.pioWrite(1, 1, 0x06);
    expect(resets).toBe(1);
    host.configPorts.pioWrite(0, 4, 0x80000000);
    expect(host.configPorts.pioRead(0, 4)).toBe(0x80000000); // CONFIG_ADDRESS untouched
  });

  it('swizzles INTx pins onto GSIs 16-19', () => {
    expect(pciIntxGsi({ device: 0, function: 0 }, 1)).toBe(16);
    expect(pciIntxGsi({ device: 3, function: 0 }, 1)).toBe(19);
    expect(pciIntxGsi({ device: 3, function: 0 }, 2)).toBe(16);
  });
});
