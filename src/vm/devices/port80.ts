// The POST diagnostic port 0x80. Linux writes it as an I/O delay (outb_p) and firmware
// writes progress codes; the last code is kept for register dumps. Reads return all ones
// as on boards without a POST card.

import type { AccessSize, PioDevice } from '../bus.js';

export class Port80 implements PioDevice {
  lastCode = 0;
  pioRead(_offset: number, _size: AccessSize): number {
    return 0xff;
  }
  pioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.lastCode = value & 0xff;
  }
}
