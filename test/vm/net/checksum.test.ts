// The Internet checksum against a plain RFC 1071 reference, on every alignment and length
// the fast path and the byte loop split between.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from '../../../src/vm/net/checksum.js';

function reference(data: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (data[i]! << 8) | (i + 1 < end ? data[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

describe('internet checksum', () => {
  it('matches the reference for every alignment, odd lengths and large buffers', () => {
    const buf = randomBytes(70_000);
    for (const offset of [0, 1, 2, 3]) {
      const view = new Uint8Array(buf.buffer, buf.byteOffset + offset, buf.length - offset);
      for (const [start, end] of [[0, 0], [0, 1], [0, 63], [0, 64], [1, 65], [2, 1501], [14, 1514], [34, 65_569], [3, 69_990]] as const) {
        expect(onesComplementSum(view, start, end, 0x1234), `${offset}:${start}-${end}`).toBe(reference(view, start, end, 0x1234));
      }
    }
    expect(onesComplementSum(new Uint8Array(65_536).fill(0xff), 0, 65_536)).toBe(0xffff);
  });

  it('verifies to all ones over a packet carrying its own checksum (RFC 1071 §1)', () => {
    const pkt = randomBytes(1500);
    pkt[10] = pkt[11] = 0;
    const sum = internetChecksum(pkt, 0, 1500, pseudoHeaderSum(0x0a00020f, 0x0a000202, 6, 1500));
    pkt[10] = sum >> 8;
    pkt[11] = sum & 0xff;
    expect(onesComplementSum(pkt, 0, 1500, pseudoHeaderSum(0x0a00020f, 0x0a000202, 6, 1500))).toBe(0xffff);
  });
});
