import { describe, expect, it } from 'vitest';
import { PcMachine } from '../../../src/vm/machine/pc-machine.js';
import { acpiPowerOff, bzImageOf, CLI, HLT, outb, print, UD2 } from './guest-programs.js';

const MiB = 1 << 20;

function machineRunning(code: number[], vcpus = 1) {
  const out: number[] = [];
  const m = new PcMachine({ memoryBytes: 64 * MiB, vcpus, cmdline: '' }, { onSerial: (b) => out.push(...b) });
  m.loadKernel(bzImageOf(code), undefined, 'console=ttyS0');
  return { m, text: () => Buffer.from(out).toString('latin1') };
}

describe('PcMachine', () => {
  it('boots a 32-bit entry, writes to COM1 and powers off through ACPI S5', async () => {
    const { m, text } = machineRunning([...print('hello\r\n'), ...acpiPowerOff(), HLT]);
    const r = await m.run({ timeoutMs: 20000 });
    expect(r.kind).toBe('poweroff');
    expect(text()).toBe('hello\r\n');
    expect(r.lastConsoleLines).toEqual(['hello']);
  });

  it('reports a reset through the 0xCF9 reset control register (the FADT reset register)', async () => {
    const { m } = machineRunning([...outb(0xcf9, 0x02), ...outb(0xcf9, 0x06), HLT]);
    expect((await m.run({ timeoutMs: 20000 })).kind).toBe('reset');
  });

  it('reports a reset through the i8042 pulse command 0xFE', async () => {
    const { m } = machineRunning([...outb(0x64, 0xfe), HLT]);
    expect((await m.run({ timeoutMs: 20000 })).kind).toBe('reset');
  });

  it('turns a triple fault into a crash with a register dump and the last console lines', async () => {
    const { m } = machineRunning([...print('about to fault\n'), ...UD2]);
    const r = await m.run({ timeoutMs: 20000 });
    expect(r.kind).toBe('crash');
    expect(r.message).toMatch(/triple-fault/);
    expect(r.registers).toMatch(/RIP=0x00000000001000/);
    expect(r.lastConsoleLines).toEqual(['about to fault']);
  });

  it('sleeps on HLT with interrupts off instead of spinning, until the timeout', async () => {
    const { m } = machineRunning([CLI, HLT]);
    const r = await m.run({ timeoutMs: 300 });
    expect(r.kind).toBe('timeout');
    expect(r.instructionsRetired).toBeLessThan(10);
  });

  it('routes the PCI host bridge at 00:00.0 and describes the machine in ACPI', () => {
    const { m } = machineRunning([HLT], 2);
    expect(m.pci.addresses()).toEqual([{ device: 0, function: 0 }]);
    expect(String.fromCharCode(...m.mem.slice(0xe0000, 8))).toBe('RSD PTR ');
    expect(m.kernel!.entryMode).toBe(32);
    expect(m.mem.read64(0x7000 + 0x70)).toBe(0n); // protocol 2.06: no acpi_rsdp_addr field
  });
});
