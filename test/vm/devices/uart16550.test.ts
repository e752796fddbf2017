import { describe, expect, it } from 'vitest';
import { LevelLine } from '../../../src/vm/irq.js';
import {
  Uart16550, UART_FCR, UART_IER, UART_IIR, UART_LCR, UART_LSR, UART_MCR, UART_MSR, UART_SCR,
} from '../../../src/vm/devices/uart16550.js';

function uart() {
  const irq = new LevelLine();
  const out: number[] = [];
  const u = new Uart16550(irq, (b) => out.push(b));
  const r = (o: number) => u.pioRead(o, 1);
  const w = (o: number, v: number) => u.pioWrite(o, 1, v);
  return { u, irq, out, r, w };
}

describe('Uart16550 as the 8250 driver drives it', () => {
  it('passes autoconfig: IER probe, scratch, loopback MSR and 16550A FIFO detection', () => {
    const { r, w } = uart();
    w(UART_IER, 0);
    expect(r(UART_IER) & 0x0f).toBe(0);
    w(UART_IER, 0x0f);
    expect(r(UART_IER) & 0x0f).toBe(0x0f);
    w(UART_IER, 0);
    w(UART_SCR, 0xa5);
    expect(r(UART_SCR)).toBe(0xa5);
    // 8250_port.c: MCR = LOOP | OUT2 | RTS must read back MSR & 0xF0 == 0x90 (DCD | CTS).
    w(UART_MCR, 0x10 | 0x0a);
    expect(r(UART_MSR) & 0xf0).toBe(0x90);
    w(UART_MCR, 0);
    w(UART_FCR, 0x01);
    w(UART_FCR, 0xe7);
    expect(r(UART_IIR) >> 6).toBe(3); // 16550A: both FIFO bits set
    expect(r(UART_IIR) & 0x20).toBe(0); // not a 16750 (no 64-byte FIFO bit)
  });

  it('loops transmitted bytes back into the receiver in loopback mode', () => {
    const { r, w, out } = uart();
    w(UART_MCR, 0x10);
    w(0, 0x5a);
    expect(out).toEqual([]);
    expect(r(UART_LSR) & 0x01).toBe(1);
    expect(r(0)).toBe(0x5a);
    expect(r(UART_LSR) & 0x01).toBe(0);
  });

  it('raises THRE when ETBEI is enabled with THR empty, and IIR read clears it', () => {
    const { r, w, irq } = uart();
    w(UART_MCR, 0x08); // OUT2 gates the IRQ on a PC
    w(UART_IER, 0x02);
    expect(irq.level).toBe(true);
    expect(r(UART_IIR) & 0x0f).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(r(UART_IIR) & 0x01).toBe(1);
    w(0, 0x41); // a transmitted byte makes THR empty again: a new THRE event
    expect(irq.level).toBe(true);
  });

  it('keeps the IRQ pin low without OUT2', () => {
    const { w, irq } = uart();
    w(UART_IER, 0x02);
    expect(irq.level).toBe(false);
    w(UART_MCR, 0x08);
    expect(irq.level).toBe(true);
  });

  it('transmits, uses the divisor latch and receives through the FIFO with priorities', () => {
    const { u, r, w, out, irq } = uart();
    w(UART_LCR, 0x80);
    w(0, 0x01);
    w(1, 0x00);
    expect(r(0)).toBe(1);
    w(UART_LCR, 0x03);
    w(0, 0x68);
    w(0, 0x69);
    expect(out).toEqual([0x68, 0x69]);
    w(UART_FCR, 0xc1); // FIFO, trigger 14
    w(UART_MCR, 0x08);
    w(UART_IER, 0x01);
    expect(u.rxSpace()).toBe(16);
    u.receive(0x31);
    expect(irq.level).toBe(true);
    expect(r(UART_IIR) & 0x0f).toBe(0x0c); // below the trigger: character timeout
    for (let i = 0; i < 14; i++) u.receive(0x40 + i);
    expect(r(UART_IIR) & 0x0f).toBe(0x04);
    expect(r(0)).toBe(0x31);
    for (let i = 0; i < 14; i++) r(0);
    expect(irq.level).toBe(false);
  });

  it('reports overrun in LSR, clears it on read and signals the line-status interrupt first', () => {
    const { u, r, w } = uart();
    w(UART_FCR, 0x01);
    w(UART_IER, 0x05);
    for (let i = 0; i < 17; i++) u.receive(i);
    expect(u.overruns).toBe(1);
    expect(r(UART_IIR) & 0x0f).toBe(0x06);
    expect(r(UART_LSR) & 0x02).toBe(2);
    expect(r(UART_LSR) & 0x02).toBe(0);
  });

  it('sets MSR delta bits on modem-line changes in loopback and clears them on read', () => {
    const { r, w } = uart();
    w(UART_MCR, 0x10);
    r(UART_MSR);
    w(UART_MCR, 0x10 | 0x01); // DTR -> DSR
    expect(r(UART_MSR) & 0x22).toBe(0x22);
    expect(r(UART_MSR) & 0x0f).toBe(0);
  });
});
