// Intel 82093AA I/O APIC (data sheet, §3.2): IOREGSEL/IOWIN at offsets 0x00/0x10,
// registers ID, VER, ARB and 24 64-bit redirection entries. Edge inputs deliver on a rising
// edge; level inputs deliver while asserted and set Remote IRR until the LAPIC broadcasts
// the EOI for that vector (version 0x11: no directed-EOI register, so Linux uses the
// broadcast). Lines are logical levels: the polarity bit is stored but the machine wires
// every source as "asserted = true" (as QEMU and KVM do).

import type { AccessSize, MmioDevice } from '../bus.js';
import type { ApicBus } from './apic-bus.js';

export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x11;
export const IOREGSEL = 0x00;
export const IOWIN = 0x10;
export const IOAPICID = 0x00;
export const IOAPICVER = 0x01;
export const IOAPICARB = 0x02;
export const IOREDTBL = 0x10;

const RTE_REMOTE_IRR = 1 << 14;
const RTE_LEVEL = 1 << 15;
const RTE_MASKED = 1 << 16;
// Bits software may write in the low dword: delivery status (bit 12, always idle here as
// delivery is synchronous) and remote IRR are read-only.
const RTE_LOW_WRITABLE = 0x1_afff;

export class Ioapic implements MmioDevice {
  private ioregsel = 0;
  private id = 0;
  private readonly low = new Uint32Array(IOAPIC_PINS).fill(RTE_MASKED);
  private readonly high = new Uint32Array(IOAPIC_PINS);
  private readonly level = new Uint8Array(IOAPIC_PINS);

  constructor(private readonly apicBus: ApicBus, apicId = 0) {
    this.id = apicId & 0x0f;
  }

  mmioRead(offset: number, _size: AccessSize): number {
    if (offset === IOREGSEL) return this.ioregsel;
    if (offset === IOWIN) return this.readRegister(this.ioregsel);
    return 0;
  }

  mmioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset === IOREGSEL) this.ioregsel = value & 0xff;
    else if (offset === IOWIN) this.writeRegister(this.ioregsel, value >>> 0);
  }

  private readRegister(reg: number): number {
    if (reg === IOAPICID) return this.id << 24;
    if (reg === IOAPICVER) return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
    if (reg === IOAPICARB) return this.id << 24;
    const pin = (reg - IOREDTBL) >> 1;
    if (reg < IOREDTBL || pin >= IOAPIC_PINS) return 0xffff_ffff;
    return reg & 1 ? this.high[pin] : this.low[pin];
  }

  private writeRegister(reg: number, value: number): void {
    if (reg === IOAPICID) {
      this.id = (value >>> 24) & 0x0f;
      return;
    }
    const pin = (reg - IOREDTBL) >> 1;
    if (reg < IOREDTBL || pin >= IOAPIC_PINS) return;
    if (reg & 1) {
      this.high[pin] = value & 0xff00_0000;
      return;
    }
    const keep = this.low[pin] & ~RTE_LOW_WRITABLE;
    this.low[pin] = (keep | (value & RTE_LOW_WRITABLE)) >>> 0;
    // Switching to edge clears Remote IRR (it only has meaning for level entries).
    if (!(this.low[pin] & RTE_LEVEL)) this.low[pin] &= ~RTE_REMOTE_IRR;
    this.service(pin);
  }

  /** Sets the level of input pin (GSI) 0-23. */
  setIrq(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) throw new RangeError(`IOAPIC pin ${pin}`);
    const was = this.level[pin] === 1;
    this.level[pin] = level ? 1 : 0;
    const rte = this.low[pin];
    if (rte & RTE_LEVEL) {
      if (level) this.service(pin);
    } else if (level && !was && !(rte & RTE_MASKED)) {
      this.send(pin);
    }
  }

  private service(pin: number): void {
    const rte = this.low[pin];
    if (rte & RTE_MASKED || !(rte & RTE_LEVEL) || !this.level[pin] || rte & RTE_REMOTE_IRR) return;
    this.low[pin] |= RTE_REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const rte = this.low[pin];
    this.apicBus.deliver({
      vector: rte & 0xff,
      deliveryMode: (rte >> 8) & 7,
      logical: (rte & (1 << 11)) !== 0,
      destination: this.high[pin] >>> 24,
      levelTriggered: (rte & RTE_LEVEL) !== 0,
      assert: true,
    });
  }

  /** The LAPIC's EOI broadcast for a level-triggered vector: clears Remote IRR, re-sends if still asserted. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      if ((this.low[pin] & 0xff) !== vector || !(this.low[pin] & RTE_REMOTE_IRR)) continue;
      this.low[pin] &= ~RTE_REMOTE_IRR;
      this.service(pin);
    }
  }
}
