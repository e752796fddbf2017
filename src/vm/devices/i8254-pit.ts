// Intel 8254 programmable interval timer (8254 data sheet) at ports 0x40-0x43, clocked at
// 1.193182 MHz, and the PC's system control port B at 0x61 (gate and output of channel 2,
// speaker enable, refresh toggle). Channel 0 drives ISA IRQ0; Linux uses it in mode 2
// (periodic) and mode 0 (one-shot), and channel 2 with the 0x61 gate to calibrate the TSC
// and the LAPIC timer. Counts are derived from the VirtualClock at read time, never
// ticked. Models modes 0, 2 and 3 fully (1, 4, 5 count like 0: one-shot on a write),
// LSB/MSB/word access, counter latch and the read-back command. BCD counting is stored but
// counts in binary; channel 1 (DRAM refresh) counts but drives nothing.

import type { AccessSize, PioDevice } from '../bus.js';
import type { VirtualClock } from '../clock.js';
import { pulse, type IrqLine } from '../irq.js';
import { nsForTicks, ticksAfterNs, type TimerSource } from './timer.js';

export const PIT_HZ = 1_193_182;
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;

class Channel {
  mode = 0;
  rw = RW_WORD;
  bcd = false;
  reload = 0x10000; // a count of 0 means 65536
  loadNs = 0;
  armed = false; // a count has been written since the last mode set
  gate = true;
  frozenTicks = -1; // mode 0 with the gate low: ticks at the moment counting paused
  writeHigh = false; // next byte of a word write is the MSB
  pendingLsb = 0;
  readHigh = false;
  latched: number[] = [];
  status: number | undefined;
  nextIrqNs = Infinity;

  constructor(readonly clock: VirtualClock) {}

  ticks(nowNs: number): number {
    if (this.frozenTicks >= 0) return this.frozenTicks;
    return ticksAfterNs(Math.max(0, nowNs - this.loadNs), PIT_HZ);
  }

  count(nowNs: number): number {
    if (!this.armed) return this.reload & 0xffff;
    const t = this.ticks(nowNs);
    switch (this.mode) {
      case 2:
        return this.reload - (t % this.reload);
      case 3: {
        // Square wave: counts down by two twice per period (8254 data sheet, mode 3).
        const phase = t % this.reload;
        const half = Math.ceil(this.reload / 2);
        return (this.reload - 2 * (phase < half ? phase : phase - half)) & 0xfffe || this.reload & 0xffff;
      }
      default:
        return (this.reload - t) & 0xffff;
    }
  }

  out(nowNs: number): boolean {
    if (!this.armed) return this.mode !== 0;
    const t = this.ticks(nowNs);
    switch (this.mode) {
      case 2:
        return t % this.reload !== this.reload - 1;
      case 3:
        return t % this.reload < Math.ceil(this.reload / 2);
      default:
        return t >= this.reload;
    }
  }

  statusByte(nowNs: number): number {
    return (this.out(nowNs) ? 0x80 : 0) | (this.armed ? 0 : 0x40) | (this.rw << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  start(nowNs: number): void {
    this.loadNs = nowNs;
    this.armed = true;
    this.frozenTicks = this.gate ? -1 : 0;
    this.scheduleIrq(nowNs);
  }

  scheduleIrq(nowNs: number): void {
    if (!this.armed || this.frozenTicks >= 0) {
      this.nextIrqNs = Infinity;
      return;
    }
    if (this.mode === 2 || this.mode === 3) {
      const t = this.ticks(nowNs);
      this.nextIrqNs = this.loadNs + nsForTicks((Math.floor(t / this.reload) + 1) * this.reload, PIT_HZ);
    } else {
      const due = this.loadNs + nsForTicks(this.reload, PIT_HZ);
      this.nextIrqNs = due > nowNs || this.ticks(nowNs) < this.reload ? due : Infinity;
    }
  }

  setGate(level: boolean, nowNs: number): void {
    if (level === this.gate) return;
    this.gate = level;
    if (!this.armed) return;
    if (this.mode === 0 || this.mode === 4) {
      // Gate low suspends counting in modes 0 and 4; gate high resumes.
      if (!level) this.frozenTicks = this.ticks(nowNs);
      else {
        this.loadNs = nowNs - nsForTicks(this.frozenTicks, PIT_HZ);
        this.frozenTicks = -1;
      }
    } else if (level) {
      this.loadNs = nowNs; // a rising gate restarts modes 1, 2, 3, 5
      this.frozenTicks = -1;
    } else if (this.mode === 2 || this.mode === 3) {
      this.frozenTicks = this.ticks(nowNs);
    }
    this.scheduleIrq(nowNs);
  }
}

const MAX_LOST_TICKS = 500;
const CATCH_UP_NS = 200_000;

export class I8254Pit implements PioDevice, TimerSource {
  private readonly channels: Channel[];
  private lostTicks = 0;
  /** System control port B (0x61). */
  readonly portB: PioDevice;
  private speakerData = false;

  constructor(private readonly clock: VirtualClock, private readonly irq0: IrqLine) {
    this.channels = [new Channel(clock), new Channel(clock), new Channel(clock)];
    this.portB = {
      pioRead: () => {
        const now = this.clock.nowNs();
        const ch2 = this.channels[2];
        // Bit 4 toggles with the DRAM refresh request every 15.085 us (PC AT tech ref).
        const refresh = Math.floor(now / 15_085) & 1;
        return (ch2.gate ? 1 : 0) | (this.speakerData ? 2 : 0) | (refresh << 4) | (ch2.out(now) ? 0x20 : 0);
      },
      pioWrite: (_offset, _size, value) => {
        this.speakerData = (value & 2) !== 0;
        this.channels[2].setGate((value & 1) !== 0, this.clock.nowNs());
      },
    };
  }

  pioRead(offset: number, _size: AccessSize): number {
    if (offset === 3) return 0xff; // the control word register is write-only
    const ch = this.channels[offset];
    if (ch.status !== undefined) {
      const s = ch.status;
      ch.status = undefined;
      return s;
    }
    if (ch.latched.length) return ch.latched.shift()!;
    const count = ch.count(this.clock.nowNs());
    switch (ch.rw) {
      case RW_LSB:
        return count & 0xff;
      case RW_MSB:
        return (count >> 8) & 0xff;
      default: {
        const high = ch.readHigh;
        ch.readHigh = !high;
        return high ? (count >> 8) & 0xff : count & 0xff;
      }
    }
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const now = this.clock.nowNs();
    if (offset === 3) {
      this.writeControl(value, now);
      return;
    }
    const ch = this.channels[offset];
    let reload: number | undefined;
    switch (ch.rw) {
      case RW_LSB:
        reload = value;
        break;
      case RW_MSB:
        reload = value << 8;
        break;
      default:
        if (!ch.writeHigh) {
          ch.pendingLsb = value;
          ch.writeHigh = true;
          if (ch.mode === 0) ch.armed = false; // writing the LSB stops a mode 0 count
          return;
        }
        ch.writeHigh = false;
        reload = ch.pendingLsb | (value << 8);
    }
    ch.reload = reload === 0 ? 0x10000 : reload;
    ch.start(now);
  }

  private writeControl(value: number, now: number): void {
    const sel = value >> 6;
    if (sel === 3) {
      // Read-back (8254 data sheet): bit 5 clear = latch counts, bit 4 clear = latch status.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const ch = this.channels[i];
        if (!(value & 0x10) && ch.status === undefined) ch.status = ch.statusByte(now);
        if (!(value & 0x20) && ch.latched.length === 0) this.latch(ch, now);
      }
      return;
    }
    const ch = this.channels[sel];
    const rw = (value >> 4) & 3;
    if (rw === RW_LATCH) {
      if (ch.latched.length === 0) this.latch(ch, now);
      return;
    }
    ch.rw = rw;
    ch.mode = (value >> 1) & 7;
    if (ch.mode > 5) ch.mode -= 4; // 6 and 7 alias modes 2 and 3
    ch.bcd = (value & 1) !== 0;
    ch.armed = false;
    ch.writeHigh = false;
    ch.readHigh = false;
    ch.latched = [];
    ch.nextIrqNs = Infinity;
    if (sel === 0) this.lostTicks = 0;
  }

  private latch(ch: Channel, now: number): void {
    const c = ch.count(now);
    if (ch.rw === RW_LSB) ch.latched = [c & 0xff];
    else if (ch.rw === RW_MSB) ch.latched = [(c >> 8) & 0xff];
    else ch.latched = [c & 0xff, (c >> 8) & 0xff];
    ch.readHigh = false;
  }

  nextDeadlineNs(): number {
    return this.channels[0].nextIrqNs;
  }

  poll(nowNs: number): void {
    const ch = this.channels[0];
    if (nowNs < ch.nextIrqNs) return;
    const periodic = ch.mode === 2 || ch.mode === 3;
    if (periodic) {
      // A slow vCPU polls late: count the periods that passed, up to a bound, and deliver
      // them one edge per poll, so tick-counting code (Linux's timer_irq_works() wants
      // five jiffies within 40e9/HZ TSC cycles) sees the ticks real time produced. This
      // is QEMU's lost-tick "delay" policy; a plain 8254 would merge them into one edge.
      const period = nsForTicks(ch.reload, PIT_HZ);
      const missed = Math.floor((nowNs - ch.nextIrqNs) / period);
      this.lostTicks = Math.min(MAX_LOST_TICKS, this.lostTicks + missed);
    }
    pulse(this.irq0);
    ch.scheduleIrq(nowNs);
    if (periodic && this.lostTicks > 0) {
      this.lostTicks--;
      // The next catch-up edge comes soon, but not at once, so the guest can take the
      // previous one first (a level already pending in IRR would merge two edges).
      ch.nextIrqNs = Math.min(ch.nextIrqNs, nowNs + CATCH_UP_NS);
    }
  }
}
