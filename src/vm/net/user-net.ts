// The `user` network backend: a userspace NAT like QEMU's user networking (slirp) on
// 10.0.2.0/24. The guest is 10.0.2.15 (handed out by the DHCP server), 10.0.2.2 is the
// gateway and stands for the host's loopback (a guest connection to 10.0.2.2:PORT becomes a
// host socket to 127.0.0.1:PORT), 10.0.2.3 is the DNS server (queries are relayed to the
// host's resolver). Connections to other addresses are re-originated from the host as
// ordinary sockets to that address. Inbound port forwards listen on host sockets: TCP ones
// open connections towards the guest, UDP ones relay datagrams (udp-port-forward.ts).
// Handles: Ethernet II, ARP (answers for .2 and .3, learns the guest MAC), IPv4 (checked
// headers, TTL spent like a router's; fragments dropped), ICMP echo to .2/.3, UDP
// (per-flow host sockets), DHCP, DNS over UDP and TCP, TCP (tcp-connection.ts). Every guest frame is checked field by field; a bad one is dropped and
// counted (NetCounters), nothing throws into the VMM.
// Left out: IPv6, ICMP to other hosts, IP fragments, TFTP/BOOTP file serving, SMB.
// Event-driven on the thread that creates it (the vCPU worker).

import { randomInt } from 'node:crypto';
import net from 'node:net';
import { TsvirtError } from '../../lib/errors.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, buildArpFrame, parseArp } from './arp.js';
import type { NetBackend } from './backend.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer } from './dhcp-server.js';
import {
  BROADCAST_MAC, ETH_HEADER_BYTES, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, isGroupMac, macEquals, readEtherType,
} from './ethernet.js';
import { DNS_PORT, hostDnsUpstream, type DnsUpstream } from './host-resolver.js';
import { buildIcmpFrame, checkIcmp, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from './icmp.js';
import { formatIpv4Address, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_BYTES, parseIpv4, type Ipv4Packet } from './ipv4.js';
import { NetCounters, type NetDebugLog } from './net-counters.js';
import { hostTimers, type NetTimers } from './net-timers.js';
import type { PortForward } from './port-forward.js';
import { DEFAULT_TCP_TUNING, TcpConnection, type TcpSink, type TcpTuning } from './tcp-connection.js';
import { buildTcpFrame, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './tcp-segment.js';
import { buildUdpFrame, parseUdp, UDP_HEADER_BYTES } from './udp.js';
import { UdpFlows } from './udp-flows.js';
import { UdpPortForwards } from './udp-port-forward.js';

/** QEMU's user-network layout (docs: "Network options", -netdev user defaults). */
export const USER_NET_NETWORK = 0x0a000200; // 10.0.2.0
export const USER_NET_NETMASK = 0xffffff00; // /24
export const USER_NET_GATEWAY = 0x0a000202; // 10.0.2.2
export const USER_NET_DNS = 0x0a000203; // 10.0.2.3
export const USER_NET_GUEST = 0x0a00020f; // 10.0.2.15
/** The MAC the virtual hosts (.2, .3) answer with; locally administered, like slirp's. */
export const USER_NET_GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
export const USER_NET_LEASE_SECONDS = 86_400;
/** The largest frame accepted from the guest: a 64 KiB IPv4 packet plus Ethernet header. */
export const MAX_GUEST_FRAME_BYTES = 65_535 + ETH_HEADER_BYTES;
/** The guest's MTU; UDP replies that would not fit one frame are dropped. */
export const USER_NET_MTU = 1500;

export interface UserNetOptions {
  /** Where the gateway address leads on the host (default 127.0.0.1). */
  hostLoopbackAddress?: string;
  /** DNS server queries to 10.0.2.3 go to; default: the host's resolv.conf; null: none. */
  dnsUpstream?: DnsUpstream | null;
  /** Re-originate connections to addresses outside 10.0.2.0/24 (default true). */
  allowExternal?: boolean;
  portForwards?: readonly PortForward[];
  timers?: NetTimers;
  log?: NetDebugLog;
  tcp?: Partial<TcpTuning>;
  maxTcpConnections?: number;
  udpIdleMs?: number;
  maxUdpFlows?: number;
}

/** A bound port forward (hostPort 0 in the options becomes the port the OS chose). */
export interface BoundPortForward extends PortForward {
  readonly boundPort: number;
}

export class UserNetBackend implements NetBackend, TcpSink {
  readonly counters: NetCounters;
  readonly timers: NetTimers;
  private deliver: ((frame: Uint8Array) => void) | null = null;
  private guestMac: Uint8Array | null = null;
  private ident = 0;
  private closed = false;
  private readonly tcp = new Map<string, TcpConnection>();
  private readonly udp: UdpFlows;
  private readonly udpForwards: UdpPortForwards;
  private readonly dhcp: DhcpServer;
  private readonly tuning: TcpTuning;
  private readonly hostLoopback: string;
  private readonly dnsUpstream: DnsUpstream | null;
  private readonly allowExternal: boolean;
  private readonly maxTcp: number;
  private readonly servers: net.Server[] = [];
  private nextInboundPort = 0;
  private bound: BoundPortForward[] = [];

  private constructor(opts: UserNetOptions) {
    this.timers = opts.timers ?? hostTimers;
    this.counters = new NetCounters('net-user', opts.log);
    this.tuning = { ...DEFAULT_TCP_TUNING, ...opts.tcp };
    this.hostLoopback = opts.hostLoopbackAddress ?? '127.0.0.1';
    this.dnsUpstream = opts.dnsUpstream === undefined ? hostDnsUpstream() : opts.dnsUpstream;
    this.allowExternal = opts.allowExternal ?? true;
    this.maxTcp = opts.maxTcpConnections ?? 1024;
    this.dhcp = new DhcpServer({
      guestAddr: USER_NET_GUEST, serverAddr: USER_NET_GATEWAY, routerAddr: USER_NET_GATEWAY,
      dnsAddr: USER_NET_DNS, netmask: USER_NET_NETMASK, leaseSeconds: USER_NET_LEASE_SECONDS,
    });
    this.udp = new UdpFlows({
      timers: this.timers, counters: this.counters, idleMs: opts.udpIdleMs ?? 60_000, maxFlows: opts.maxUdpFlows ?? 256,
      maxReplyBytes: USER_NET_MTU - IPV4_HEADER_BYTES - UDP_HEADER_BYTES,
      deliver: (guestPort, remoteAddr, remotePort, payload) => this.sendUdpToGuest(remoteAddr, remotePort, guestPort, payload),
    });
    this.udpForwards = new UdpPortForwards({
      timers: this.timers, counters: this.counters, idleMs: opts.udpIdleMs ?? 60_000, maxPeers: opts.maxUdpFlows ?? 256,
      maxDatagramBytes: USER_NET_MTU - IPV4_HEADER_BYTES - UDP_HEADER_BYTES,
      deliver: (gatewayPort, guestPort, payload) => this.sendUdpToGuest(USER_NET_GATEWAY, gatewayPort, guestPort, payload),
    });
  }

  /** Opens the NAT and its port-forward listeners (a busy port is the user's error). */
  static async open(opts: UserNetOptions = {}): Promise<UserNetBackend> {
    const nat = new UserNetBackend(opts);
    try {
      for (const [i, fwd] of (opts.portForwards ?? []).entries()) {
        const boundPort = fwd.proto === 'udp' ? await nat.udpForwards.listen(fwd, i) : await nat.listen(fwd);
        nat.bound.push({ ...fwd, boundPort });
      }
    } catch (err) {
      nat.close();
      throw err;
    }
    return nat;
  }

  /** The listening port forwards, with the ports actually bound. */
  get portForwards(): readonly BoundPortForward[] {
    return this.bound;
  }

  get tcpConnectionCount(): number {
    return this.tcp.size;
  }

  get udpFlowCount(): number {
    return this.udp.size;
  }

  onReceive(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    try {
      this.onGuestFrame(frame);
    } catch (err) {
      // Ours, not the guest's: keep the VMM running, but make it visible.
      this.counters.count('internal-error', err instanceof Error ? err.stack : String(err));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.tcp.values()) conn.destroy();
    this.tcp.clear();
    this.udp.close();
    this.udpForwards.close();
    for (const s of this.servers) s.close();
    this.servers.length = 0;
  }

  // --- TcpSink -------------------------------------------------------------------------

  emit(conn: TcpConnection, flags: number, seq: number, ack: number, window: number, payload: Uint8Array | null,
    options?: { mss: number; wscale?: number }): void {
    const dstMac = this.guestMacOrArp();
    if (!dstMac) return;
    this.toGuest(buildTcpFrame({
      dstMac, srcMac: USER_NET_GATEWAY_MAC, src: conn.remoteAddr, dst: USER_NET_GUEST, srcPort: conn.remotePort,
      dstPort: conn.guestPort, ident: this.nextIdent(), seq, ack, flags, window, ...options,
    }, payload));
  }

  released(conn: TcpConnection): void {
    if (this.tcp.get(conn.key) === conn) this.tcp.delete(conn.key);
  }

  // --- guest frames --------------------------------------------------------------------

  private onGuestFrame(frame: Uint8Array): void {
    if (frame.length < ETH_HEADER_BYTES) return this.counters.count('eth-truncated');
    if (frame.length > MAX_GUEST_FRAME_BYTES) return this.counters.count('eth-oversized');
    if (!macEquals(frame, 0, USER_NET_GATEWAY_MAC) && !isGroupMac(frame, 0)) return this.counters.count('eth-not-for-us');
    if (isGroupMac(frame, 6)) return this.counters.count('eth-group-source');
    if (!this.guestMac || !macEquals(frame, 6, this.guestMac)) {
      this.guestMac = frame.slice(6, 12);
      this.counters.count('guest-mac-learned');
    }
    switch (readEtherType(frame)) {
      case ETHERTYPE_ARP:
        return this.onArp(frame);
      case ETHERTYPE_IPV4:
        return this.onIpv4(frame);
      case ETHERTYPE_IPV6:
        return this.counters.count('ipv6-unsupported');
      default:
        return this.counters.count('ethertype-unsupported');
    }
  }

  private onArp(frame: Uint8Array): void {
    const arp = parseArp(frame, ETH_HEADER_BYTES);
    if (typeof arp === 'string') return this.counters.count(arp);
    if (arp.op !== ARP_OP_REQUEST) return;
    if (arp.targetIp !== USER_NET_GATEWAY && arp.targetIp !== USER_NET_DNS) return;
    // A probe (sender 0.0.0.0, RFC 5227) still gets its answer at the link layer.
    this.toGuest(buildArpFrame(ARP_OP_REPLY, USER_NET_GATEWAY_MAC, arp.targetIp, arp.senderMac, arp.senderIp, arp.senderMac));
  }

  private onIpv4(frame: Uint8Array): void {
    const ip = parseIpv4(frame, ETH_HEADER_BYTES);
    if (typeof ip === 'string') return this.counters.count(ip);
    // RFC 1812 §5.3.1: what the NAT forwards (as a router would) needs TTL left to spend.
    if (ip.ttl === 0 || (ip.ttl === 1 && !this.isLocal(ip.dst))) return this.counters.count('ipv4-ttl-expired');
    switch (ip.protocol) {
      case IPPROTO_UDP:
        return this.onUdp(ip);
      case IPPROTO_TCP:
        return this.onTcp(ip);
      case IPPROTO_ICMP:
        return this.onIcmp(ip);
      default:
        return this.counters.count('ipv4-protocol-unsupported', String(ip.protocol));
    }
  }

  private onIcmp(ip: Ipv4Packet): void {
    const bad = checkIcmp(ip.payload);
    if (bad) return this.counters.count(bad);
    if (ip.src !== USER_NET_GUEST) return this.counters.count('ipv4-foreign-source');
    if (ip.payload[0] !== ICMP_ECHO_REQUEST || ip.payload[1] !== 0) return this.counters.count('icmp-type-unsupported');
    if (ip.dst !== USER_NET_GATEWAY && ip.dst !== USER_NET_DNS) return this.counters.count('icmp-echo-not-forwarded');
    const dstMac = this.guestMacOrArp();
    if (!dstMac) return;
    this.toGuest(buildIcmpFrame({ dstMac, srcMac: USER_NET_GATEWAY_MAC, src: ip.dst, dst: USER_NET_GUEST, ident: this.nextIdent() },
      ICMP_ECHO_REPLY, 0, ip.payload.subarray(4)));
  }

  private onUdp(ip: Ipv4Packet): void {
    const udp = parseUdp(ip.src, ip.dst, ip.payload);
    if (typeof udp === 'string') return this.counters.count(udp);
    if (udp.dstPort === DHCP_SERVER_PORT && (ip.dst === 0xffff_ffff || ip.dst === USER_NET_GATEWAY)) return this.onDhcp(udp.payload);
    if (ip.src !== USER_NET_GUEST) return this.counters.count('ipv4-foreign-source');
    if (udp.dstPort === 0 || udp.srcPort === 0) return this.counters.count('udp-port-zero');
    let host: string;
    let port = udp.dstPort;
    if (ip.dst === USER_NET_DNS) {
      if (udp.dstPort !== DNS_PORT) return this.counters.count('udp-dns-address-other-port');
      if (!this.dnsUpstream) return this.counters.count('dns-no-upstream');
      host = this.dnsUpstream.address;
      port = this.dnsUpstream.port;
    } else if (ip.dst === USER_NET_GATEWAY) {
      if (this.udpForwards.fromGuest(udp.srcPort, udp.dstPort, udp.payload)) return;
      host = this.hostLoopback;
    } else {
      const target = this.externalTarget(ip.dst);
      if (typeof target !== 'string') return this.counters.count(target.reason);
      host = target;
    }
    this.udp.send(udp.srcPort, ip.dst, udp.dstPort, { host, port }, udp.payload);
  }

  private onDhcp(payload: Uint8Array): void {
    const reply = this.dhcp.handle(payload);
    if (typeof reply === 'string') return this.counters.count(reply);
    const dstMac = reply.broadcast ? BROADCAST_MAC : this.guestMac ?? BROADCAST_MAC;
    this.toGuest(buildUdpFrame({
      dstMac, srcMac: USER_NET_GATEWAY_MAC, src: USER_NET_GATEWAY, dst: reply.dstAddr, srcPort: DHCP_SERVER_PORT,
      dstPort: DHCP_CLIENT_PORT, ident: this.nextIdent(),
    }, reply.payload));
  }

  private sendUdpToGuest(remoteAddr: number, remotePort: number, guestPort: number, payload: Uint8Array): void {
    if (this.closed) return;
    const dstMac = this.guestMacOrArp();
    if (!dstMac) return;
    this.toGuest(buildUdpFrame({
      dstMac, srcMac: USER_NET_GATEWAY_MAC, src: remoteAddr, dst: USER_NET_GUEST, srcPort: remotePort, dstPort: guestPort,
      ident: this.nextIdent(),
    }, payload));
  }

  private onTcp(ip: Ipv4Packet): void {
    const seg = parseTcp(ip.src, ip.dst, ip.payload);
    if (typeof seg === 'string') return this.counters.count(seg);
    if (ip.src !== USER_NET_GUEST) return this.counters.count('ipv4-foreign-source');
    if (seg.srcPort === 0 || seg.dstPort === 0) return this.counters.count('tcp-port-zero');
    const key = `${seg.srcPort}|${ip.dst}|${seg.dstPort}`;
    let conn = this.tcp.get(key);
    const isSyn = (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (conn && conn.state === 'time-wait' && isSyn) {
      conn.destroy();
      this.tcp.delete(key);
      conn = undefined;
    }
    if (conn) return conn.onSegment(seg);
    if ((seg.flags & TCP_RST) !== 0) return; // never answer a reset (RFC 9293 §3.10.7.1)
    if (!isSyn) {
      this.counters.count('tcp-unknown-segment');
      return this.resetFor(ip, seg);
    }
    let host: string;
    let port = seg.dstPort;
    if (ip.dst === USER_NET_GATEWAY) host = this.hostLoopback;
    else if (ip.dst === USER_NET_DNS && seg.dstPort === DNS_PORT && this.dnsUpstream) {
      // DNS over TCP (RFC 7766), used when an answer does not fit UDP, goes upstream too.
      host = this.dnsUpstream.address;
      port = this.dnsUpstream.port;
    } else {
      const target = ip.dst === USER_NET_DNS ? { reason: 'tcp-dns-address-other-port' } : this.externalTarget(ip.dst);
      if (typeof target !== 'string') {
        this.counters.count(target.reason);
        return this.resetFor(ip, seg);
      }
      host = target;
    }
    if (this.tcp.size >= this.maxTcp) {
      this.counters.count('tcp-too-many-connections');
      return this.resetFor(ip, seg);
    }
    conn = TcpConnection.fromGuestSyn(key, seg, ip.dst, this, this.tuning, randomInt(0, 0x1_0000_0000),
      () => net.connect({ host, port, allowHalfOpen: true, noDelay: true }));
    this.tcp.set(key, conn);
  }

  /** RST for a segment no connection owns (RFC 9293 §3.10.7.1, "If the state is CLOSED"). */
  private resetFor(ip: Ipv4Packet, seg: TcpSegment): void {
    const dstMac = this.guestMacOrArp();
    if (!dstMac) return;
    const hasAck = (seg.flags & TCP_ACK) !== 0;
    const segLen = seg.payload.length + ((seg.flags & TCP_SYN) !== 0 ? 1 : 0) + ((seg.flags & TCP_FIN) !== 0 ? 1 : 0);
    this.toGuest(buildTcpFrame({
      dstMac, srcMac: USER_NET_GATEWAY_MAC, src: ip.dst, dst: ip.src, srcPort: seg.dstPort, dstPort: seg.srcPort,
      ident: this.nextIdent(), seq: hasAck ? seg.ack : 0, ack: (seg.seq + segLen) >>> 0,
      flags: hasAck ? TCP_RST : TCP_RST | TCP_ACK, window: 0,
    }, null));
  }

  /** Addresses the NAT answers itself (TTL is not spent reaching them). */
  private isLocal(dst: number): boolean {
    return dst === USER_NET_GATEWAY || dst === USER_NET_DNS || dst === 0xffff_ffff || dst === (USER_NET_NETWORK | ~USER_NET_NETMASK) >>> 0;
  }

  /** Where a guest packet to `dst` goes on the host, or why it goes nowhere. */
  private externalTarget(dst: number): string | { reason: string } {
    if ((dst & USER_NET_NETMASK) === USER_NET_NETWORK) return { reason: 'ipv4-no-such-host' };
    if (dst === 0xffff_ffff || dst >>> 28 === 0xe || dst >>> 24 === 0 || dst >>> 24 === 127) return { reason: 'ipv4-not-routable' };
    if (!this.allowExternal) return { reason: 'ipv4-external-disabled' };
    return formatIpv4Address(dst);
  }

  // --- inbound port forwards -------------------------------------------------------------

  /** Listens for a TCP forward; resolves to the bound port. */
  private listen(fwd: PortForward): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.acceptInbound(socket, fwd));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new TsvirtError(`--network portForward: cannot listen on ${fwd.hostAddress}:${fwd.hostPort}: ${err.code ?? err.message}`,
          err.code === 'EADDRINUSE' ? 'the port is in use; choose another host port' : 'check the address and port'));
      });
      server.listen(fwd.hostPort, fwd.hostAddress, () => {
        const addr = server.address();
        server.on('error', (err: NodeJS.ErrnoException) => this.counters.count('forward-listener-error', err.code ?? err.message));
        resolve(typeof addr === 'object' && addr ? addr.port : fwd.hostPort);
      });
    });
  }

  private acceptInbound(socket: net.Socket, fwd: PortForward): void {
    if (this.closed || this.tcp.size >= this.maxTcp) {
      this.counters.count('forward-refused');
      socket.destroy();
      return;
    }
    // The guest sees the connection come from the gateway, from a port no flow uses.
    let remotePort = 0;
    for (let tries = 0; tries < 16_384; tries++) {
      const p = 49_152 + (this.nextInboundPort++ % 16_384);
      if (!this.tcp.has(`${fwd.guestPort}|${USER_NET_GATEWAY}|${p}`)) {
        remotePort = p;
        break;
      }
    }
    if (remotePort === 0) {
      socket.destroy();
      return;
    }
    const key = `${fwd.guestPort}|${USER_NET_GATEWAY}|${remotePort}`;
    this.counters.count('forward-accepted');
    this.tcp.set(key, TcpConnection.toGuest(key, socket, fwd.guestPort, USER_NET_GATEWAY, remotePort, this, this.tuning,
      randomInt(0, 0x1_0000_0000)));
  }

  // --- frames to the guest -----------------------------------------------------------------

  /** The guest's MAC; until one is known, ask for it (the caller's frame is dropped). */
  private guestMacOrArp(): Uint8Array | null {
    if (this.guestMac) return this.guestMac;
    this.counters.count('guest-mac-unknown');
    this.toGuest(buildArpFrame(ARP_OP_REQUEST, USER_NET_GATEWAY_MAC, USER_NET_GATEWAY, new Uint8Array(6), USER_NET_GUEST, BROADCAST_MAC));
    return null;
  }

  private toGuest(frame: Uint8Array): void {
    if (this.closed || !this.deliver) return;
    this.deliver(frame);
  }

  private nextIdent(): number {
    this.ident = (this.ident + 1) & 0xffff;
    return this.ident;
  }
}
