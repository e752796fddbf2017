// MSI-X for one PCI function (PCI Local Bus 3.0 §6.8.2, PCIe Base 4.0 §7.7.2): the
// capability's Message Control (enable, function mask), the vector table (16 bytes per
// entry: address low/high, data, vector control) and the Pending Bit Array. A message is
// sent to the MsiSink (the LAPICs) unless its entry or the whole function is masked, in
// which case its pending bit is set and the message goes out when it is unmasked
// (§6.8.2.9 "Vector Control").
//
// Leaves out: nothing the virtio drivers use; the table is not reset by a virtio device
// reset (it is PCI state, cleared by a PCI reset only).

import type { MsiSink } from '../../irq.js';
import { readLe } from './virtio-device.js';

export const MSIX_ENTRY_SIZE = 16;
/** Message Control bits (§6.8.2.3). */
export const MSIX_CONTROL_ENABLE = 0x8000;
export const MSIX_CONTROL_FUNCTION_MASK = 0x4000;
/** Vector Control bit 0 (§6.8.2.9). */
export const MSIX_VECTOR_MASKED = 1;

export class Msix {
  enabled = false;
  functionMasked = false;
  private readonly table: Uint8Array;
  private readonly view: DataView;
  private readonly pba: Uint8Array;
  /** Messages sent (for tests and statistics). */
  sent = 0;

  constructor(
    readonly vectors: number,
    private readonly sink: MsiSink,
  ) {
    if (vectors < 1 || vectors > 2048) throw new RangeError(`bad MSI-X vector count ${vectors}`);
    this.table = new Uint8Array(vectors * MSIX_ENTRY_SIZE);
    this.view = new DataView(this.table.buffer);
    this.pba = new Uint8Array(Math.ceil(vectors / 64) * 8);
    // Entries come out of reset masked (§6.8.2.9).
    for (let i = 0; i < vectors; i++) this.view.setUint32(i * MSIX_ENTRY_SIZE + 12, MSIX_VECTOR_MASKED, true);
  }

  get tableSizeBytes(): number {
    return this.table.length;
  }
  get pbaSizeBytes(): number {
    return this.pba.length;
  }

  /** Message Control as read through the capability (table size N-1 in bits 10:0). */
  readControl(): number {
    return (this.vectors - 1) | (this.functionMasked ? MSIX_CONTROL_FUNCTION_MASK : 0) | (this.enabled ? MSIX_CONTROL_ENABLE : 0);
  }

  writeControl(value: number): void {
    this.enabled = (value & MSIX_CONTROL_ENABLE) !== 0;
    this.functionMasked = (value & MSIX_CONTROL_FUNCTION_MASK) !== 0;
    this.deliverPending();
  }

  readTable(offset: number, size: 1 | 2 | 4): number {
    return readLe(this.table, offset, size);
  }

  writeTable(offset: number, size: 1 | 2 | 4, value: number): void {
    // checked: only whole bytes inside the table are written; the rest is dropped.
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at >= 0 && at < this.table.length) this.table[at] = (value >>> (8 * i)) & 0xff;
    }
    this.deliverPending();
  }

  readPba(offset: number, size: 1 | 2 | 4): number {
    return readLe(this.pba, offset, size);
  }

  isMasked(vector: number): boolean {
    return this.functionMasked || (this.view.getUint32(vector * MSIX_ENTRY_SIZE + 12, true) & MSIX_VECTOR_MASKED) !== 0;
  }

  /** Signals `vector` (ignored when out of range: the transport rejects such mappings). */
  send(vector: number): void {
    if (!this.enabled || vector < 0 || vector >= this.vectors) return;
    if (this.isMasked(vector)) {
      this.pba[vector >> 3] |= 1 << (vector & 7);
      return;
    }
    this.fire(vector);
  }

  private fire(vector: number): void {
    const e = vector * MSIX_ENTRY_SIZE;
    const address = (BigInt(this.view.getUint32(e + 4, true)) << 32n) | BigInt(this.view.getUint32(e, true));
    this.sent++;
    this.sink.sendMsi(address, this.view.getUint32(e + 8, true));
  }

  private deliverPending(): void {
    if (!this.enabled) return;
    for (let v = 0; v < this.vectors; v++) {
      const bit = 1 << (v & 7);
      if (this.pba[v >> 3] & bit && !this.isMasked(v)) {
        this.pba[v >> 3] &= ~bit;
        this.fire(v);
      }
    }
  }
}
