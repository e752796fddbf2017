import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/vm/clock.js';
import { I8254Pit, PIT_HZ } from '../../../src/vm/devices/i8254-pit.js';
import { LevelLine } from '../../../src/vm/irq.js';

const tickNs = (n: number) => Math.ceil((n * 1e9) / PIT_HZ);

function pit() {
  const clock = new ManualClock();
  const irq = new LevelLine();
  return { clock, irq, pit: new I8254Pit(clock, irq) };
}

describe('I8254Pit', () => {
  it('runs channel 0 in mode 2 at HZ=250 like Linux periodic mode, pulsing IRQ0', () => {
    const { clock, irq, pit: p } = pit();
    const latch = Math.round(PIT_HZ / 250);
    p.pioWrite(3, 1, 0x34); // channel 0, LSB/MSB, mode 2
    p.pioWrite(0, 1, latch & 0xff);
    p.pioWrite(0, 1, latch >> 8);
    const first = p.nextDeadlineNs();
    expect(first).toBe(tickNs(latch));
    clock.advance(first);
    p.poll(clock.nowNs());
    expect(irq.raises).toBe(1);
    expect(irq.level).toBe(false); // an edge: raised and lowered
    expect(p.nextDeadlineNs()).toBeGreaterThan(first);
    clock.advance(10 * first); // a late poll: the missed ticks come one edge per poll
    p.poll(clock.nowNs());
    expect(irq.raises).toBe(2);
    for (let i = 0; i < 20 && p.nextDeadlineNs() <= clock.nowNs() + 200_000; i++) {
      clock.advance(200_000);
      p.poll(clock.nowNs());
    }
    expect(irq.raises).toBe(11);
  });

  it('fires mode 0 once (one-shot clockevent)', () => {
    const { clock, irq, pit: p } = pit();
    p.pioWrite(3, 1, 0x30);
    p.pioWrite(0, 1, 100);
    p.pioWrite(0, 1, 0);
    clock.advance(tickNs(100));
    p.poll(clock.nowNs());
    expect(irq.raises).toBe(1);
    expect(p.nextDeadlineNs()).toBe(Infinity);
  });

  it('latches counts and answers read-back with status', () => {
    const { clock, pit: p } = pit();
    p.pioWrite(3, 1, 0x34);
    p.pioWrite(0, 1, 0x00);
    p.pioWrite(0, 1, 0x10); // 4096
    clock.advance(tickNs(96));
    p.pioWrite(3, 1, 0x00); // counter latch
    clock.advance(tickNs(1000)); // the latch holds
    const lo = p.pioRead(0, 1);
    const hi = p.pioRead(0, 1);
    expect(hi * 256 + lo).toBe(4000);
    p.pioWrite(3, 1, 0xe2); // read-back: status of channel 0 only
    expect(p.pioRead(0, 1) & 0x3f).toBe(0x34);
  });

  it('gates channel 2 from port 0x61 and shows OUT2 in bit 5 (TSC calibration)', () => {
    const { clock, pit: p } = pit();
    p.portB.pioWrite(0, 1, 0x00); // gate low
    p.pioWrite(3, 1, 0xb0); // channel 2, mode 0
    p.pioWrite(2, 1, 0xff);
    p.pioWrite(2, 1, 0x00); // 255
    clock.advance(tickNs(1000));
    expect(p.portB.pioRead(0, 1) & 0x20).toBe(0); // gate low: not counting
    p.portB.pioWrite(0, 1, 0x01);
    clock.advance(tickNs(100));
    expect(p.portB.pioRead(0, 1) & 0x20).toBe(0);
    clock.advance(tickNs(200));
    expect(p.portB.pioRead(0, 1) & 0x21).toBe(0x21);
  });
});
