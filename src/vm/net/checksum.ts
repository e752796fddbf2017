// The Internet checksum (RFC 1071) over IPv4 headers and, with the pseudo-header of
// RFC 793 §3.1 / RFC 768, over TCP and UDP. Sums are folded 16-bit one's-complement values.

/** True on little-endian hosts, where 16-bit loads see each word byte-swapped. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Words summed before folding, so the running sum stays below 2^31. */
const WORDS_PER_FOLD = 16_384;

/** One's-complement sum of data[start, end) as big-endian 16-bit words, folded to 16 bits. */
export function onesComplementSum(data: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  const abs = data.byteOffset + start;
  let i = start;
  if (LITTLE_ENDIAN && (abs & 1) === 0 && end - start >= 64) {
    // Hot path (every frame): whole 16-bit loads. The one's-complement sum does not depend
    // on byte order (RFC 1071 §2(B)): sum the host-order words, then swap the result.
    const words = (end - start) >>> 1;
    const u16 = new Uint16Array(data.buffer, abs, words);
    let swapped = 0;
    for (let w = 0; w < words; ) {
      const stop = Math.min(words, w + WORDS_PER_FOLD);
      for (; w < stop; w++) swapped += u16[w]!;
      swapped = (swapped & 0xffff) + (swapped >>> 16);
    }
    while (swapped > 0xffff) swapped = (swapped & 0xffff) + (swapped >>> 16);
    sum += ((swapped & 0xff) << 8) | (swapped >>> 8);
    i = start + words * 2;
  }
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
