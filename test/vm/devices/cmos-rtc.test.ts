import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/vm/clock.js';
import { CmosRtc } from '../../../src/vm/devices/cmos-rtc.js';
import { LevelLine } from '../../../src/vm/irq.js';

const T0 = Date.UTC(2026, 10, 21, 13, 59, 58, 100); // 2026-11-21 13:59:58.100 UTC

function rtc() {
  const clock = new ManualClock();
  const irq = new LevelLine();
  const r = new CmosRtc(clock, irq, T0);
  const read = (reg: number) => {
    r.pioWrite(0, 1, reg);
    return r.pioRead(1, 1);
  };
  const write = (reg: number, v: number) => {
    r.pioWrite(0, 1, reg);
    r.pioWrite(1, 1, v);
  };
  return { clock, irq, r, read, write };
}

describe('CmosRtc', () => {
  it('reads the host time in BCD and in binary mode, 24-hour', () => {
    const { read, write } = rtc();
    expect([read(0x32), read(9), read(8), read(7), read(4), read(2), read(0)]).toEqual([0x20, 0x26, 0x11, 0x21, 0x13, 0x59, 0x58]);
    write(0x0b, 0x06); // binary, 24h
    expect([read(4), read(2), read(0)]).toEqual([13, 59, 58]);
  });

  it('advances with the virtual clock and shows UIP just before the update', () => {
    const { clock, read } = rtc();
    expect(read(0x0a) & 0x80).toBe(0);
    clock.advance(899_800_000); // 244 us window before :59
    expect(read(0x0a) & 0x80).toBe(0x80);
    clock.advance(1_000_000);
    expect(read(0)).toBe(0x59);
    clock.advance(1_000_000_000);
    expect([read(4), read(2), read(0)]).toEqual([0x14, 0x00, 0x00]);
  });

  it('lets the guest set the time with the SET bit', () => {
    const { clock, read, write } = rtc();
    write(0x0b, 0x82);
    write(4, 0x08);
    write(2, 0x30);
    write(0, 0x00);
    write(0x0b, 0x02);
    clock.advance(2e9);
    expect([read(4), read(2), read(0)]).toEqual([0x08, 0x30, 0x02]);
  });

  it('raises the periodic interrupt on IRQ8 and clears it on a register C read', () => {
    const { clock, irq, r, read, write } = rtc();
    write(0x0a, 0x26); // 1024 Hz
    write(0x0b, 0x42); // PIE
    expect(r.nextDeadlineNs()).toBeCloseTo(1e9 / 1024, 0);
    clock.advance(1e6);
    r.poll(clock.nowNs());
    expect(irq.level).toBe(true);
    expect(read(0x0c) & 0xc0).toBe(0xc0);
    expect(irq.level).toBe(false);
    expect(read(0x0c)).toBe(0);
  });

  it('keeps NVRAM bytes and masks NMI through bit 7 of the index', () => {
    const { r, read, write } = rtc();
    write(0x40, 0xab);
    expect(read(0x40)).toBe(0xab);
    r.pioWrite(0, 1, 0x80 | 0x40);
    expect(r.nmiMasked).toBe(true);
    expect(read(0x0d)).toBe(0x80);
  });
});
