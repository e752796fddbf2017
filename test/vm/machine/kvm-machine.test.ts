// The whole PC machine on KVM (issue 9): the same devices, ACPI tables, loader and run
// loop as on the software CPU, with KVM's in-kernel LAPIC/IOAPIC/i8259/i8254. A small
// assembled guest (pc-guest.ts) must print the same bytes and power off the same way on
// both accelerators; reset, triple fault and an idle guest behave as on the software CPU.
// /dev/kvm here may be a nested, software-emulating one: the guests stay tiny.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createVirtioRng } from '../../../src/vm/devices/virtio/index.js';
import { PcMachine } from '../../../src/vm/machine/pc-machine.js';
import { bzImageOf, CLI, HLT, outb, print, UD2 } from './guest-programs.js';
import { PC_GUEST_BANNER, pcGuestImage, smpGuestImage } from './pc-guest.js';

const MiB = 1 << 20;
const haveKvm = existsSync('/dev/kvm');

async function runGuest(accelerator: 'ts' | 'kvm', image: Uint8Array, timeoutMs = 60_000, vcpus = 1) {
  const out: number[] = [];
  const m = new PcMachine({ memoryBytes: 64 * MiB, vcpus, cmdline: '', accelerator }, { onSerial: (b) => out.push(...b) });
  try {
    // A virtio-rng function at 00:01.0 for the guest to find (the same on both accelerators).
    const address = { device: 1, function: 0 };
    m.attachPci(address, createVirtioRng(m.platformFor(address)));
    m.loadKernel(image, undefined, 'console=ttyS0');
    const result = await m.run({ timeoutMs });
    return { result, text: Buffer.from(out).toString('latin1'), machine: m };
  } finally {
    await m.close();
  }
}

describe.skipIf(!haveKvm)('the PC machine on KVM (needs /dev/kvm; skipped without it)', () => {
  it('runs the PC guest (UART, ACPI, CMOS, virtio-pci config and MMIO, LAPIC/IOAPIC interrupts, PM1 power-off) with the same console output as the software CPU', async () => {
    const image = pcGuestImage();
    const kvm = await runGuest('kvm', image);
    const ts = await runGuest('ts', image);
    expect(kvm.result.kind).toBe('poweroff');
    expect(kvm.text).toContain(PC_GUEST_BANNER);
    expect(kvm.text).toContain('acpi: RSDP oem TSVIRT, RSDT: FACP APIC MCFG');
    expect(kvm.text).toContain('cmos: century 20 reg D 80');
    expect(kvm.text).toContain('virtio: 00:01.0 id 10441AF4 bar0 C0000000 queues 00000001 VERSION_1 00000001');
    expect(kvm.text).toContain('irq: LAPIC timer vector 0x40');
    expect(kvm.text).toContain('irq: i8254 through IOAPIC pin 2, vector 0x41');
    expect(kvm.text).toContain('irq: RTC periodic through IOAPIC pin 8, vector 0x42');
    expect({ kind: ts.result.kind, text: ts.text }).toEqual({ kind: kvm.result.kind, text: kvm.text });
  });

  it('leaves the interrupt controllers and the PIT to KVM: none of them is on the IoBus', async () => {
    const m = new PcMachine({ memoryBytes: 16 * MiB, vcpus: 1, cmdline: '', accelerator: 'kvm' });
    try {
      expect(m.pic).toBeUndefined();
      expect(m.ioapic).toBeUndefined();
      expect(m.pit).toBeUndefined();
      // The bus refuses a range someone already claimed: these are all free.
      const probe = { pioRead: () => 0, pioWrite: () => {}, mmioRead: () => 0, mmioWrite: () => {} };
      for (const [base, len] of [[0x20, 2], [0xa0, 2], [0x4d0, 2], [0x40, 4], [0x61, 1]]) expect(() => m.bus.registerPio(base, len, probe, 'probe')).not.toThrow();
      for (const base of [0xfee0_0000, 0xfec0_0000]) expect(() => m.bus.registerMmio(base, 0x1000, probe, 'probe')).not.toThrow();
      // ...while the userspace devices are there.
      for (const [base, len] of [[0x3f8, 8], [0x70, 2], [0x600, 4], [0xcf8, 8]]) expect(() => m.bus.registerPio(base, len, probe, 'probe')).toThrow(/already claimed/);
    } finally {
      await m.close();
    }
  });

  it('reports a reset through the 0xCF9 reset control register', async () => {
    const { result } = await runGuest('kvm', bzImageOf([...outb(0xcf9, 0x02), ...outb(0xcf9, 0x06), HLT]));
    expect(result.kind).toBe('reset');
  });

  it.each([1, 2])('turns a triple fault into a crash with a register dump and the last console lines (%i vCPUs)', async (vcpus) => {
    const { result } = await runGuest('kvm', bzImageOf([...print('about to fault\n'), ...UD2]), 60_000, vcpus);
    expect(result.kind).toBe('crash');
    expect(result.message).toMatch(/triple-fault/);
    expect(result.registers).toMatch(/RIP=0x[0-9a-f]{16}/);
    expect(result.lastConsoleLines).toEqual(['about to fault']);
  });

  it.each([1, 2])('keeps control of a guest halted with interrupts off (vCPUs are ticked out of KVM_RUN) until the timeout (%i vCPUs)', async (vcpus) => {
    const { result } = await runGuest('kvm', bzImageOf([CLI, HLT]), 300, vcpus);
    expect(result.kind).toBe('timeout');
  });

  it('starts an AP through the in-kernel LAPIC (INIT/SIPI) with each vCPU in its own thread, as the software CPU does', async () => {
    const image = smpGuestImage();
    const kvm = await runGuest('kvm', image, 60_000, 2);
    const ts = await runGuest('ts', image, 60_000, 2);
    expect(kvm.result.kind).toBe('poweroff');
    expect(kvm.text).toBe(
      'smp guest: BSP up, starting APIC ID 1\r\nsmp guest: AP running in real mode\r\nsmp guest: AP with APIC ID 01 reported in\r\nsmp guest: powering off\r\n',
    );
    expect({ kind: ts.result.kind, text: ts.text }).toEqual({ kind: kvm.result.kind, text: kvm.text });
  });
});
