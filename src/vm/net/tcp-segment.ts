// TCP segments (RFC 9293 §3.1): header parsing with data offset, option and checksum checks,
// and building segments inside IPv4 frames. Of the options MSS (kind 2) and window scale
// (kind 3, RFC 7323 §2) are read and written; SACK and timestamps are neither offered nor
// used.

import { internetChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { allocIpv4Frame, type Ipv4FrameSpec, IPPROTO_TCP, IPV4_PAYLOAD_OFFSET, readU16, readU32, writeU16, writeU32 } from './ipv4.js';

export const TCP_HEADER_BYTES = 20;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_OPT_END = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
/** RFC 7323 §2.3: larger shifts are treated as 14. */
export const TCP_MAX_WSCALE = 14;

export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** The MSS option's value, when present. */
  readonly mss: number | null;
  /** The window-scale option's shift count, when present. */
  readonly wscale: number | null;
  readonly payload: Uint8Array;
}

/** Parses the TCP segment carried in an IPv4 payload; a string is the rejection reason. */
export function parseTcp(src: number, dst: number, ipPayload: Uint8Array): TcpSegment | string {
  const len = ipPayload.length;
  if (len < TCP_HEADER_BYTES) return 'tcp-truncated';
  const headerBytes = (ipPayload[12]! >>> 4) * 4;
  if (headerBytes < TCP_HEADER_BYTES || headerBytes > len) return 'tcp-bad-data-offset';
  if (onesComplementSum(ipPayload, 0, len, pseudoHeaderSum(src, dst, IPPROTO_TCP, len)) !== 0xffff) return 'tcp-bad-checksum';
  let mss: number | null = null;
  let wscale: number | null = null;
  let i = TCP_HEADER_BYTES;
  // Each option's length is checked against the header before it is read.
  while (i < headerBytes) {
    const kind = ipPayload[i]!;
    if (kind === TCP_OPT_END) break;
    if (kind === TCP_OPT_NOP) { i++; continue; }
    if (i + 1 >= headerBytes) return 'tcp-bad-option';
    const optLen = ipPayload[i + 1]!;
    if (optLen < 2 || i + optLen > headerBytes) return 'tcp-bad-option';
    if (kind === TCP_OPT_MSS) {
      if (optLen !== 4) return 'tcp-bad-option';
      mss = readU16(ipPayload, i + 2);
    } else if (kind === TCP_OPT_WSCALE) {
      if (optLen !== 3) return 'tcp-bad-option';
      wscale = Math.min(ipPayload[i + 2]!, TCP_MAX_WSCALE);
    }
    i += optLen;
  }
  return {
    srcPort: readU16(ipPayload, 0),
    dstPort: readU16(ipPayload, 2),
    seq: readU32(ipPayload, 4),
    ack: readU32(ipPayload, 8),
    flags: ipPayload[13]! & 0x3f,
    window: readU16(ipPayload, 14),
    mss,
    wscale,
    payload: ipPayload.subarray(headerBytes),
  };
}

export interface TcpFrameSpec extends Ipv4FrameSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  /** Sent as NOP + window scale (4 bytes). */
  wscale?: number;
}

export function buildTcpFrame(spec: TcpFrameSpec, payload: Uint8Array | null): Uint8Array {
  const headerBytes = TCP_HEADER_BYTES + (spec.mss === undefined ? 0 : 4) + (spec.wscale === undefined ? 0 : 4);
  const dataBytes = payload ? payload.length : 0;
  const length = headerBytes + dataBytes;
  const frame = allocIpv4Frame(spec, IPPROTO_TCP, length, true);
  const o = IPV4_PAYLOAD_OFFSET;
  writeU16(frame, o, spec.srcPort);
  writeU16(frame, o + 2, spec.dstPort);
  writeU32(frame, o + 4, spec.seq >>> 0);
  writeU32(frame, o + 8, (spec.flags & TCP_ACK) !== 0 ? spec.ack >>> 0 : 0);
  frame[o + 12] = (headerBytes / 4) << 4;
  frame[o + 13] = spec.flags;
  writeU16(frame, o + 14, spec.window);
  if (spec.mss !== undefined) {
    frame[o + 20] = TCP_OPT_MSS;
    frame[o + 21] = 4;
    writeU16(frame, o + 22, spec.mss);
  }
  if (spec.wscale !== undefined) {
    const w = o + TCP_HEADER_BYTES + (spec.mss === undefined ? 0 : 4);
    frame[w] = TCP_OPT_NOP;
    frame[w + 1] = TCP_OPT_WSCALE;
    frame[w + 2] = 3;
    frame[w + 3] = spec.wscale;
  }
  if (payload) frame.set(payload, o + headerBytes);
  writeU16(frame, o + 16, internetChecksum(frame, o, o + length, pseudoHeaderSum(spec.src, spec.dst, IPPROTO_TCP, length)));
  return frame;
}

/** Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}
