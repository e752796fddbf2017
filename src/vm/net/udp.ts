// UDP (RFC 768): datagram parsing with length and checksum checks, and building datagrams
// inside IPv4 frames with the pseudo-header checksum.

import { internetChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { allocIpv4Frame, type Ipv4FrameSpec, IPPROTO_UDP, IPV4_PAYLOAD_OFFSET, readU16, writeU16 } from './ipv4.js';

export const UDP_HEADER_BYTES = 8;

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** Parses the UDP datagram carried in an IPv4 payload; a string is the rejection reason. */
export function parseUdp(src: number, dst: number, ipPayload: Uint8Array): UdpDatagram | string {
  if (ipPayload.length < UDP_HEADER_BYTES) return 'udp-truncated';
  const length = readU16(ipPayload, 4);
  if (length < UDP_HEADER_BYTES || length > ipPayload.length) return 'udp-bad-length';
  // A zero checksum means the sender did not compute one (RFC 768).
  if (readU16(ipPayload, 6) !== 0) {
    const sum = onesComplementSum(ipPayload, 0, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length));
    if (sum !== 0xffff) return 'udp-bad-checksum';
  }
  return { srcPort: readU16(ipPayload, 0), dstPort: readU16(ipPayload, 2), payload: ipPayload.subarray(UDP_HEADER_BYTES, length) };
}

export interface UdpFrameSpec extends Ipv4FrameSpec {
  srcPort: number;
  dstPort: number;
}

export function buildUdpFrame(spec: UdpFrameSpec, payload: Uint8Array): Uint8Array {
  const length = UDP_HEADER_BYTES + payload.length;
  const frame = allocIpv4Frame(spec, IPPROTO_UDP, length);
  const o = IPV4_PAYLOAD_OFFSET;
  writeU16(frame, o, spec.srcPort);
  writeU16(frame, o + 2, spec.dstPort);
  writeU16(frame, o + 4, length);
  frame.set(payload, o + UDP_HEADER_BYTES);
  const sum = internetChecksum(frame, o, o + length, pseudoHeaderSum(spec.src, spec.dst, IPPROTO_UDP, length));
  // RFC 768: a computed zero is sent as all ones.
  writeU16(frame, o + 6, sum === 0 ? 0xffff : sum);
  return frame;
}
