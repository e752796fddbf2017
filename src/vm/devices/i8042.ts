// A minimal Intel 8042 keyboard controller at ports 0x60 (data) and 0x64 (status/command)
// (IBM PC AT technical reference, "Keyboard controller"). Its job here is the reset line:
// command 0xFE (pulse output port bit 0) or an output-port write with bit 0 clear resets
// the machine, which Linux uses as a fallback reboot method. It also answers the
// controller self-tests and the command byte so a probing driver sees a sane controller
// with no keyboard or mouse attached (the DSDT lists no PNP0303, so Linux does not probe).
// Leaves out scan codes, the mouse and IRQ1/IRQ12.

import type { AccessSize, PioDevice } from '../bus.js';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08;

export class I8042 {
  private readonly out: number[] = [];
  private commandByte = 0x45; // translate, system flag, keyboard interrupt enabled
  private outputPort = 0x03; // reset line high (inactive), A20 enabled
  private pendingCommand = 0;
  private lastWasCommand = false;
  readonly dataPort: PioDevice;
  readonly commandPort: PioDevice;

  constructor(private readonly onReset: () => void) {
    this.dataPort = {
      pioRead: (_o: number, _s: AccessSize) => (this.out.length ? this.out.shift()! : 0),
      pioWrite: (_o: number, _s: AccessSize, v: number) => this.writeData(v & 0xff),
    };
    this.commandPort = {
      pioRead: () => (this.out.length ? STATUS_OBF : 0) | STATUS_SYS | (this.lastWasCommand ? STATUS_CMD : 0),
      pioWrite: (_o: number, _s: AccessSize, v: number) => this.writeCommand(v & 0xff),
    };
  }

  private writeCommand(cmd: number): void {
    this.lastWasCommand = true;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x20: // read command byte
        this.out.push(this.commandByte);
        return;
      case 0x60: // write command byte (next data byte)
      case 0xd1: // write output port
      case 0xd2: // write keyboard output buffer
      case 0xd3: // write aux output buffer
      case 0xd4: // write to aux device
        this.pendingCommand = cmd;
        return;
      case 0xaa: // controller self-test
        this.out.push(0x55);
        return;
      case 0xa9: // aux interface test
      case 0xab: // keyboard interface test
        this.out.push(0x00);
        return;
      case 0xd0: // read output port
        this.out.push(this.outputPort);
        return;
      default:
        // 0xF0-0xFF pulse output-port lines low; bit 0 is the CPU reset line.
        if (cmd >= 0xf0 && !(cmd & 1)) this.onReset();
        return; // 0xA7/0xA8/0xAD/0xAE enable/disable ports: nothing attached
    }
  }

  private writeData(v: number): void {
    this.lastWasCommand = false;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x60:
        this.commandByte = v;
        return;
      case 0xd1:
        this.outputPort = v;
        if (!(v & 1)) this.onReset();
        return;
      case 0xd2:
      case 0xd3:
        this.out.push(v);
        return;
      case 0xd4:
        return; // no mouse: the byte goes nowhere
      default:
        // A byte for the keyboard: nothing is plugged in, so no reply (the driver times out).
        return;
    }
  }
}
