// The cascaded Intel 8259A pair of the PC (8259A data sheet; PIIX4 datasheet §3.4 for the
// ELCR at 0x4D0/0x4D1): ICW1-4 initialisation, OCW1 mask, OCW2 (non-specific, specific and
// rotating EOI, set priority), OCW3 (IRR/ISR read select, poll, special mask), auto-EOI,
// special fully nested mode on the master, edge/level per line from the ELCR, the slave
// cascaded on master IRQ2, spurious IRQ7/IRQ15. Leaves out buffered mode and the 8080/85
// call-address mode (ICW1.IC4=0 with MCS-80 vectors), which no PC OS uses.

import type { AccessSize, PioDevice } from '../bus.js';

class Chip {
  irr = 0;
  imr = 0;
  isr = 0;
  lastLevel = 0; // line levels seen, for edge detection
  elcr = 0;
  priorityAdd = 0; // the lowest-priority rotation
  irqBase = 0;
  readIsr = false;
  poll = false;
  specialMask = false;
  initState = 0; // 0 = operational, 1..3 = waiting for ICW2..ICW4
  needIcw4 = false;
  singleMode = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;

  constructor(readonly isMaster: boolean, readonly elcrMask: number) {}

  setLevel(irq: number, level: boolean): void {
    const mask = 1 << irq;
    if (this.elcr & mask) {
      if (level) {
        this.irr |= mask;
        this.lastLevel |= mask;
      } else {
        this.irr &= ~mask;
        this.lastLevel &= ~mask;
      }
    } else if (level) {
      if (!(this.lastLevel & mask)) this.irr |= mask; // rising edge
      this.lastLevel |= mask;
    } else {
      this.lastLevel &= ~mask;
    }
  }

  private priorityOf(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The IRQ this chip would present now, or -1. */
  pending(): number {
    const prio = this.priorityOf(this.irr & ~this.imr);
    if (prio === 8) return -1;
    let inService = this.isr;
    // In special fully nested mode the slave's own requests pass while IRQ2 is in service.
    if (this.isMaster && this.specialFullyNested) inService &= ~(1 << 2);
    if (this.specialMask) inService &= ~this.imr;
    return prio < this.priorityOf(inService) ? (prio + this.priorityAdd) & 7 : -1;
  }

  acknowledge(irq: number): void {
    const mask = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= mask;
    }
    // A level-triggered request stays in IRR while the line is high.
    if (!(this.elcr & mask)) this.irr &= ~mask;
  }

  writeCommand(value: number): void {
    if (value & 0x10) {
      // ICW1: restart initialisation. IMR and ISR clear, edge sense resets (8259A §ICW1).
      this.imr = 0;
      this.isr = 0;
      this.irr = 0;
      this.lastLevel = 0;
      this.priorityAdd = 0;
      this.readIsr = false;
      this.poll = false;
      this.specialMask = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      this.needIcw4 = (value & 0x01) !== 0;
      this.singleMode = (value & 0x02) !== 0;
      this.initState = 1;
    } else if (value & 0x08) {
      // OCW3
      if (value & 0x04) this.poll = true;
      if (value & 0x02) this.readIsr = (value & 0x01) !== 0;
      if (value & 0x40) this.specialMask = (value & 0x20) !== 0;
    } else {
      // OCW2
      const cmd = value >> 5;
      switch (cmd) {
        case 0: // rotate in auto-EOI mode: clear
        case 4: // rotate in auto-EOI mode: set
          this.rotateOnAutoEoi = cmd === 4;
          break;
        case 1: // non-specific EOI
        case 5: {
          // rotate on non-specific EOI
          const prio = this.priorityOf(this.isr);
          if (prio !== 8) {
            const irq = (prio + this.priorityAdd) & 7;
            this.isr &= ~(1 << irq);
            if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
          }
          break;
        }
        case 3: // specific EOI
          this.isr &= ~(1 << (value & 7));
          break;
        case 6: // set priority
          this.priorityAdd = ((value & 7) + 1) & 7;
          break;
        case 7: // rotate on specific EOI
          this.isr &= ~(1 << (value & 7));
          this.priorityAdd = ((value & 7) + 1) & 7;
          break;
        default: // 2: no operation
          break;
      }
    }
  }

  writeData(value: number): void {
    switch (this.initState) {
      case 0:
        this.imr = value; // OCW1
        break;
      case 1:
        this.irqBase = value & 0xf8; // ICW2
        this.initState = this.singleMode ? (this.needIcw4 ? 3 : 0) : 2;
        break;
      case 2:
        this.initState = this.needIcw4 ? 3 : 0; // ICW3: the cascade wiring is fixed on a PC
        break;
      case 3:
        this.specialFullyNested = (value & 0x10) !== 0; // ICW4
        this.autoEoi = (value & 0x02) !== 0;
        this.initState = 0;
        break;
    }
  }
}

/** The master/slave pair; IRQ 0-7 on the master, 8-15 on the slave (cascade on IRQ2). */
export class I8259Pair {
  private readonly master = new Chip(true, 0xf8); // IRQ0-2 are always edge (PIIX4 ELCR1)
  private readonly slave = new Chip(false, 0xde); // IRQ8 and IRQ13 are always edge (ELCR2)
  private output = false;
  /** Master port pair (0x20/0x21), slave pair (0xA0/0xA1), ELCR pair (0x4D0/0x4D1). */
  readonly masterPorts: PioDevice;
  readonly slavePorts: PioDevice;
  readonly elcrPorts: PioDevice;
  spuriousCount = 0;

  /** onOutput follows the master's INT pin (to the BSP LAPIC's LINT0). */
  constructor(private readonly onOutput: (level: boolean) => void = () => {}) {
    this.masterPorts = this.portsOf(this.master);
    this.slavePorts = this.portsOf(this.slave);
    this.elcrPorts = {
      pioRead: (offset) => (offset === 0 ? this.master.elcr : this.slave.elcr),
      pioWrite: (offset, _size, value) => {
        const chip = offset === 0 ? this.master : this.slave;
        chip.elcr = value & chip.elcrMask;
        this.update();
      },
    };
  }

  private portsOf(chip: Chip): PioDevice {
    return {
      pioRead: (offset: number, _size: AccessSize) => {
        if (offset === 0 && chip.poll) return this.pollRead(chip);
        if (offset === 0) return chip.readIsr ? chip.isr : chip.irr;
        return chip.imr;
      },
      pioWrite: (offset: number, _size: AccessSize, value: number) => {
        if (offset === 0) chip.writeCommand(value & 0xff);
        else chip.writeData(value & 0xff);
        this.update();
      },
    };
  }

  private pollRead(chip: Chip): number {
    chip.poll = false;
    const irq = chip.pending();
    if (irq < 0) return 0;
    chip.acknowledge(irq);
    this.update();
    return 0x80 | irq;
  }

  /** Sets the level of ISA IRQ 0-15 (the device's pin). */
  setIrq(irq: number, level: boolean): void {
    if (irq < 0 || irq > 15) throw new RangeError(`ISA IRQ ${irq}`);
    if (irq < 8) this.master.setLevel(irq, level);
    else this.slave.setLevel(irq - 8, level);
    this.update();
  }

  private update(): void {
    this.master.setLevel(2, this.slave.pending() >= 0);
    const out = this.master.pending() >= 0;
    if (out !== this.output) {
      this.output = out;
      this.onOutput(out);
    }
  }

  /** The INT pin of the master (what LINT0 sees). */
  hasInterrupt(): boolean {
    return this.output;
  }

  /** The INTA cycle: returns the vector and moves the IRQ in service. */
  acknowledge(): number {
    let vector: number;
    const irq = this.master.pending();
    if (irq < 0) {
      // The request went away before INTA: the master answers with IRQ7 (spurious).
      this.spuriousCount++;
      vector = this.master.irqBase + 7;
    } else {
      this.master.acknowledge(irq);
      if (irq === 2) {
        const irq2 = this.slave.pending();
        if (irq2 < 0) {
          this.spuriousCount++;
          vector = this.slave.irqBase + 7;
        } else {
          this.slave.acknowledge(irq2);
          vector = this.slave.irqBase + irq2;
        }
      } else {
        vector = this.master.irqBase + irq;
      }
    }
    this.update();
    return vector;
  }
}
