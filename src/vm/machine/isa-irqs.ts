// The PC's ISA interrupt wiring: each ISA IRQ line goes to both the i8259 pair and the
// IOAPIC, IRQ0 (the PIT) landing on IOAPIC pin 2 as the MADT's interrupt source override
// says (MP spec §3.6.2.3 "virtual wire" and ACPI 6.5 §5.2.12.5). Which controller the
// guest listens to is its choice (Linux masks the i8259 once the IOAPIC is set up).

import type { IrqLine } from '../irq.js';
import type { I8259Pair } from '../devices/i8259-pic.js';
import type { Ioapic } from '../devices/ioapic.js';

export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** What devices are wired through: ISA IRQ lines and PCI INTx GSIs. */
export interface IsaInterrupts {
  line(irq: number): IrqLine;
  gsiLine(gsi: number): IrqLine;
}

export class IsaIrqs implements IsaInterrupts {
  constructor(private readonly pic: I8259Pair, private readonly ioapic: Ioapic) {}

  line(irq: number): IrqLine {
    if (irq < 0 || irq > 15 || irq === 2) throw new RangeError(`ISA IRQ ${irq} cannot be wired`);
    const gsi = isaIrqToGsi(irq);
    return {
      raise: () => {
        this.pic.setIrq(irq, true);
        this.ioapic.setIrq(gsi, true);
      },
      lower: () => {
        this.pic.setIrq(irq, false);
        this.ioapic.setIrq(gsi, false);
      },
    };
  }

  /** A PCI INTx line on an IOAPIC input (GSI 16-23: no i8259 path). */
  gsiLine(gsi: number): IrqLine {
    return { raise: () => this.ioapic.setIrq(gsi, true), lower: () => this.ioapic.setIrq(gsi, false) };
  }
}

/**
 * The same wiring onto KVM's in-kernel irqchip: KvmVm's GSI routes (QEMU's numbering)
 * take ISA IRQ n as KVM GSI n to i8259 pin n and IOAPIC pin n, IRQ0 to IOAPIC pin 2,
 * so a line is one KVM_IRQ_LINE on the IRQ's own number.
 */
export class KvmIsaIrqs implements IsaInterrupts {
  constructor(private readonly kvmGsiLine: (gsi: number) => IrqLine) {}

  line(irq: number): IrqLine {
    if (irq < 0 || irq > 15 || irq === 2) throw new RangeError(`ISA IRQ ${irq} cannot be wired`);
    return this.kvmGsiLine(irq);
  }

  gsiLine(gsi: number): IrqLine {
    if (gsi < 16 || gsi > 23) throw new RangeError(`GSI ${gsi} is not a PCI INTx input`);
    return this.kvmGsiLine(gsi);
  }
}
