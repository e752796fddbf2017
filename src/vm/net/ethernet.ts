// Ethernet II framing (IEEE 802.3 clause 3.2.6 with the EtherType interpretation of the
// length/type field) and MAC addresses. No VLAN tags (802.1Q frames are dropped by the
// users of this file) and no frame check sequence: virtio-net and TAP carry frames without it.

export const ETH_HEADER_BYTES = 14;
export const ETH_ADDR_BYTES = 6;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** Parses `52:54:00:12:34:56` (case-insensitive); returns null when malformed. */
export function parseMac(text: string): Uint8Array | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) return null;
  return new Uint8Array(m.slice(1).map((h) => parseInt(h, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, ETH_ADDR_BYTES), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array): boolean {
  for (let i = 0; i < ETH_ADDR_BYTES; i++) if (a[aOffset + i] !== b[i]) return false;
  return true;
}

/** Bit 0 of the first octet marks group (multicast and broadcast) addresses (802.3 §3.2.3). */
export function isGroupMac(frame: Uint8Array, offset: number): boolean {
  return (frame[offset]! & 1) === 1;
}

export function writeEthernetHeader(frame: Uint8Array, dst: Uint8Array, src: Uint8Array, etherType: number): void {
  for (let i = 0; i < ETH_ADDR_BYTES; i++) {
    frame[i] = dst[i]!;
    frame[6 + i] = src[i]!;
  }
  frame[12] = etherType >>> 8;
  frame[13] = etherType & 0xff;
}

export function readEtherType(frame: Uint8Array): number {
  return (frame[12]! << 8) | frame[13]!;
}
