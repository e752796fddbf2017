// The guest side of a NetBackend for tests: a small IPv4 host speaking ARP, ICMP echo, UDP,
// a DHCP client (RFC 2131 DISCOVER/REQUEST) and a minimal TCP (client and server) over
// whole Ethernet frames. Its TCP keeps to what the tests need from a peer: in-order
// receive only (out-of-order segments are dropped, as a lossy link would), a configurable
// advertised window and reading pace, cumulative ACKs, go-back-N retransmission on a
// timer, FIN and RST. It checks what it receives (checksums, window) and records
// violations instead of trusting the NAT.

import { ARP_OP_REPLY, ARP_OP_REQUEST, buildArpFrame, parseArp } from '../../../../src/vm/net/arp.js';
import type { NetBackend } from '../../../../src/vm/net/backend.js';
import {
  BOOTREQUEST, DHCP_CLIENT_PORT, DHCP_FIXED_BYTES, DHCP_MAGIC_COOKIE, DHCP_OPT_DNS, DHCP_OPT_END, DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MESSAGE_TYPE, DHCP_OPT_REQUESTED_IP, DHCP_OPT_ROUTER, DHCP_OPT_SERVER_ID, DHCP_OPT_SUBNET_MASK, DHCP_SERVER_PORT,
  DHCPACK, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, parseDhcp, type DhcpMessage,
} from '../../../../src/vm/net/dhcp-server.js';
import { BROADCAST_MAC, ETH_HEADER_BYTES, ETHERTYPE_ARP, ETHERTYPE_IPV4, macEquals, readEtherType } from '../../../../src/vm/net/ethernet.js';
import { buildIcmpFrame, checkIcmp, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from '../../../../src/vm/net/icmp.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, parseIpv4, readU16, readU32, writeU32 } from '../../../../src/vm/net/ipv4.js';
import {
  buildTcpFrame, parseTcp, seqAdd, seqDiff, seqGt, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment,
} from '../../../../src/vm/net/tcp-segment.js';
import { buildUdpFrame, parseUdp } from '../../../../src/vm/net/udp.js';

export const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

export interface UdpMessage {
  srcAddr: number;
  srcPort: number;
  payload: Uint8Array;
}

export interface DhcpLease {
  addr: number;
  serverId: number;
  router: number;
  dns: number;
  netmask: number;
  leaseSeconds: number;
  offerMac: Uint8Array;
}

export class TestGuest {
  addr = 0;
  gatewayMac: Uint8Array | null = null;
  /** Frames received (any kind): tests use it to tell progress from a stall. */
  framesIn = 0;
  readonly violations: string[] = [];
  /** Drops an incoming frame before the guest sees it (a lossy link). */
  dropInbound: ((frame: Uint8Array) => boolean) | null = null;
  private readonly inbox: Uint8Array[] = [];
  private draining = false;
  private ident = 1;
  private readonly udpWaiters = new Map<number, Array<(m: UdpMessage) => void>>();
  private readonly udpQueues = new Map<number, UdpMessage[]>();
  private readonly pingWaiters = new Map<number, () => void>();
  private readonly tcpSockets = new Map<string, GuestTcpSocket>();
  private readonly listeners = new Map<number, (s: GuestTcpSocket) => void>();
  private readonly unknownTcp: TcpSegment[] = [];
  private nextPort = 40_000;

  constructor(private readonly backend: NetBackend, readonly mac: Uint8Array = GUEST_MAC) {
    backend.onReceive((frame) => {
      // Copy and process later, as a NIC's receive queue would: never re-enter the backend.
      this.inbox.push(frame.slice());
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => this.drain());
      }
    });
  }

  sendFrame(frame: Uint8Array): void {
    this.backend.send(frame);
  }

  /** Segments for no known socket (RSTs for the NAT's own probes, etc.). */
  get strayTcp(): readonly TcpSegment[] {
    return this.unknownTcp;
  }

  // --- ARP / DHCP / ICMP / UDP -------------------------------------------------------------

  async arp(target: number, timeoutMs = 2000): Promise<Uint8Array> {
    this.sendFrame(buildArpFrame(ARP_OP_REQUEST, this.mac, this.addr, new Uint8Array(6), target, BROADCAST_MAC));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no ARP reply')), timeoutMs);
      this.arpWaiter = (ip, mac) => {
        if (ip !== target) return;
        clearTimeout(t);
        this.arpWaiter = null;
        resolve(mac);
      };
    });
  }
  private arpWaiter: ((ip: number, mac: Uint8Array) => void) | null = null;

  async dhcp(): Promise<DhcpLease> {
    const xid = 0x1234abcd;
    const sock = 68;
    this.sendUdpRaw(0, 0xffff_ffff, BROADCAST_MAC, sock, DHCP_SERVER_PORT, dhcpRequestPayload(this.mac, xid, DHCPDISCOVER, null, null));
    const offer = await this.waitDhcp(DHCPOFFER);
    const offeredAddr = readU32(offer.raw, 16);
    const serverId = readU32(offer.msg.options.get(DHCP_OPT_SERVER_ID)!, 0);
    this.sendUdpRaw(0, 0xffff_ffff, BROADCAST_MAC, sock, DHCP_SERVER_PORT, dhcpRequestPayload(this.mac, xid, DHCPREQUEST, offeredAddr, serverId));
    const ack = await this.waitDhcp(DHCPACK);
    const o = ack.msg.options;
    this.addr = readU32(ack.raw, 16);
    return {
      addr: this.addr, serverId, router: readU32(o.get(DHCP_OPT_ROUTER)!, 0), dns: readU32(o.get(DHCP_OPT_DNS)!, 0),
      netmask: readU32(o.get(DHCP_OPT_SUBNET_MASK)!, 0), leaseSeconds: readU32(o.get(DHCP_OPT_LEASE_TIME)!, 0), offerMac: ack.srcMac,
    };
  }

  private async waitDhcp(type: number): Promise<{ msg: DhcpMessage; raw: Uint8Array; srcMac: Uint8Array }> {
    for (;;) {
      const m = await this.recvUdp(DHCP_CLIENT_PORT);
      const msg = parseDhcp(m.payload);
      if (typeof msg === 'string') throw new Error(`bad DHCP reply: ${msg}`);
      if (msg.options.get(DHCP_OPT_MESSAGE_TYPE)?.[0] === type) return { msg, raw: m.payload, srcMac: this.lastUdpSrcMac! };
    }
  }
  private lastUdpSrcMac: Uint8Array | null = null;

  async ping(dst: number, seq: number, data: Uint8Array, timeoutMs = 2000): Promise<void> {
    const rest = new Uint8Array(4 + data.length);
    rest[0] = 0x12;
    rest[1] = 0x34;
    rest[2] = seq >> 8;
    rest[3] = seq & 0xff;
    rest.set(data, 4);
    this.sendFrame(buildIcmpFrame({ dstMac: this.gw(), srcMac: this.mac, src: this.addr, dst, ident: this.ident++ }, ICMP_ECHO_REQUEST, 0, rest));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no echo reply')), timeoutMs);
      this.pingWaiters.set(seq, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  /** Echo-reply payloads, for checking the data came back unchanged. */
  readonly echoData = new Map<number, Uint8Array>();

  sendUdp(srcPort: number, dst: number, dstPort: number, payload: Uint8Array): void {
    this.sendUdpRaw(this.addr, dst, this.gw(), srcPort, dstPort, payload);
  }

  private sendUdpRaw(src: number, dst: number, dstMac: Uint8Array, srcPort: number, dstPort: number, payload: Uint8Array): void {
    this.sendFrame(buildUdpFrame({ dstMac, srcMac: this.mac, src, dst, srcPort, dstPort, ident: this.ident++ }, payload));
  }

  recvUdp(port: number, timeoutMs = 3000): Promise<UdpMessage> {
    const q = this.udpQueues.get(port);
    if (q && q.length > 0) return Promise.resolve(q.shift()!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no UDP datagram on port ${port}`)), timeoutMs);
      const list = this.udpWaiters.get(port) ?? [];
      list.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.udpWaiters.set(port, list);
    });
  }

  // --- TCP ---------------------------------------------------------------------------------

  connect(dst: number, dstPort: number, opts: GuestTcpOptions = {}): GuestTcpSocket {
    const s = new GuestTcpSocket(this, this.nextPort++, dst, dstPort, opts);
    this.tcpSockets.set(s.key, s);
    s.startConnect();
    return s;
  }

  listen(port: number, onAccept: (s: GuestTcpSocket) => void, opts: GuestTcpOptions = {}): void {
    this.listeners.set(port, onAccept);
    this.listenOpts.set(port, opts);
  }
  private readonly listenOpts = new Map<number, GuestTcpOptions>();

  sendTcp(s: { localPort: number; remoteAddr: number; remotePort: number }, flags: number, seq: number, ack: number,
    window: number, payload: Uint8Array | null, mss?: number, wscale?: number): void {
    this.sendFrame(buildTcpFrame({
      dstMac: this.gw(), srcMac: this.mac, src: this.addr, dst: s.remoteAddr, srcPort: s.localPort, dstPort: s.remotePort,
      ident: this.ident++, seq, ack, flags, window, ...(mss === undefined ? {} : { mss }), ...(wscale === undefined ? {} : { wscale }),
    }, payload));
  }

  forget(s: GuestTcpSocket): void {
    if (this.tcpSockets.get(s.key) === s) this.tcpSockets.delete(s.key);
  }

  private gw(): Uint8Array {
    if (!this.gatewayMac) throw new Error('gateway MAC unknown: run arp() or dhcp() first');
    return this.gatewayMac;
  }

  // --- receive -----------------------------------------------------------------------------

  private drain(): void {
    this.draining = false;
    const frames = this.inbox.splice(0);
    for (const f of frames) {
      this.framesIn++;
      if (this.dropInbound?.(f)) continue;
      this.onFrame(f);
    }
  }

  private onFrame(f: Uint8Array): void {
    if (f.length < ETH_HEADER_BYTES) return void this.violations.push('short frame');
    if (!macEquals(f, 0, this.mac) && !macEquals(f, 0, BROADCAST_MAC)) return void this.violations.push('frame not for us');
    const type = readEtherType(f);
    if (type === ETHERTYPE_ARP) {
      const arp = parseArp(f, ETH_HEADER_BYTES);
      if (typeof arp === 'string') return void this.violations.push(arp);
      if (arp.op === ARP_OP_REPLY) this.arpWaiter?.(arp.senderIp, arp.senderMac);
      if (arp.op === ARP_OP_REQUEST && arp.targetIp === this.addr && this.addr !== 0) {
        this.sendFrame(buildArpFrame(ARP_OP_REPLY, this.mac, this.addr, arp.senderMac, arp.senderIp, arp.senderMac));
      }
      return;
    }
    if (type !== ETHERTYPE_IPV4) return void this.violations.push(`ethertype ${type}`);
    const ip = parseIpv4(f, ETH_HEADER_BYTES);
    if (typeof ip === 'string') return void this.violations.push(ip);
    if (ip.protocol === IPPROTO_ICMP) {
      const bad = checkIcmp(ip.payload);
      if (bad) return void this.violations.push(bad);
      if (ip.payload[0] === ICMP_ECHO_REPLY) {
        const seq = readU16(ip.payload, 6);
        this.echoData.set(seq, ip.payload.slice(8));
        this.pingWaiters.get(seq)?.();
      }
      return;
    }
    if (ip.protocol === IPPROTO_UDP) {
      const udp = parseUdp(ip.src, ip.dst, ip.payload);
      if (typeof udp === 'string') return void this.violations.push(udp);
      this.lastUdpSrcMac = f.slice(6, 12);
      const m: UdpMessage = { srcAddr: ip.src, srcPort: udp.srcPort, payload: udp.payload.slice() };
      const w = this.udpWaiters.get(udp.dstPort);
      if (w && w.length > 0) w.shift()!(m);
      else {
        const q = this.udpQueues.get(udp.dstPort) ?? [];
        q.push(m);
        this.udpQueues.set(udp.dstPort, q);
      }
      return;
    }
    if (ip.protocol === IPPROTO_TCP) {
      if (ip.dst !== this.addr) return void this.violations.push('tcp to another address');
      const seg = parseTcp(ip.src, ip.dst, ip.payload);
      if (typeof seg === 'string') return void this.violations.push(seg);
      const key = `${seg.dstPort}|${ip.src}|${seg.srcPort}`;
      const s = this.tcpSockets.get(key);
      if (s) return s.onSegment(seg);
      const accept = this.listeners.get(seg.dstPort);
      if (accept && (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
        const ns = new GuestTcpSocket(this, seg.dstPort, ip.src, seg.srcPort, this.listenOpts.get(seg.dstPort) ?? {});
        this.tcpSockets.set(ns.key, ns);
        ns.acceptSyn(seg);
        accept(ns);
        return;
      }
      this.unknownTcp.push(seg);
      if ((seg.flags & TCP_RST) === 0) {
        // A closed port: RST as a real stack would.
        const len = seg.payload.length + ((seg.flags & TCP_SYN) ? 1 : 0) + ((seg.flags & TCP_FIN) ? 1 : 0);
        const hasAck = (seg.flags & TCP_ACK) !== 0;
        this.sendTcp({ localPort: seg.dstPort, remoteAddr: ip.src, remotePort: seg.srcPort }, hasAck ? TCP_RST : TCP_RST | TCP_ACK,
          hasAck ? seg.ack : 0, seqAdd(seg.seq, len), 0, null);
      }
    }
  }
}

export interface GuestTcpOptions {
  /** Largest window the guest advertises (default 65535). */
  windowBytes?: number;
  /** MSS option the guest sends (default 1460). */
  mss?: number;
  /** Retransmission timer for the guest's own data (real time; default 200 ms). */
  rtoMs?: number;
  /** Window-scale shift to offer (RFC 7323); none by default. */
  wscale?: number;
}

/** One end of a guest TCP connection. */
export class GuestTcpSocket {
  state: 'syn-sent' | 'syn-received' | 'established' | 'closed' = 'closed';
  readonly key: string;
  reset = false;
  finReceived = false;
  /** Bytes received and read by the application. */
  readonly chunks: Buffer[] = [];
  receivedBytes = 0;
  peerMss = 536;
  /** The smallest and largest window (bytes) the peer advertised once established. */
  minPeerWindow = Infinity;
  maxPeerWindow = 0;
  /** While set, no ACKs go out (a receiver sitting on its ACKs): the sender's in-flight limit shows. */
  holdAcks = false;
  private readonly windowBytes: number;
  private readonly mss: number;
  private readonly rtoMs: number;
  private readonly offerWscale: number | undefined;
  /** Shifts in effect once both SYNs carried the option. */
  private myShift = 0;
  private peerShift = 0;
  private scaling = false;
  private iss = Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
  private sndUna = 0;
  private sndNxt = 0;
  private rcvNxt = 0;
  private peerWnd = 0;
  private out = Buffer.alloc(0);
  private finQueued = false;
  private finSeq: number | null = null;
  private unread = 0;
  private readPaused = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly guest: TestGuest, readonly localPort: number, readonly remoteAddr: number,
    readonly remotePort: number, opts: GuestTcpOptions) {
    this.key = `${localPort}|${remoteAddr}|${remotePort}`;
    this.windowBytes = opts.windowBytes ?? 65_535;
    this.mss = opts.mss ?? 1460;
    this.rtoMs = opts.rtoMs ?? 200;
    this.offerWscale = opts.wscale;
  }

  private negotiate(seg: TcpSegment): void {
    if (this.offerWscale !== undefined && seg.wscale !== null) {
      this.scaling = true;
      this.myShift = this.offerWscale;
      this.peerShift = seg.wscale;
    }
  }

  startConnect(): void {
    this.state = 'syn-sent';
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sendSyn();
  }

  acceptSyn(seg: TcpSegment): void {
    this.state = 'syn-received';
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.peerWnd = seg.window;
    this.peerMss = seg.mss ?? 536;
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.negotiate(seg);
    this.sendSyn();
  }

  private sendSyn(): void {
    const flags = this.state === 'syn-sent' ? TCP_SYN : TCP_SYN | TCP_ACK;
    // RFC 7323 §2.2: a SYN may offer; a SYN-ACK offers only when the SYN did.
    const offer = this.state === 'syn-sent' || this.scaling ? this.offerWscale : undefined;
    this.guest.sendTcp(this, flags, this.iss, this.rcvNxt, Math.min(65535, this.window()), null, this.mss, offer);
    this.arm();
  }

  /** Resolves once `pred` holds (checked after every segment). */
  until(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(t);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  connected(): Promise<void> {
    return this.until(() => this.state === 'established' || this.reset, 'connection').then(() => {
      if (this.reset) throw new Error('connection reset');
    });
  }

  write(data: Uint8Array): void {
    this.out = Buffer.concat([this.out, data]);
    this.pump();
  }

  end(): void {
    this.finQueued = true;
    this.pump();
  }

  abort(): void {
    this.guest.sendTcp(this, TCP_RST | TCP_ACK, this.sndNxt, this.rcvNxt, 0, null);
    this.close();
  }

  /** Stops reading: the advertised window shrinks as unread data piles up. */
  pauseReading(): void {
    this.readPaused = true;
  }

  resumeReading(): void {
    this.readPaused = false;
    this.unread = 0;
    this.sendAck(); // window update
  }

  body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  onSegment(seg: TcpSegment): void {
    if ((seg.flags & TCP_RST) !== 0) {
      this.reset = true;
      this.close();
      return this.notify();
    }
    if (this.state === 'syn-sent') {
      if ((seg.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK) || seg.ack !== this.sndNxt) {
        this.guest.violations.push('bad SYN-ACK');
        return;
      }
      this.rcvNxt = seqAdd(seg.seq, 1);
      this.sndUna = seg.ack;
      this.peerWnd = seg.window;
      this.peerMss = seg.mss ?? 536;
      this.negotiate(seg);
      this.state = 'established';
      this.disarm();
      this.sendAck();
      this.pump();
      return this.notify();
    }
    if (this.state === 'syn-received') {
      if ((seg.flags & TCP_SYN) !== 0) return this.sendSyn();
      if ((seg.flags & TCP_ACK) === 0 || seg.ack !== this.sndNxt) return;
      this.state = 'established';
      this.disarm();
    }
    if (this.state !== 'established') return;
    if ((seg.flags & TCP_ACK) !== 0) {
      if (seqGt(seg.ack, this.sndNxt)) this.guest.violations.push('ack of unsent data');
      else if (seqGt(seg.ack, this.sndUna)) {
        let n = seqDiff(seg.ack, this.sndUna);
        if (this.finSeq !== null && seqGt(seg.ack, this.finSeq)) n -= 1;
        this.out = this.out.subarray(Math.min(n, this.out.length));
        this.sndUna = seg.ack;
        this.disarm();
      }
      this.peerWnd = seg.window * 2 ** this.peerShift;
      this.minPeerWindow = Math.min(this.minPeerWindow, this.peerWnd);
      this.maxPeerWindow = Math.max(this.maxPeerWindow, this.peerWnd);
    }
    const data = seg.payload;
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (data.length > 0 || fin) {
      if (seg.seq !== this.rcvNxt) {
        this.sendAck(); // out of order or old: drop, ask again
      } else {
        const win = this.window();
        if (data.length > win) {
          // A one-byte zero-window probe is allowed (RFC 9293 §3.8.6.1): drop it, answer.
          if (!(win === 0 && data.length === 1)) this.guest.violations.push(`segment of ${data.length} beyond window ${win}`);
          this.sendAck();
          this.notify();
          return;
        }
        if (data.length > this.mss) this.guest.violations.push(`segment of ${data.length} beyond MSS ${this.mss}`);
        if (data.length > 0) {
          this.chunks.push(Buffer.from(data));
          this.receivedBytes += data.length;
          this.rcvNxt = seqAdd(this.rcvNxt, data.length);
          if (this.readPaused) this.unread += data.length;
        }
        if (fin) {
          this.finReceived = true;
          this.rcvNxt = seqAdd(this.rcvNxt, 1);
        }
        this.sendAck();
      }
    }
    this.pump();
    this.maybeDone();
    this.notify();
  }

  private pump(): void {
    if (this.state !== 'established') return;
    for (;;) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.out.length - inFlight;
      if (unsent <= 0) break;
      const room = this.peerWnd - inFlight;
      if (room <= 0) break;
      const n = Math.min(unsent, room, this.peerMss);
      this.guest.sendTcp(this, TCP_ACK | TCP_PSH, this.sndNxt, this.rcvNxt, this.windowField(), this.out.subarray(inFlight, inFlight + n));
      this.sndNxt = seqAdd(this.sndNxt, n);
    }
    if (this.finQueued && this.finSeq === null && seqDiff(this.sndNxt, this.sndUna) === this.out.length) {
      this.finSeq = this.sndNxt;
      this.guest.sendTcp(this, TCP_FIN | TCP_ACK, this.sndNxt, this.rcvNxt, this.windowField(), null);
      this.sndNxt = seqAdd(this.sndNxt, 1);
    }
    if (seqDiff(this.sndNxt, this.sndUna) > 0 || this.out.length > 0) this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state === 'syn-sent' || this.state === 'syn-received') return this.sendSyn();
      if (this.state !== 'established') return;
      // Go-back-N; with a zero window, a one-byte probe.
      this.sndNxt = this.sndUna;
      if (this.finSeq !== null) this.finSeq = null;
      if (this.peerWnd === 0 && this.out.length > 0) {
        this.guest.sendTcp(this, TCP_ACK, this.sndNxt, this.rcvNxt, this.windowField(), this.out.subarray(0, 1));
        this.sndNxt = seqAdd(this.sndNxt, 1);
        this.arm();
      } else this.pump();
    }, this.rtoMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  releaseAcks(): void {
    this.holdAcks = false;
    this.sendAck();
  }

  private sendAck(): void {
    if (this.holdAcks) return;
    this.guest.sendTcp(this, TCP_ACK, this.sndNxt, this.rcvNxt, this.windowField(), null);
  }

  /** Bytes the guest can take now. */
  private window(): number {
    return Math.max(0, Math.min(65535 * 2 ** this.myShift, this.windowBytes - this.unread));
  }

  private windowField(): number {
    return Math.min(65535, Math.floor(this.window() / 2 ** this.myShift));
  }

  private maybeDone(): void {
    const ourFinAcked = this.finSeq !== null && seqDiff(this.sndUna, this.finSeq) > 0;
    if (this.finReceived && ourFinAcked) this.close();
  }

  private close(): void {
    this.state = 'closed';
    this.disarm();
    this.guest.forget(this);
  }

  private notify(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}

function dhcpRequestPayload(mac: Uint8Array, xid: number, type: number, requested: number | null, serverId: number | null): Uint8Array {
  const out = new Uint8Array(300);
  out[0] = BOOTREQUEST;
  out[1] = 1;
  out[2] = 6;
  writeU32(out, 4, xid);
  out.set(mac, 28);
  writeU32(out, DHCP_FIXED_BYTES, DHCP_MAGIC_COOKIE);
  let i = DHCP_FIXED_BYTES + 4;
  out[i++] = DHCP_OPT_MESSAGE_TYPE;
  out[i++] = 1;
  out[i++] = type;
  if (requested !== null) {
    out[i++] = DHCP_OPT_REQUESTED_IP;
    out[i++] = 4;
    writeU32(out, i, requested);
    i += 4;
  }
  if (serverId !== null) {
    out[i++] = DHCP_OPT_SERVER_ID;
    out[i++] = 4;
    writeU32(out, i, serverId);
    i += 4;
  }
  out[i] = DHCP_OPT_END;
  return out;
}
