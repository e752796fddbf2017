// The Internet checksum (RFC 1071) over IPv4 headers and, with the pseudo-header of
// RFC 793 §3.1 / RFC 768, over TCP and UDP. Sums are folded 16-bit one's-complement values.

/** One's-complement sum of data[start, end) as big-endian 16-bit words, folded to 16 bits. */
export function onesComplementSum(data: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) {
    sum += (data[i]! << 8) | data[i + 1]!;
    // Fold early so the running sum stays a small integer however long the packet.
    if (sum > 0x7fff_ffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (i < end) sum += data[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The value to store in a checksum field: the complement of the folded sum. */
export function internetChecksum(data: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(data, start, end, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (source, destination, zero, protocol, length). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, lengthBytes: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + lengthBytes;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
