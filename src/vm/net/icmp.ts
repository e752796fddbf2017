// ICMP echo (RFC 792) for the user-mode network's own addresses: a checked echo request
// becomes an echo reply with the same identifier, sequence number and data. Other ICMP
// types from the guest are not handled (the NAT does not relay ICMP to the host).

import { internetChecksum, onesComplementSum } from './checksum.js';
import { allocIpv4Frame, type Ipv4FrameSpec, IPPROTO_ICMP, IPV4_PAYLOAD_OFFSET, writeU16 } from './ipv4.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_HEADER_BYTES = 8;

/** Checks an ICMP message; returns a rejection reason or null. */
export function checkIcmp(ipPayload: Uint8Array): string | null {
  if (ipPayload.length < ICMP_HEADER_BYTES) return 'icmp-truncated';
  if (onesComplementSum(ipPayload, 0, ipPayload.length) !== 0xffff) return 'icmp-bad-checksum';
  return null;
}

export type IcmpFrameSpec = Ipv4FrameSpec;

/** An ICMP message of `type`/`code` whose rest (identifier, sequence, data) is `rest`. */
export function buildIcmpFrame(spec: IcmpFrameSpec, type: number, code: number, rest: Uint8Array): Uint8Array {
  const length = 4 + rest.length;
  const frame = allocIpv4Frame(spec, IPPROTO_ICMP, length);
  const o = IPV4_PAYLOAD_OFFSET;
  frame[o] = type;
  frame[o + 1] = code;
  frame.set(rest, o + 4);
  writeU16(frame, o + 2, internetChecksum(frame, o, o + length));
  return frame;
}
