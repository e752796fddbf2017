// IPv4 (RFC 791) for the user-mode network: header parsing with every field checked,
// header building, address text conversion. Options in received headers are skipped (their
// length is honoured); fragments are not reassembled — the NAT drops them, which is enough
// for guests that use path-MTU discovery (Linux sets DF on TCP).

import { internetChecksum, onesComplementSum } from './checksum.js';
import { ETH_HEADER_BYTES, ETHERTYPE_IPV4, writeEthernetHeader } from './ethernet.js';

export const IPV4_HEADER_BYTES = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** RFC 791 §3.1 flags: Don't Fragment, More Fragments; fragment offset mask. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;
export const IPV4_DEFAULT_TTL = 64;

export interface Ipv4Packet {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  /** The transport payload, cut to the header's total length (padding removed). */
  readonly payload: Uint8Array;
}

/** Parses the IPv4 packet in frame[offset..]; a string is the reason it was rejected. */
export function parseIpv4(frame: Uint8Array, offset: number): Ipv4Packet | string {
  const avail = frame.length - offset;
  if (avail < IPV4_HEADER_BYTES) return 'ipv4-truncated';
  const vihl = frame[offset]!;
  if (vihl >>> 4 !== 4) return 'ipv4-bad-version';
  const headerBytes = (vihl & 0x0f) * 4;
  if (headerBytes < IPV4_HEADER_BYTES) return 'ipv4-bad-header-length';
  const totalBytes = (frame[offset + 2]! << 8) | frame[offset + 3]!;
  // Hostile lengths: the header must fit in the total, the total in what arrived.
  if (totalBytes < headerBytes || totalBytes > avail) return 'ipv4-bad-total-length';
  if (onesComplementSum(frame, offset, offset + headerBytes) !== 0xffff) return 'ipv4-bad-checksum';
  const flagsFrag = (frame[offset + 6]! << 8) | frame[offset + 7]!;
  if ((flagsFrag & IPV4_FLAG_MF) !== 0 || (flagsFrag & IPV4_FRAG_OFFSET_MASK) !== 0) return 'ipv4-fragment';
  return {
    src: readU32(frame, offset + 12),
    dst: readU32(frame, offset + 16),
    protocol: frame[offset + 9]!,
    ttl: frame[offset + 8]!,
    payload: frame.subarray(offset + headerBytes, offset + totalBytes),
  };
}

/** Who a frame goes between: the part of a frame spec every protocol builder shares. */
export interface Ipv4FrameSpec {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  src: number;
  dst: number;
  ident: number;
}

/** Offset of the transport header in frames made by allocIpv4Frame. */
export const IPV4_PAYLOAD_OFFSET = ETH_HEADER_BYTES + IPV4_HEADER_BYTES;

/**
 * A whole Ethernet frame with Ethernet and IPv4 headers written (checksum included); the
 * caller fills the payload at IPV4_PAYLOAD_OFFSET.
 */
export function allocIpv4Frame(spec: Ipv4FrameSpec, protocol: number, payloadBytes: number, dontFragment = false): Uint8Array {
  const frame = new Uint8Array(IPV4_PAYLOAD_OFFSET + payloadBytes);
  writeEthernetHeader(frame, spec.dstMac, spec.srcMac, ETHERTYPE_IPV4);
  const o = ETH_HEADER_BYTES;
  const total = IPV4_HEADER_BYTES + payloadBytes;
  frame[o] = 0x45;
  frame[o + 2] = total >>> 8;
  frame[o + 3] = total & 0xff;
  frame[o + 4] = (spec.ident >>> 8) & 0xff;
  frame[o + 5] = spec.ident & 0xff;
  frame[o + 6] = dontFragment ? IPV4_FLAG_DF >>> 8 : 0;
  frame[o + 8] = IPV4_DEFAULT_TTL;
  frame[o + 9] = protocol;
  writeU32(frame, o + 12, spec.src);
  writeU32(frame, o + 16, spec.dst);
  const sum = internetChecksum(frame, o, o + IPV4_HEADER_BYTES);
  frame[o + 10] = sum >>> 8;
  frame[o + 11] = sum & 0xff;
  return frame;
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** `10.0.2.15` → 0x0a00020f; null when not a dotted quad. */
export function parseIpv4Address(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIpv4Address(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}
