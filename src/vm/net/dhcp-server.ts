// The user-mode network's DHCP server (RFC 2131 message exchange, RFC 2132 options): it
// hands the one guest its fixed lease (10.0.2.15 by default) with subnet mask, router, DNS
// server, broadcast address and lease time. DISCOVER → OFFER, REQUEST → ACK or NAK,
// INFORM → ACK; DECLINE and RELEASE need no answer. No relay agents (giaddr is echoed,
// replies still go to the local link), no option overload (RFC 2132 §9.3), no address pool.

import { readU16, readU32, writeU16, writeU32 } from './ipv4.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** RFC 2131 §2: op, htype .. file is 236 bytes; the magic cookie follows. */
export const DHCP_FIXED_BYTES = 236;
export const DHCP_MAGIC_COOKIE = 0x63825363;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_FLAG_BROADCAST = 0x8000;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const DHCP_OPT_PAD = 0;
export const DHCP_OPT_SUBNET_MASK = 1;
export const DHCP_OPT_ROUTER = 3;
export const DHCP_OPT_DNS = 6;
export const DHCP_OPT_BROADCAST = 28;
export const DHCP_OPT_REQUESTED_IP = 50;
export const DHCP_OPT_LEASE_TIME = 51;
export const DHCP_OPT_MESSAGE_TYPE = 53;
export const DHCP_OPT_SERVER_ID = 54;
export const DHCP_OPT_END = 255;

export interface DhcpServerConfig {
  guestAddr: number;
  serverAddr: number;
  routerAddr: number;
  dnsAddr: number;
  netmask: number;
  leaseSeconds: number;
}

export interface DhcpMessage {
  readonly op: number;
  readonly xid: number;
  readonly flags: number;
  readonly ciaddr: number;
  readonly giaddr: number;
  readonly chaddr: Uint8Array;
  readonly options: ReadonlyMap<number, Uint8Array>;
}

/** Parses a BOOTP/DHCP message; a string is the reason it was rejected. */
export function parseDhcp(payload: Uint8Array): DhcpMessage | string {
  if (payload.length < DHCP_FIXED_BYTES + 4) return 'dhcp-truncated';
  if (readU32(payload, DHCP_FIXED_BYTES) !== DHCP_MAGIC_COOKIE) return 'dhcp-no-magic-cookie';
  if (payload[1] !== 1 || payload[2] !== 6) return 'dhcp-not-ethernet';
  const options = new Map<number, Uint8Array>();
  let i = DHCP_FIXED_BYTES + 4;
  // Every option length is checked against the end of the datagram before it is used.
  while (i < payload.length) {
    const code = payload[i]!;
    if (code === DHCP_OPT_PAD) { i++; continue; }
    if (code === DHCP_OPT_END) break;
    if (i + 1 >= payload.length) return 'dhcp-option-truncated';
    const len = payload[i + 1]!;
    if (i + 2 + len > payload.length) return 'dhcp-option-truncated';
    if (!options.has(code)) options.set(code, payload.slice(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return {
    op: payload[0]!,
    xid: readU32(payload, 4),
    flags: readU16(payload, 10),
    ciaddr: readU32(payload, 12),
    giaddr: readU32(payload, 24),
    chaddr: payload.slice(28, 34),
    options,
  };
}

export interface DhcpReply {
  readonly payload: Uint8Array;
  readonly messageType: number;
  /** Where the reply goes: the broadcast address or the client's address. */
  readonly dstAddr: number;
  readonly broadcast: boolean;
}

export class DhcpServer {
  constructor(private readonly config: DhcpServerConfig) {}

  /** Answers one client message; a string says why there is no answer (for the debug log). */
  handle(payload: Uint8Array): DhcpReply | string {
    const msg = parseDhcp(payload);
    if (typeof msg === 'string') return msg;
    if (msg.op !== BOOTREQUEST) return 'dhcp-not-request';
    const type = msg.options.get(DHCP_OPT_MESSAGE_TYPE);
    if (!type || type.length !== 1) return 'dhcp-no-message-type';
    const cfg = this.config;
    switch (type[0]) {
      case DHCPDISCOVER:
        return this.reply(msg, DHCPOFFER, cfg.guestAddr);
      case DHCPREQUEST: {
        const serverId = optionAddr(msg, DHCP_OPT_SERVER_ID);
        // RFC 2131 §4.3.2: a REQUEST naming another server means the client chose it.
        if (serverId !== null && serverId !== cfg.serverAddr) return 'dhcp-request-for-other-server';
        const requested = optionAddr(msg, DHCP_OPT_REQUESTED_IP) ?? msg.ciaddr;
        if (requested !== cfg.guestAddr) return this.reply(msg, DHCPNAK, 0);
        return this.reply(msg, DHCPACK, cfg.guestAddr);
      }
      case DHCPINFORM:
        return this.reply(msg, DHCPACK, 0);
      case DHCPDECLINE:
      case DHCPRELEASE:
        return 'dhcp-no-reply-needed';
      default:
        return 'dhcp-unknown-message-type';
    }
  }

  private reply(msg: DhcpMessage, type: number, yiaddr: number): DhcpReply {
    const cfg = this.config;
    const opts: Array<[number, Uint8Array]> = [[DHCP_OPT_MESSAGE_TYPE, Uint8Array.of(type)], [DHCP_OPT_SERVER_ID, addrBytes(cfg.serverAddr)]];
    if (type !== DHCPNAK) {
      if (yiaddr !== 0) opts.push([DHCP_OPT_LEASE_TIME, addrBytes(cfg.leaseSeconds)]);
      opts.push([DHCP_OPT_SUBNET_MASK, addrBytes(cfg.netmask)]);
      opts.push([DHCP_OPT_ROUTER, addrBytes(cfg.routerAddr)]);
      opts.push([DHCP_OPT_DNS, addrBytes(cfg.dnsAddr)]);
      opts.push([DHCP_OPT_BROADCAST, addrBytes((cfg.guestAddr & cfg.netmask) | (~cfg.netmask >>> 0))]);
    }
    const optBytes = opts.reduce((n, [, v]) => n + 2 + v.length, 0) + 1;
    // Pad to the 300-byte BOOTP minimum some clients still expect (RFC 1542 §2.1).
    const out = new Uint8Array(Math.max(300, DHCP_FIXED_BYTES + 4 + optBytes));
    out[0] = BOOTREPLY;
    out[1] = 1;
    out[2] = 6;
    writeU32(out, 4, msg.xid);
    writeU16(out, 10, msg.flags & DHCP_FLAG_BROADCAST);
    writeU32(out, 12, type === DHCPACK && yiaddr === 0 ? msg.ciaddr : 0);
    writeU32(out, 16, yiaddr);
    writeU32(out, 20, type === DHCPNAK ? 0 : cfg.serverAddr);
    writeU32(out, 24, msg.giaddr);
    out.set(msg.chaddr, 28);
    writeU32(out, DHCP_FIXED_BYTES, DHCP_MAGIC_COOKIE);
    let i = DHCP_FIXED_BYTES + 4;
    for (const [code, value] of opts) {
      out[i] = code;
      out[i + 1] = value.length;
      out.set(value, i + 2);
      i += 2 + value.length;
    }
    out[i] = DHCP_OPT_END;
    // RFC 2131 §4.1: NAKs are broadcast; a client with an address gets unicast; otherwise
    // the broadcast flag decides.
    const toClient = msg.ciaddr !== 0 && type !== DHCPNAK;
    const broadcast = !toClient && (type === DHCPNAK || (msg.flags & DHCP_FLAG_BROADCAST) !== 0 || yiaddr === 0);
    return { payload: out, messageType: type, dstAddr: toClient ? msg.ciaddr : broadcast ? 0xffff_ffff : yiaddr, broadcast };
  }
}

function optionAddr(msg: DhcpMessage, code: number): number | null {
  const v = msg.options.get(code);
  return v && v.length === 4 ? readU32(v, 0) : null;
}

function addrBytes(value: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, value >>> 0);
  return b;
}
