import { describe, expect, it } from 'vitest';
import { IoBus, type AccessSize, type PioDevice } from '../../src/vm/bus.js';

class Recorder implements PioDevice {
  writes: Array<[number, number, number]> = [];
  pioRead(offset: number, size: AccessSize): number {
    return offset * 0x10 + size;
  }
  pioWrite(offset: number, size: AccessSize, value: number): void {
    this.writes.push([offset, size, value]);
  }
}

describe('IoBus', () => {
  it('dispatches by offset and reads unclaimed ports as all ones', () => {
    const bus = new IoBus();
    const dev = new Recorder();
    bus.registerPio(0x3f8, 8, dev, 'uart');
    expect(bus.pioRead(0x3fd, 1)).toBe(0x51);
    bus.pioWrite(0x3f8, 1, 0x41);
    expect(dev.writes).toEqual([[0, 1, 0x41]]);
    expect(bus.pioRead(0x2f8, 2)).toBe(0xffff);
  });

  it('refuses overlapping ranges at wiring time', () => {
    const bus = new IoBus();
    bus.registerPio(0x3f8, 8, new Recorder(), 'a');
    expect(() => bus.registerPio(0x3ff, 2, new Recorder(), 'b')).toThrow(/already claimed by a/);
    const mmio = { mmioRead: () => 0, mmioWrite: () => undefined };
    bus.registerMmio(0xfee00000, 0x1000, mmio, 'lapic');
    expect(() => bus.registerMmio(0xfee00800, 0x10, mmio, 'x')).toThrow(/overlaps lapic/);
  });
});
