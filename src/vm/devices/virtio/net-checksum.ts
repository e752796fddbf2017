// virtio-net's checksum offloads (virtio 1.2 §5.1.6.2 and §5.1.6.4.1): completing a
// partial checksum the driver left for the device (VIRTIO_NET_F_CSUM: flags NEEDS_CSUM,
// csum_start, csum_offset), and telling the driver a received frame's TCP/UDP checksum
// is already known good (VIRTIO_NET_F_GUEST_CSUM: flags DATA_VALID). Both save the
// emulated guest a pass over every byte; the host does the sums instead. DATA_VALID is
// set only after the device verified the checksum itself, never on trust.
//
// Leaves out: IPv6, VLAN-tagged frames and IPv4 fragments (DATA_VALID is simply not set
// for them; the guest checks as usual), segmentation offloads.

import { onesComplementSum, pseudoHeaderSum } from '../../net/checksum.js';

const ETH_HEADER_BYTES = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * §5.1.6.2: sums frame[csumStart, end) onto the value already in the checksum field (the
 * driver seeded it with the pseudo-header sum) and stores the complement there. Returns
 * false, touching nothing, when the offsets do not fit the frame.
 */
export function completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): boolean {
  const at = csumStart + csumOffset;
  // checked: the field and the summed range lie inside the frame.
  if (csumStart >= frame.length || at + 2 > frame.length) return false;
  const sum = onesComplementSum(frame, csumStart, frame.length);
  const csum = ~sum & 0xffff;
  frame[at] = csum >> 8;
  frame[at + 1] = csum & 0xff;
  return true;
}

/** True when frame is IPv4 TCP/UDP (unfragmented) whose header and L4 checksums verify. */
export function hasValidL4Checksum(frame: Uint8Array): boolean {
  if (frame.length < ETH_HEADER_BYTES + 20 || u16(frame, 12) !== ETHERTYPE_IPV4) return false;
  const ip = ETH_HEADER_BYTES;
  const ihlBytes = (frame[ip] & 0x0f) * 4;
  if (frame[ip] >> 4 !== 4 || ihlBytes < 20) return false;
  const total = u16(frame, ip + 2);
  if (total < ihlBytes || ip + total > frame.length) return false;
  if (u16(frame, ip + 6) & 0x3fff) return false; // MF or a fragment offset
  if (onesComplementSum(frame, ip, ip + ihlBytes) !== 0xffff) return false;
  const proto = frame[ip + 9];
  const l4 = ip + ihlBytes;
  const l4Bytes = total - ihlBytes;
  if (proto === IPPROTO_TCP ? l4Bytes < 20 : proto === IPPROTO_UDP ? l4Bytes < 8 : true) return false;
  // RFC 768: UDP checksum 0 means "none computed": nothing to vouch for.
  if (proto === IPPROTO_UDP && u16(frame, l4 + 6) === 0) return false;
  const src = ((frame[ip + 12] << 24) | (frame[ip + 13] << 16) | (frame[ip + 14] << 8) | frame[ip + 15]) >>> 0;
  const dst = ((frame[ip + 16] << 24) | (frame[ip + 17] << 16) | (frame[ip + 18] << 8) | frame[ip + 19]) >>> 0;
  return onesComplementSum(frame, l4, l4 + l4Bytes, pseudoHeaderSum(src, dst, proto, l4Bytes)) === 0xffff;
}
