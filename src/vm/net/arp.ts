// ARP for IPv4 over Ethernet (RFC 826): parsing requests and replies and building replies.
// No gratuitous-ARP handling and no cache timeouts: the user-mode network has one guest.

import { ETH_HEADER_BYTES, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from './ethernet.js';
import { readU16, readU32, writeU16, writeU32 } from './ipv4.js';

export const ARP_PACKET_BYTES = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export interface ArpPacket {
  readonly op: number;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  readonly targetMac: Uint8Array;
  readonly targetIp: number;
}

/** Parses the ARP packet in frame[offset..]; a string is the reason it was rejected. */
export function parseArp(frame: Uint8Array, offset: number): ArpPacket | string {
  if (frame.length - offset < ARP_PACKET_BYTES) return 'arp-truncated';
  if (readU16(frame, offset) !== ARP_HTYPE_ETHERNET || readU16(frame, offset + 2) !== ETHERTYPE_IPV4) {
    return 'arp-not-ipv4-over-ethernet';
  }
  if (frame[offset + 4] !== 6 || frame[offset + 5] !== 4) return 'arp-bad-address-lengths';
  const op = readU16(frame, offset + 6);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return 'arp-bad-op';
  return {
    op,
    senderMac: frame.slice(offset + 8, offset + 14),
    senderIp: readU32(frame, offset + 14),
    targetMac: frame.slice(offset + 18, offset + 24),
    targetIp: readU32(frame, offset + 24),
  };
}

/** A whole Ethernet frame carrying an ARP packet. */
export function buildArpFrame(op: number, senderMac: Uint8Array, senderIp: number,
  targetMac: Uint8Array, targetIp: number, ethDst: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETH_HEADER_BYTES + ARP_PACKET_BYTES);
  writeEthernetHeader(frame, ethDst, senderMac, ETHERTYPE_ARP);
  const o = ETH_HEADER_BYTES;
  writeU16(frame, o, ARP_HTYPE_ETHERNET);
  writeU16(frame, o + 2, ETHERTYPE_IPV4);
  frame[o + 4] = 6;
  frame[o + 5] = 4;
  writeU16(frame, o + 6, op);
  frame.set(senderMac.subarray(0, 6), o + 8);
  writeU32(frame, o + 14, senderIp);
  frame.set(targetMac.subarray(0, 6), o + 18);
  writeU32(frame, o + 24, targetIp);
  return frame;
}
