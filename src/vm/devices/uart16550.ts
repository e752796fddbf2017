// National Semiconductor PC16550D UART as the Linux 8250 driver drives it (16550A data
// sheet; Linux drivers/tty/serial/8250/8250_port.c autoconfig). Models the register file,
// 16-byte receive FIFO, IIR priority encoding, THRE interrupt semantics (pending on THR
// empty when IER.ETBEI is set or becomes set; cleared by reading IIR or writing THR),
// LSR error bits cleared on read, MSR deltas, loopback (MCR bit 4) and the scratch
// register. The IRQ pin is gated by MCR.OUT2 as on PC boards. Transmission is instantaneous
// (no baud-rate timing); no break generation, no parity/framing errors from the host side.

import type { AccessSize, PioDevice } from '../bus.js';
import type { IrqLine } from '../irq.js';

export const UART_RBR = 0; // receive buffer (read, DLAB=0)
export const UART_THR = 0; // transmit holding (write, DLAB=0)
export const UART_IER = 1;
export const UART_IIR = 2; // read
export const UART_FCR = 2; // write
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const UART_IER_RDI = 0x01;
export const UART_IER_THRI = 0x02;
export const UART_IER_RLSI = 0x04;
export const UART_IER_MSI = 0x08;

export const UART_IIR_NO_INT = 0x01;
export const UART_IIR_MSI = 0x00;
export const UART_IIR_THRI = 0x02;
export const UART_IIR_RDI = 0x04;
export const UART_IIR_RLSI = 0x06;
export const UART_IIR_RX_TIMEOUT = 0x0c;
export const UART_IIR_FIFO_ENABLED = 0xc0;

export const UART_FCR_ENABLE_FIFO = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;

export const UART_LCR_DLAB = 0x80;

export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT1 = 0x04;
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_LOOP = 0x10;

export const UART_LSR_DR = 0x01;
export const UART_LSR_OE = 0x02;
export const UART_LSR_BI = 0x10;
export const UART_LSR_THRE = 0x20;
export const UART_LSR_TEMT = 0x40;

export const UART_MSR_DCTS = 0x01;
export const UART_MSR_DDSR = 0x02;
export const UART_MSR_TERI = 0x04;
export const UART_MSR_DDCD = 0x08;
export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_RI = 0x40;
export const UART_MSR_DCD = 0x80;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

export class Uart16550 implements PioDevice {
  private readonly rx: number[] = [];
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = UART_LSR_THRE | UART_LSR_TEMT;
  private msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS; // a connected terminal
  private scr = 0;
  private dll = 0x0c; // 9600 baud, the power-on value firmware leaves
  private dlm = 0;
  private fcr = 0;
  private thrIpending = false;
  private irqLevel = false;
  /** Bytes dropped because the receive FIFO was full (overrun). */
  overruns = 0;

  constructor(private readonly irq: IrqLine, private readonly out: (byte: number) => void) {}

  /** How many bytes the host may feed now without overrunning the FIFO. */
  rxSpace(): number {
    return (this.fcr & UART_FCR_ENABLE_FIFO ? FIFO_SIZE : 1) - this.rx.length;
  }

  /** A byte from the host side (keyboard, pipe). Overruns set LSR.OE as hardware does. */
  receive(byte: number): void {
    if (this.mcr & UART_MCR_LOOP) return; // the serial input is disconnected in loopback
    this.pushRx(byte & 0xff);
  }

  private pushRx(byte: number): void {
    if (this.rxSpace() <= 0) {
      this.lsr |= UART_LSR_OE;
      this.overruns++;
    } else {
      this.rx.push(byte);
      this.lsr |= UART_LSR_DR;
    }
    this.updateIrq();
  }

  pioRead(offset: number, _size: AccessSize): number {
    switch (offset) {
      case 0: {
        if (this.lcr & UART_LCR_DLAB) return this.dll;
        const byte = this.rx.length ? this.rx.shift()! : 0;
        if (this.rx.length === 0) this.lsr &= ~UART_LSR_DR;
        this.updateIrq();
        return byte;
      }
      case 1:
        return this.lcr & UART_LCR_DLAB ? this.dlm : this.ier;
      case 2: {
        const iir = this.currentIir();
        // Reading IIR while it reports THRE clears that source (16550D data sheet, table 4).
        if ((iir & 0x0f) === UART_IIR_THRI) this.thrIpending = false;
        this.updateIrq();
        return iir;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const lsr = this.lsr;
        this.lsr &= ~(UART_LSR_OE | UART_LSR_BI); // error bits clear on read
        this.updateIrq();
        return lsr;
      }
      case 6: {
        const msr = this.currentMsr();
        this.msr &= 0xf0; // deltas clear on read
        this.updateIrq();
        return msr;
      }
      case 7:
        return this.scr;
      default:
        return 0xff;
    }
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    switch (offset) {
      case 0:
        if (this.lcr & UART_LCR_DLAB) {
          this.dll = value;
          return;
        }
        if (this.mcr & UART_MCR_LOOP) this.pushRx(value);
        else this.out(value);
        // The byte leaves at once: THR and the shift register are empty again, which is
        // a fresh THRE event (the write itself cleared the previous one).
        this.lsr |= UART_LSR_THRE | UART_LSR_TEMT;
        this.thrIpending = true;
        this.updateIrq();
        return;
      case 1:
        if (this.lcr & UART_LCR_DLAB) {
          this.dlm = value;
          return;
        }
        {
          const changed = (this.ier ^ value) & 0x0f;
          this.ier = value & 0x0f;
          // Enabling ETBEI with THR empty raises THRE at once; 8250_port.c's THRE probe
          // (UART_BUG_THRE) relies on it.
          if (changed & UART_IER_THRI && this.ier & UART_IER_THRI && this.lsr & UART_LSR_THRE) this.thrIpending = true;
          this.updateIrq();
        }
        return;
      case 2:
        if (value & UART_FCR_CLEAR_RCVR || (value ^ this.fcr) & UART_FCR_ENABLE_FIFO) {
          this.rx.length = 0;
          this.lsr &= ~UART_LSR_DR;
        }
        this.fcr = value & 0xc9;
        this.updateIrq();
        return;
      case 3:
        this.lcr = value;
        return;
      case 4: {
        const old = this.currentMsr() & 0xf0;
        this.mcr = value & 0x1f;
        this.noteMsrChange(old);
        this.updateIrq();
        return;
      }
      case 5:
      case 6:
        return; // read-only on the 16550A
      case 7:
        this.scr = value;
        return;
    }
  }

  private noteMsrChange(oldLines: number): void {
    const now = this.currentMsr() & 0xf0;
    const diff = now ^ oldLines;
    if (diff & UART_MSR_CTS) this.msr |= UART_MSR_DCTS;
    if (diff & UART_MSR_DSR) this.msr |= UART_MSR_DDSR;
    if (diff & UART_MSR_DCD) this.msr |= UART_MSR_DDCD;
    if (oldLines & UART_MSR_RI && !(now & UART_MSR_RI)) this.msr |= UART_MSR_TERI;
  }

  private currentMsr(): number {
    if (!(this.mcr & UART_MCR_LOOP)) return this.msr;
    // Loopback wiring (16550D §8.6): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    let lines = 0;
    if (this.mcr & UART_MCR_RTS) lines |= UART_MSR_CTS;
    if (this.mcr & UART_MCR_DTR) lines |= UART_MSR_DSR;
    if (this.mcr & UART_MCR_OUT1) lines |= UART_MSR_RI;
    if (this.mcr & UART_MCR_OUT2) lines |= UART_MSR_DCD;
    return (this.msr & 0x0f) | lines;
  }

  private currentIir(): number {
    const fifo = this.fcr & UART_FCR_ENABLE_FIFO ? UART_IIR_FIFO_ENABLED : 0;
    if (this.ier & UART_IER_RLSI && this.lsr & (UART_LSR_OE | UART_LSR_BI)) return fifo | UART_IIR_RLSI;
    if (this.ier & UART_IER_RDI && this.lsr & UART_LSR_DR) {
      // Below the trigger level the 16550 reports a character timeout instead; with no
      // baud timing here the timeout is immediate.
      if (fifo && this.rx.length < TRIGGER_LEVELS[this.fcr >> 6]) return fifo | UART_IIR_RX_TIMEOUT;
      return fifo | UART_IIR_RDI;
    }
    if (this.ier & UART_IER_THRI && this.thrIpending) return fifo | UART_IIR_THRI;
    if (this.ier & UART_IER_MSI && this.msr & 0x0f) return fifo | UART_IIR_MSI;
    return fifo | UART_IIR_NO_INT;
  }

  private updateIrq(): void {
    const pending = (this.currentIir() & UART_IIR_NO_INT) === 0;
    const level = pending && (this.mcr & UART_MCR_OUT2) !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    if (level) this.irq.raise();
    else this.irq.lower();
  }
}
