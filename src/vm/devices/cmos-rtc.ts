// Motorola MC146818A real-time clock and its 128-byte CMOS RAM at ports 0x70 (index; bit 7
// is the NMI mask) and 0x71 (data), as on the PC AT (MC146818A data sheet; Linux
// include/linux/mc146818rtc.h). The time is the host's wall clock when the machine starts,
// advanced by the VirtualClock, or what the guest sets (SET bit then registers). Models
// BCD/binary (DM), 24/12-hour, the update-in-progress flag (UIP, the 244 us before each
// second), the periodic (PF), update-ended (UF) and alarm (AF) interrupts on ISA IRQ8,
// register C cleared on read, and the century byte at 0x32 (named in the FADT). Leaves
// out daylight-saving (DSE) and the divider chain reset states of register A.

import type { AccessSize, PioDevice } from '../bus.js';
import type { VirtualClock } from '../clock.js';
import type { IrqLine } from '../irq.js';
import type { TimerSource } from './timer.js';

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const RTC_CENTURY = 0x32;

export const RTC_UIP = 0x80;
export const RTC_SET = 0x80;
export const RTC_PIE = 0x40;
export const RTC_AIE = 0x20;
export const RTC_UIE = 0x10;
export const RTC_DM_BINARY = 0x04;
export const RTC_24H = 0x02;
export const RTC_IRQF = 0x80;
export const RTC_PF = 0x40;
export const RTC_AF = 0x20;
export const RTC_UF = 0x10;
export const RTC_VRT = 0x80;

const UIP_WINDOW_NS = 244_000; // MC146818A: UIP rises 244 us before the update

export class CmosRtc implements PioDevice, TimerSource {
  private index = 0;
  /** NMI disabled via port 0x70 bit 7 (no NMI source is wired, recorded for reads). */
  nmiMasked = false;
  private readonly nvram = new Uint8Array(128);
  /** Guest time in ms = clock ms + offsetMs. */
  private offsetMs: number;
  private regA = 0x26; // 32.768 kHz divider, 1024 Hz periodic rate
  private regB = RTC_24H;
  private regC = 0;
  private nextPeriodicNs = Infinity;
  private nextUpdateNs = Infinity;
  private periodStartNs = 0;

  constructor(private readonly clock: VirtualClock, private readonly irq: IrqLine, hostEpochMs = Date.now()) {
    this.offsetMs = hostEpochMs - clock.nowNs() / 1e6;
    this.nvram[RTC_REG_D] = RTC_VRT;
    // PC AT CMOS layout (IBM AT tech ref): base memory 640 KiB; the rest is reported by e820.
    this.nvram[0x15] = 640 & 0xff;
    this.nvram[0x16] = 640 >> 8;
  }

  private guestMs(): number {
    return this.clock.nowNs() / 1e6 + this.offsetMs;
  }

  private encode(v: number): number {
    return this.regB & RTC_DM_BINARY ? v : ((Math.floor(v / 10) << 4) | v % 10);
  }

  private decode(v: number): number {
    return this.regB & RTC_DM_BINARY ? v : (v >> 4) * 10 + (v & 0x0f);
  }

  private timeRegister(reg: number): number {
    const d = new Date(Math.floor(this.guestMs()));
    switch (reg) {
      case RTC_SECONDS:
        return this.encode(d.getUTCSeconds());
      case RTC_MINUTES:
        return this.encode(d.getUTCMinutes());
      case RTC_HOURS: {
        const h = d.getUTCHours();
        if (this.regB & RTC_24H) return this.encode(h);
        const h12 = h % 12 === 0 ? 12 : h % 12;
        return this.encode(h12) | (h >= 12 ? 0x80 : 0);
      }
      case RTC_DAY_OF_WEEK:
        return this.encode(d.getUTCDay() + 1);
      case RTC_DAY_OF_MONTH:
        return this.encode(d.getUTCDate());
      case RTC_MONTH:
        return this.encode(d.getUTCMonth() + 1);
      case RTC_YEAR:
        return this.encode(d.getUTCFullYear() % 100);
      case RTC_CENTURY:
        return this.encode(Math.floor(d.getUTCFullYear() / 100));
      default:
        return 0;
    }
  }

  private isTimeRegister(reg: number): boolean {
    return reg === RTC_SECONDS || reg === RTC_MINUTES || reg === RTC_HOURS || (reg >= RTC_DAY_OF_WEEK && reg <= RTC_YEAR) || reg === RTC_CENTURY;
  }

  pioRead(offset: number, _size: AccessSize): number {
    if (offset === 0) return 0xff; // the index port is write-only
    const reg = this.index;
    if (this.isTimeRegister(reg)) {
      // While SET is on the guest is editing the latched registers: show them.
      return this.regB & RTC_SET ? this.nvram[reg] : this.timeRegister(reg);
    }
    switch (reg) {
      case RTC_REG_A: {
        const ms = this.guestMs();
        const uip = !(this.regB & RTC_SET) && 1000 - (ms % 1000) <= UIP_WINDOW_NS / 1e6;
        return this.regA | (uip ? RTC_UIP : 0);
      }
      case RTC_REG_B:
        return this.regB;
      case RTC_REG_C: {
        this.poll(this.clock.nowNs());
        const c = this.regC;
        this.regC = 0;
        if (c & RTC_IRQF) this.irq.lower();
        return c;
      }
      case RTC_REG_D:
        return RTC_VRT;
      default:
        return this.nvram[reg];
    }
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    const reg = this.index;
    if (this.isTimeRegister(reg)) {
      if (!(this.regB & RTC_SET)) this.snapshotTime();
      this.nvram[reg] = value;
      if (!(this.regB & RTC_SET)) this.commitTime();
      return;
    }
    switch (reg) {
      case RTC_REG_A:
        this.regA = value & 0x7f;
        this.schedule();
        return;
      case RTC_REG_B: {
        const wasSet = (this.regB & RTC_SET) !== 0;
        // Entering SET freezes the displayed registers at the current time.
        if (value & RTC_SET && !wasSet) this.snapshotTime();
        this.regB = value;
        if (wasSet && !(value & RTC_SET)) this.commitTime();
        this.schedule();
        return;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        this.nvram[reg] = value;
    }
  }

  private snapshotTime(): void {
    for (const r of [RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY]) {
      this.nvram[r] = this.timeRegister(r);
    }
  }

  /** Turns the edited registers back into a running time (hostile values are clamped by Date). */
  private commitTime(): void {
    const n = this.nvram;
    let hours = this.decode(n[RTC_HOURS] & 0x7f);
    if (!(this.regB & RTC_24H)) hours = (hours % 12) + (n[RTC_HOURS] & 0x80 ? 12 : 0);
    const year = this.decode(n[RTC_CENTURY]) * 100 + this.decode(n[RTC_YEAR]);
    const ms = Date.UTC(year, this.decode(n[RTC_MONTH]) - 1, this.decode(n[RTC_DAY_OF_MONTH]), hours, this.decode(n[RTC_MINUTES]), this.decode(n[RTC_SECONDS]));
    if (Number.isFinite(ms)) this.offsetMs = ms - this.clock.nowNs() / 1e6;
  }

  /** Periodic interrupt period from register A's rate select (MC146818A table 5). */
  private periodNs(): number {
    const rs = this.regA & 0x0f;
    if (rs === 0) return Infinity;
    const hz = rs <= 2 ? 32768 >> (rs + 6) : 32768 >> (rs - 1);
    return 1e9 / hz;
  }

  private schedule(): void {
    const now = this.clock.nowNs();
    const period = this.periodNs();
    if (this.regB & RTC_PIE && period !== Infinity) {
      if (this.nextPeriodicNs === Infinity) {
        this.periodStartNs = now;
        this.nextPeriodicNs = now + period;
      }
    } else {
      this.nextPeriodicNs = Infinity;
    }
    if (this.regB & (RTC_UIE | RTC_AIE) && !(this.regB & RTC_SET)) {
      const ms = this.guestMs();
      this.nextUpdateNs = now + (1000 - (ms % 1000)) * 1e6;
    } else {
      this.nextUpdateNs = Infinity;
    }
  }

  nextDeadlineNs(): number {
    return Math.min(this.nextPeriodicNs, this.nextUpdateNs);
  }

  poll(nowNs: number): void {
    let flags = 0;
    if (nowNs >= this.nextPeriodicNs) {
      flags |= RTC_PF;
      const period = this.periodNs();
      this.nextPeriodicNs = period === Infinity ? Infinity : this.periodStartNs + (Math.floor((nowNs - this.periodStartNs) / period) + 1) * period;
    }
    if (nowNs >= this.nextUpdateNs) {
      flags |= RTC_UF;
      if (this.alarmMatches()) flags |= RTC_AF;
      this.nextUpdateNs += 1e9 * Math.max(1, Math.ceil((nowNs - this.nextUpdateNs + 1) / 1e9));
    }
    if (!flags) return;
    this.regC |= flags;
    const enabled = ((this.regB & RTC_PIE ? RTC_PF : 0) | (this.regB & RTC_AIE ? RTC_AF : 0) | (this.regB & RTC_UIE ? RTC_UF : 0)) & this.regC;
    if (enabled && !(this.regC & RTC_IRQF)) {
      this.regC |= RTC_IRQF;
      this.irq.raise();
    }
  }

  private alarmMatches(): boolean {
    // A value with the two top bits set (0xC0-0xFF) is "don't care" (MC146818A §alarm).
    const match = (alarmReg: number, timeReg: number) => (this.nvram[alarmReg] & 0xc0) === 0xc0 || this.nvram[alarmReg] === this.timeRegister(timeReg);
    return match(RTC_SECONDS_ALARM, RTC_SECONDS) && match(RTC_MINUTES_ALARM, RTC_MINUTES) && match(RTC_HOURS_ALARM, RTC_HOURS);
  }
}
