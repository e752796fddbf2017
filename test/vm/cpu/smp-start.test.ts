// INIT/SIPI start of an application processor (SDM Vol. 3A §9.4.4, §11.6.1): after
// init() the vCPU waits; startupIpi(vector) starts it in real mode at vector * 4096.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/vm/bus.js';
import { ManualClock } from '../../../src/vm/clock.js';
import { Cpu } from '../../../src/vm/cpu/index.js';
import { BufferGuestMemory } from '../../../src/vm/memory.js';
import { assemble, RecordingPort } from './harness.js';

describe('application processor start-up', () => {
  it('waits after INIT, then runs real-mode code at the SIPI vector', () => {
    const mem = new BufferGuestMemory([{ gpa: 0, bytes: new Uint8Array(1 << 20) }]);
    const bus = new IoBus();
    const serial = new RecordingPort();
    bus.registerPio(0x3f8, 1, serial);
    const ap = new Cpu({ index: 1, mem, bus, clock: new ManualClock() });
    mem.slice(0x9000, 64).set(assemble(`
      mov ax, cs
      mov ds, ax
      mov dx, 0x3f8
      mov al, [msg - 0x9000]
      out dx, al
      mov eax, 0x12345678
      hlt
    msg: .byte 'S'
    `, 16, 0x9000));
    ap.init();
    expect(ap.run(1000)).toEqual({ kind: 'hlt' }); // waiting for SIPI
    expect(ap.instructionsRetired).toBe(0);
    ap.startupIpi(0x09);
    expect(ap.run(1000)).toEqual({ kind: 'hlt' });
    expect(serial.text()).toBe('S');
    const r = ap.getRegisters();
    expect(r.cs.selector).toBe(0x900);
    expect(r.rax).toBe(0x12345678n);
    expect(ap.getMsr(0x1b) & 0x100n).toBe(0n); // not the BSP
  });
});
