import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/vm/clock.js';
import { ApicBus } from '../../../src/vm/devices/apic-bus.js';
import { Ioapic } from '../../../src/vm/devices/ioapic.js';
import {
  APIC_EOI, APIC_ICR, APIC_ICR2, APIC_ID, APIC_ISR, APIC_LDR, APIC_LVR, APIC_LVT0, APIC_LVTT, APIC_PROCPRI,
  APIC_SPIV, APIC_TASKPRI, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TMR, Lapic,
} from '../../../src/vm/devices/lapic.js';
import { I8259Pair } from '../../../src/vm/devices/i8259-pic.js';

function system(cpus = 1) {
  const clock = new ManualClock();
  const bus = new ApicBus();
  const events: string[] = [];
  const pic = new I8259Pair();
  let ioapic: Ioapic | undefined;
  const lapics = Array.from({ length: cpus }, (_, i) => {
    const l = new Lapic(i, {
      apicBus: bus, clock, pic: i === 0 ? pic : undefined, timerHz: 1e9,
      onLevelEoi: (v) => ioapic!.eoi(v),
      onInit: () => events.push(`init${i}`),
      onStartup: (v) => events.push(`sipi${i}:${v.toString(16)}`),
      onNmi: () => events.push(`nmi${i}`),
    });
    bus.attach(l);
    return l;
  });
  ioapic = new Ioapic(bus);
  const enable = (l: Lapic) => l.mmioWrite(APIC_SPIV, 4, 0x1ff);
  return { clock, bus, lapics, ioapic, pic, events, enable };
}

describe('Lapic', () => {
  it('reports ID and version, orders by priority and tracks TPR/PPR/ISR with EOI', () => {
    const { lapics, bus, enable } = system();
    const l = lapics[0];
    expect(l.mmioRead(APIC_ID, 4)).toBe(0);
    expect(l.mmioRead(APIC_LVR, 4) & 0xff).toBe(0x14);
    enable(l);
    bus.deliver({ vector: 0x41, deliveryMode: 0, logical: false, destination: 0, levelTriggered: false, assert: true });
    bus.deliver({ vector: 0x61, deliveryMode: 0, logical: false, destination: 0, levelTriggered: false, assert: true });
    expect(l.hasInterrupt()).toBe(true);
    expect(l.acknowledgeInterrupt()).toBe(0x61);
    expect(l.mmioRead(APIC_PROCPRI, 4)).toBe(0x60);
    expect(l.hasInterrupt()).toBe(false); // 0x41 is below the in-service class
    expect(l.mmioRead(APIC_ISR + 0x30, 4)).toBe(1 << 1);
    l.mmioWrite(APIC_EOI, 4, 0);
    l.mmioWrite(APIC_TASKPRI, 4, 0x50);
    expect(l.hasInterrupt()).toBe(false); // TPR masks class 4
    l.mmioWrite(APIC_TASKPRI, 4, 0x00);
    expect(l.acknowledgeInterrupt()).toBe(0x41);
  });

  it('passes the i8259 through LINT0 ExtINT on the BSP until LINT0 is masked', () => {
    const { lapics, pic } = system();
    const m = pic.masterPorts;
    for (const [p, v] of [[0, 0x11], [1, 0x30], [1, 4], [1, 1], [1, 0]]) m.pioWrite(p, 1, v);
    pic.setIrq(0, true);
    expect(lapics[0].hasInterrupt()).toBe(true);
    expect(lapics[0].acknowledgeInterrupt()).toBe(0x30);
    m.pioWrite(0, 1, 0x20);
    pic.setIrq(0, false);
    lapics[0].mmioWrite(APIC_SPIV, 4, 0x1ff);
    lapics[0].mmioWrite(APIC_LVT0, 4, 0x10700); // masked ExtINT
    pic.setIrq(0, true);
    expect(lapics[0].hasInterrupt()).toBe(false);
  });

  it('runs the timer one-shot and periodic with the divider, from the virtual clock', () => {
    const { lapics, clock, enable } = system();
    const l = lapics[0];
    enable(l);
    l.mmioWrite(APIC_TDCR, 4, 0xb); // divide by 1
    l.mmioWrite(APIC_LVTT, 4, 0xef);
    l.mmioWrite(APIC_TMICT, 4, 1000); // 1000 ns at 1 GHz
    expect(l.nextDeadlineNs()).toBe(1000);
    clock.advance(400);
    expect(l.mmioRead(APIC_TMCCT, 4)).toBe(600);
    clock.advance(600);
    l.poll(clock.nowNs());
    expect(l.acknowledgeInterrupt()).toBe(0xef);
    expect(l.nextDeadlineNs()).toBe(Infinity);
    expect(l.mmioRead(APIC_TMCCT, 4)).toBe(0);
    l.mmioWrite(APIC_EOI, 4, 0);
    l.mmioWrite(APIC_TDCR, 4, 0x0); // divide by 2
    l.mmioWrite(APIC_LVTT, 4, 0x200ef); // periodic
    l.mmioWrite(APIC_TMICT, 4, 500);
    expect(l.nextDeadlineNs()).toBe(2000);
    clock.advance(2500);
    l.poll(clock.nowNs());
    expect(l.hasInterrupt()).toBe(true);
    expect(l.nextDeadlineNs()).toBe(4000);
  });

  it('sends IPIs: fixed by physical and logical destination, INIT and SIPI, shorthands', () => {
    const { lapics, events, enable } = system(2);
    lapics.forEach(enable);
    lapics[1].mmioWrite(APIC_LDR, 4, 0x02000000);
    lapics[0].mmioWrite(APIC_ICR2, 4, 1 << 24);
    lapics[0].mmioWrite(APIC_ICR, 4, 0x4500); // INIT assert
    lapics[0].mmioWrite(APIC_ICR, 4, 0x8500); // INIT de-assert: ignored
    lapics[0].mmioWrite(APIC_ICR, 4, 0x4609); // SIPI vector 9
    expect(events).toEqual(['init1', 'sipi1:9']);
    lapics[0].mmioWrite(APIC_ICR2, 4, 0x02 << 24);
    lapics[0].mmioWrite(APIC_ICR, 4, 0x0800 | 0xf3); // logical, flat
    expect(lapics[1].acknowledgeInterrupt()).toBe(0xf3);
    lapics[1].mmioWrite(APIC_EOI, 4, 0);
    lapics[0].mmioWrite(APIC_ICR, 4, (3 << 18) | 0xf4); // all excluding self
    expect(lapics[0].hasInterrupt()).toBe(false);
    expect(lapics[1].hasInterrupt()).toBe(true);
    lapics[1].mmioWrite(APIC_ICR, 4, (1 << 18) | 0x400); // NMI to self
    expect(events).toContain('nmi1');
  });
});

describe('Ioapic', () => {
  function program(io: Ioapic, pin: number, low: number, dest = 0) {
    io.mmioWrite(0, 4, 0x10 + pin * 2 + 1);
    io.mmioWrite(0x10, 4, dest << 24);
    io.mmioWrite(0, 4, 0x10 + pin * 2);
    io.mmioWrite(0x10, 4, low);
  }

  it('reports version and 24 entries; starts masked', () => {
    const { ioapic, lapics, enable } = system();
    enable(lapics[0]);
    ioapic.mmioWrite(0, 4, 1);
    expect(ioapic.mmioRead(0x10, 4)).toBe(0x170011);
    ioapic.setIrq(4, true);
    expect(lapics[0].hasInterrupt()).toBe(false);
  });

  it('delivers edges once per rising edge', () => {
    const { ioapic, lapics, enable } = system();
    enable(lapics[0]);
    program(ioapic, 2, 0x30);
    ioapic.setIrq(2, true);
    ioapic.setIrq(2, true);
    expect(lapics[0].acknowledgeInterrupt()).toBe(0x30);
    lapics[0].mmioWrite(APIC_EOI, 4, 0);
    expect(lapics[0].hasInterrupt()).toBe(false);
  });

  it('holds level interrupts with Remote IRR until the LAPIC EOI broadcast, then re-sends', () => {
    const { ioapic, lapics, enable } = system(2);
    lapics.forEach(enable);
    program(ioapic, 9, 0x8000 | 0x41, 1); // level, to APIC 1
    ioapic.setIrq(9, true);
    const l = lapics[1];
    expect(l.mmioRead(APIC_TMR + 0x20, 4)).toBe(1 << 1);
    ioapic.mmioWrite(0, 4, 0x10 + 18);
    expect(ioapic.mmioRead(0x10, 4) & (1 << 14)).toBeTruthy();
    expect(l.acknowledgeInterrupt()).toBe(0x41);
    expect(l.hasInterrupt()).toBe(false);
    l.mmioWrite(APIC_EOI, 4, 0); // broadcast: still asserted -> delivered again
    expect(l.acknowledgeInterrupt()).toBe(0x41);
    ioapic.setIrq(9, false);
    l.mmioWrite(APIC_EOI, 4, 0);
    expect(ioapic.mmioRead(0x10, 4) & (1 << 14)).toBe(0);
    expect(l.hasInterrupt()).toBe(false);
  });

  it('delivers MSI writes through the APIC bus', () => {
    const { bus, lapics, enable } = system(2);
    lapics.forEach(enable);
    bus.sendMsi(0xfee01000n, 0x0052);
    expect(lapics[1].acknowledgeInterrupt()).toBe(0x52);
    bus.sendMsi(0x12345000n, 0x0053); // not an interrupt address: dropped
    expect(lapics[0].hasInterrupt() || lapics[1].hasInterrupt()).toBe(false);
  });
});
