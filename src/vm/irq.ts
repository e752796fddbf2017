// Interrupt plumbing between devices, interrupt controllers and vCPUs (ARCHITECTURE.md
// "Interrupts"). Devices see only an IrqLine (STYLE.md §2) or an MsiSink; the machine
// wires lines to the i8259 pair and the IOAPIC, and MSI writes to the LAPICs.

/** A wire from a device to an interrupt controller input. */
export interface IrqLine {
  raise(): void;
  lower(): void;
}

/** Edge-triggered devices (ISA) pulse their line. */
export function pulse(line: IrqLine): void {
  line.raise();
  line.lower();
}

/** Where message-signalled interrupts go (the LAPICs, or KVM_SIGNAL_MSI). */
export interface MsiSink {
  /** address/data as written into an MSI-X table entry (Intel SDM Vol. 3A §11.11). */
  sendMsi(address: bigint, data: number): void;
}

/**
 * What a vCPU asks between instructions. The LAPIC (or, with the LAPIC in virtual-wire
 * mode, the PIC behind LINT0) implements it.
 */
export interface InterruptAcceptor {
  /** A maskable interrupt is waiting (the CPU then checks IF and the STI/MOV SS shadow). */
  hasInterrupt(): boolean;
  /** Accepts the highest-priority one: returns its vector (moving it in service), or -1. */
  acknowledgeInterrupt(): number;
}

/** An IrqLine that records its level; tests and simple wiring use it. */
export class LevelLine implements IrqLine {
  level = false;
  raises = 0;
  constructor(private readonly onChange?: (level: boolean) => void) {}
  raise(): void {
    this.raises++;
    if (!this.level) {
      this.level = true;
      this.onChange?.(true);
    }
  }
  lower(): void {
    if (this.level) {
      this.level = false;
      this.onChange?.(false);
    }
  }
}
