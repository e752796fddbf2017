// The system bus between interrupt sources (IOAPIC, MSI writes, IPIs) and the local APICs
// (Intel SDM Vol. 3A §11.6 "Issuing interprocessor interrupts", §11.11 "Message signalled
// interrupts", 82093AA IOAPIC data sheet §3.2.4). Resolves a destination (physical APIC ID,
// or logical in flat/cluster model, or a shorthand) to LAPICs and hands each one the
// message. Lowest-priority delivery picks the first matching LAPIC (no arbitration by TPR).
// Leaves out SMI delivery and x2APIC 32-bit destinations.

import type { MsiSink } from '../irq.js';

export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
export const DELIVERY_STARTUP = 6;
export const DELIVERY_EXTINT = 7;

export interface ApicMessage {
  vector: number;
  deliveryMode: number;
  /** true: logical destination mode. */
  logical: boolean;
  /** 8-bit destination (APIC ID or logical mask). */
  destination: number;
  levelTriggered: boolean;
  /** For INIT: false is the level de-assert message, which modern CPUs ignore. */
  assert: boolean;
}

/** What a LAPIC offers the bus. */
export interface ApicEndpoint {
  readonly apicId: number;
  matchesLogical(destination: number): boolean;
  accept(msg: ApicMessage): void;
}

export class ApicBus implements MsiSink {
  private readonly endpoints: ApicEndpoint[] = [];

  attach(ep: ApicEndpoint): void {
    this.endpoints.push(ep);
  }

  /** Delivers to the LAPICs the destination names. */
  deliver(msg: ApicMessage): void {
    const targets = this.endpoints.filter((ep) =>
      msg.logical ? ep.matchesLogical(msg.destination) : msg.destination === 0xff || ep.apicId === msg.destination,
    );
    this.deliverTo(targets, msg);
  }

  /** ICR shorthands: 1 self, 2 all including self, 3 all excluding self (SDM §11.6.1). */
  deliverShorthand(from: ApicEndpoint, shorthand: number, msg: ApicMessage): void {
    const targets =
      shorthand === 1 ? [from] : shorthand === 2 ? [...this.endpoints] : this.endpoints.filter((e) => e !== from);
    this.deliverTo(targets, msg);
  }

  private deliverTo(targets: ApicEndpoint[], msg: ApicMessage): void {
    if (targets.length === 0) return;
    if (msg.deliveryMode === DELIVERY_LOWEST) {
      targets[0].accept({ ...msg, deliveryMode: DELIVERY_FIXED });
      return;
    }
    for (const t of targets) t.accept(msg);
  }

  /** MSI: address 0xFEEx_xxxx (dest ID bits 19:12, DM bit 2), data (vector, mode, trigger). */
  sendMsi(address: bigint, data: number): void {
    const addr = Number(address & 0xffff_ffffn);
    if (addr >>> 20 !== 0xfee) return; // not an interrupt message: dropped as the chipset does
    this.deliver({
      vector: data & 0xff,
      deliveryMode: (data >> 8) & 7,
      logical: (addr & 0x4) !== 0,
      destination: (addr >> 12) & 0xff,
      levelTriggered: (data & 0x8000) !== 0,
      assert: true,
    });
  }
}
