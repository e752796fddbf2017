// The ACPI fixed-hardware registers this machine exposes (ACPI 6.5 §4.8): the PM1a event
// block (PM1_STS, PM1_EN), the PM1a control block (SCI_EN, SLP_TYP, SLP_EN) and the
// 32-bit power-management timer at 3.579545 MHz (FADT flag TMR_VAL_EXT). Writing SLP_EN
// with the \_S5 sleep type powers the machine off; the SCI (ISA IRQ9, level) follows
// (PM1_STS & PM1_EN) while SCI_EN is set. SCI_EN is set from reset and the FADT has no
// SMI_CMD, so the OS finds the platform already in ACPI mode. Leaves out TMR_STS
// generation (the timer-carry event; Linux never enables it), GPE blocks, S1-S4.

import type { AccessSize, PioDevice } from '../bus.js';
import type { VirtualClock } from '../clock.js';
import type { IrqLine } from '../irq.js';
import { ticksAfterNs } from './timer.js';

export const PM_TIMER_HZ = 3_579_545;
/** Offsets inside the block the machine maps (FADT PM1a_EVT_BLK, PM1a_CNT_BLK, PM_TMR_BLK). */
export const PM1_STS_OFFSET = 0x00;
export const PM1_EN_OFFSET = 0x02;
export const PM1_CNT_OFFSET = 0x04;
export const PM_TMR_OFFSET = 0x08;
export const ACPI_PM_BLOCK_BYTES = 0x0c;

export const PM1_TMR_STS = 1 << 0;
export const PM1_GBL_STS = 1 << 5;
export const PM1_PWRBTN_STS = 1 << 8;
export const PM1_RTC_STS = 1 << 10;
export const PM1_WAK_STS = 1 << 15;
export const PM1_SCI_EN = 1 << 0;
export const PM1_SLP_EN = 1 << 13;
/** The sleep type this machine's \_S5 package names (the DSDT encodes the same value). */
export const SLP_TYP_S5 = 5;

const PM1_EVENTS = PM1_TMR_STS | PM1_GBL_STS | PM1_PWRBTN_STS | PM1_RTC_STS;

export class AcpiPm implements PioDevice {
  private sts = 0;
  private en = 0;
  private cnt = PM1_SCI_EN;
  private sciLevel = false;

  constructor(
    private readonly clock: VirtualClock,
    private readonly sci: IrqLine,
    private readonly onPowerOff: () => void,
  ) {}

  /** The PM timer value: 32 bits of a 3.579545 MHz count since machine start. */
  timer(): number {
    return ticksAfterNs(this.clock.nowNs(), PM_TIMER_HZ) % 0x1_0000_0000;
  }

  /** The fixed power button (ACPI 6.5 §4.8.3.1.1): the guest's button driver shuts down. */
  pressPowerButton(): void {
    this.sts |= PM1_PWRBTN_STS;
    this.updateSci();
  }

  pioRead(offset: number, size: AccessSize): number {
    let value: number;
    if (offset >= PM_TMR_OFFSET) value = this.timer();
    else if (offset >= PM1_CNT_OFFSET) value = this.cnt;
    else value = this.sts | (this.en << 16);
    const shift = (offset & 3) * 8;
    const mask = size === 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
    return ((value >>> shift) & mask) >>> 0;
  }

  pioWrite(offset: number, size: AccessSize, value: number): void {
    // Split wider writes into 16-bit registers so PM1_STS/PM1_EN written as one dword work.
    for (let i = 0; i < size; i += 2) {
      const reg = (offset + i) & ~1;
      const v = size === 1 ? value & 0xff : (value >>> (i * 8)) & 0xffff;
      this.writeRegister(reg, v, size === 1 ? (offset & 1) * 8 : 0, size === 1 ? 0xff : 0xffff);
    }
  }

  private writeRegister(reg: number, v: number, shift: number, mask: number): void {
    const bits = (v & mask) << shift;
    const touched = mask << shift;
    if (reg === PM1_STS_OFFSET) {
      this.sts &= ~bits; // write-one-to-clear
    } else if (reg === PM1_EN_OFFSET) {
      this.en = (this.en & ~touched) | (bits & PM1_EVENTS);
    } else if (reg === PM1_CNT_OFFSET) {
      this.cnt = (this.cnt & ~touched) | (bits & ~PM1_SLP_EN);
      if (bits & PM1_SLP_EN && ((this.cnt >> 10) & 7) === SLP_TYP_S5) this.onPowerOff();
    }
    this.updateSci();
  }

  private updateSci(): void {
    const level = (this.cnt & PM1_SCI_EN) !== 0 && (this.sts & this.en & PM1_EVENTS) !== 0;
    if (level === this.sciLevel) return;
    this.sciLevel = level;
    if (level) this.sci.raise();
    else this.sci.lower();
  }
}
