import { describe, expect, it } from 'vitest';
import { I8042 } from '../../../src/vm/devices/i8042.js';
import { Port80 } from '../../../src/vm/devices/port80.js';
import { ResetControl } from '../../../src/vm/devices/reset-control.js';

describe('reset paths and small devices', () => {
  it('resets through 0xCF9 on RST_CPU rising, as the FADT reset register value 0x06 does', () => {
    let resets = 0;
    const rc = new ResetControl(() => resets++);
    rc.write(0x02);
    expect(resets).toBe(0);
    rc.write(0x06);
    expect(resets).toBe(1);
    expect(rc.read()).toBe(0x02);
  });

  it('resets through the i8042 pulse command 0xFE and answers self-tests', () => {
    let resets = 0;
    const kbc = new I8042(() => resets++);
    kbc.commandPort.pioWrite(0, 1, 0xaa);
    expect(kbc.commandPort.pioRead(0, 1) & 1).toBe(1);
    expect(kbc.dataPort.pioRead(0, 1)).toBe(0x55);
    kbc.commandPort.pioWrite(0, 1, 0x20);
    expect(kbc.dataPort.pioRead(0, 1)).toBe(0x45);
    expect(kbc.commandPort.pioRead(0, 1) & 1).toBe(0);
    kbc.commandPort.pioWrite(0, 1, 0xfe);
    expect(resets).toBe(1);
  });

  it('keeps the last POST code on port 0x80', () => {
    const p = new Port80();
    p.pioWrite(0, 1, 0x3c);
    expect(p.lastCode).toBe(0x3c);
    expect(p.pioRead(0, 1)).toBe(0xff);
  });
});
