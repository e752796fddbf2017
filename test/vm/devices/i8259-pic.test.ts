import { describe, expect, it } from 'vitest';
import { I8259Pair } from '../../../src/vm/devices/i8259-pic.js';

/** Linux's init_8259A: ICW1..ICW4 for both chips, vectors 0x30/0x38. */
function initLinux(pic: I8259Pair, autoEoi = false) {
  const m = pic.masterPorts, s = pic.slavePorts;
  m.pioWrite(1, 1, 0xff);
  s.pioWrite(1, 1, 0xff);
  m.pioWrite(0, 1, 0x11);
  m.pioWrite(1, 1, 0x30);
  m.pioWrite(1, 1, 1 << 2);
  m.pioWrite(1, 1, autoEoi ? 0x03 : 0x01);
  s.pioWrite(0, 1, 0x11);
  s.pioWrite(1, 1, 0x38);
  s.pioWrite(1, 1, 2);
  s.pioWrite(1, 1, 0x01);
  m.pioWrite(1, 1, 0x00);
  s.pioWrite(1, 1, 0x00);
}

describe('I8259Pair', () => {
  it('delivers edge IRQs with vectors from ICW2, blocks lower priorities until EOI', () => {
    const outs: boolean[] = [];
    const pic = new I8259Pair((l) => outs.push(l));
    initLinux(pic);
    pic.setIrq(4, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x34);
    pic.setIrq(4, false);
    pic.setIrq(6, true);
    expect(pic.hasInterrupt()).toBe(false); // IRQ4 in service blocks IRQ6
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31); // higher priority nests
    pic.masterPorts.pioWrite(0, 1, 0x20); // non-specific EOI ends IRQ1
    pic.masterPorts.pioWrite(0, 1, 0x60 | 4); // specific EOI for IRQ4
    expect(pic.acknowledge()).toBe(0x36);
    expect(outs[0]).toBe(true);
  });

  it('cascades slave IRQs through master IRQ2 and reads ISR/IRR via OCW3', () => {
    const pic = new I8259Pair();
    initLinux(pic);
    pic.setIrq(12, true);
    pic.slavePorts.pioWrite(0, 1, 0x0a); // read IRR
    expect(pic.slavePorts.pioRead(0, 1)).toBe(1 << 4);
    expect(pic.acknowledge()).toBe(0x3c);
    pic.slavePorts.pioWrite(0, 1, 0x0b); // read ISR
    expect(pic.slavePorts.pioRead(0, 1)).toBe(1 << 4);
    pic.masterPorts.pioWrite(0, 1, 0x0b);
    expect(pic.masterPorts.pioRead(0, 1)).toBe(1 << 2);
  });

  it('honours the mask register and a rising edge only once', () => {
    const pic = new I8259Pair();
    initLinux(pic);
    pic.masterPorts.pioWrite(1, 1, 0x01);
    expect(pic.masterPorts.pioRead(1, 1)).toBe(0x01);
    pic.setIrq(0, true);
    expect(pic.hasInterrupt()).toBe(false);
    pic.masterPorts.pioWrite(1, 1, 0x00);
    expect(pic.acknowledge()).toBe(0x30);
    pic.masterPorts.pioWrite(0, 1, 0x20);
    pic.setIrq(0, true); // still high: no new edge
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('keeps level IRQs set in the ELCR pending while the line is high', () => {
    const pic = new I8259Pair();
    initLinux(pic);
    pic.elcrPorts.pioWrite(1, 1, 0xff); // 0x4D1: 8 and 13 cannot become level
    expect(pic.elcrPorts.pioRead(1, 1)).toBe(0xde);
    pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x39);
    pic.slavePorts.pioWrite(0, 1, 0x20);
    pic.masterPorts.pioWrite(0, 1, 0x20);
    expect(pic.acknowledge()).toBe(0x39); // still asserted: requested again
    pic.slavePorts.pioWrite(0, 1, 0x20);
    pic.masterPorts.pioWrite(0, 1, 0x20);
    pic.setIrq(9, false);
    // The master latched the cascade edge; the slave no longer requests: spurious IRQ15.
    expect(pic.acknowledge()).toBe(0x3f);
    expect(pic.spuriousCount).toBe(1);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('answers a spurious INTA with IRQ7 and supports poll mode and auto-EOI', () => {
    const pic = new I8259Pair();
    initLinux(pic, true);
    expect(pic.acknowledge()).toBe(0x37);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x33);
    pic.masterPorts.pioWrite(0, 1, 0x0b);
    expect(pic.masterPorts.pioRead(0, 1)).toBe(0); // auto-EOI: nothing in service
    pic.setIrq(3, false);
    pic.setIrq(5, true);
    pic.masterPorts.pioWrite(0, 1, 0x0c); // OCW3 poll
    expect(pic.masterPorts.pioRead(0, 1)).toBe(0x85);
  });
});
