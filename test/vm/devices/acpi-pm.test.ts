import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/vm/clock.js';
import { AcpiPm, PM_TIMER_HZ, SLP_TYP_S5 } from '../../../src/vm/devices/acpi-pm.js';
import { LevelLine } from '../../../src/vm/irq.js';

describe('AcpiPm', () => {
  function pm() {
    const clock = new ManualClock();
    const sci = new LevelLine();
    let off = 0;
    return { clock, sci, pm: new AcpiPm(clock, sci, () => off++), off: () => off };
  }

  it('counts the PM timer at 3.579545 MHz with 32 bits', () => {
    const { clock, pm: p } = pm();
    clock.advance(1e9);
    expect(p.pioRead(8, 4)).toBe(PM_TIMER_HZ);
    clock.advance(1300e9); // past 2^32 ticks
    expect(p.pioRead(8, 4)).toBe((1301 * PM_TIMER_HZ) % 2 ** 32);
  });

  it('starts in ACPI mode and powers off on SLP_EN with the S5 type only', () => {
    const { pm: p, off } = pm();
    expect(p.pioRead(4, 2) & 1).toBe(1);
    p.pioWrite(4, 2, (1 << 10) | (1 << 13) | 1); // S1-style type: ignored
    expect(off()).toBe(0);
    p.pioWrite(4, 2, (SLP_TYP_S5 << 10) | 1); // type without SLP_EN
    expect(off()).toBe(0);
    p.pioWrite(4, 2, (SLP_TYP_S5 << 10) | (1 << 13) | 1);
    expect(off()).toBe(1);
    expect(p.pioRead(4, 2) & (1 << 13)).toBe(0); // SLP_EN is write-only
  });

  it('raises the SCI for an enabled power-button event and clears it write-one-to-clear', () => {
    const { sci, pm: p } = pm();
    p.pressPowerButton();
    expect(sci.level).toBe(false); // not enabled
    p.pioWrite(2, 2, 1 << 8);
    expect(sci.level).toBe(true);
    expect(p.pioRead(0, 4)).toBe((1 << 8) | (1 << 24));
    p.pioWrite(0, 2, 1 << 8);
    expect(sci.level).toBe(false);
  });
});
