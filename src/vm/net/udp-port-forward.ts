// Inbound UDP port forwards of the user-mode network: a host UDP socket listens on
// ADDRESS:HOSTPORT; each host peer (address, port) that sends to it gets a port on the
// gateway (10.0.2.2) from which its datagrams reach the guest's GUESTPORT, and the guest's
// replies to that gateway port go back to the peer from the listening socket — QEMU's
// `hostfwd=udp:` behaviour. Peers are forgotten after `idleMs` without traffic; at most
// `maxPeers` are kept (the quietest is evicted).

import dgram from 'node:dgram';
import { TsvirtError } from '../../lib/errors.js';
import type { NetCounters } from './net-counters.js';
import type { NetTimer, NetTimers } from './net-timers.js';
import type { PortForward } from './port-forward.js';

export interface UdpPortForwardsOptions {
  timers: NetTimers;
  counters: NetCounters;
  idleMs: number;
  maxPeers: number;
  maxDatagramBytes: number;
  /** A datagram for the guest from gatewayPort on the gateway. */
  deliver(gatewayPort: number, guestPort: number, payload: Uint8Array): void;
}

interface Peer {
  readonly gatewayPort: number;
  readonly key: string;
  readonly socket: dgram.Socket;
  readonly address: string;
  readonly port: number;
  readonly guestPort: number;
  lastActiveMs: number;
  timer: NetTimer | null;
}

/** Gateway ports handed to forwarded UDP peers: the dynamic range (RFC 6335 §6). */
const FIRST_GATEWAY_PORT = 49_152;
const GATEWAY_PORTS = 16_384;

export class UdpPortForwards {
  private readonly sockets: dgram.Socket[] = [];
  private readonly byGatewayPort = new Map<number, Peer>();
  private readonly byPeer = new Map<string, Peer>();
  private nextPort = 0;

  constructor(private readonly opts: UdpPortForwardsOptions) {}

  /** Binds the listening socket; resolves to the bound port. Throws TsvirtError. */
  listen(fwd: PortForward, index: number): Promise<number> {
    const socket = dgram.createSocket('udp4');
    this.sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) => {
        reject(new TsvirtError(`--network portForward: cannot listen on udp ${fwd.hostAddress}:${fwd.hostPort}: ${err.code ?? err.message}`,
          err.code === 'EADDRINUSE' ? 'the port is in use; choose another host port' : 'check the address and port'));
      });
      socket.bind(fwd.hostPort, fwd.hostAddress, () => {
        socket.on('error', (err: NodeJS.ErrnoException) => this.opts.counters.count('udp-forward-error', err.code ?? err.message));
        socket.on('message', (msg, rinfo) => this.fromHost(socket, index, fwd, msg, rinfo.address, rinfo.port));
        resolve(socket.address().port);
      });
    });
  }

  /** A guest datagram to the gateway's `gatewayPort`: true when it was a reply to a peer. */
  fromGuest(guestPort: number, gatewayPort: number, payload: Uint8Array): boolean {
    const peer = this.byGatewayPort.get(gatewayPort);
    if (!peer || peer.guestPort !== guestPort) return false;
    peer.lastActiveMs = this.opts.timers.nowMs();
    peer.socket.send(Buffer.from(payload), peer.port, peer.address);
    return true;
  }

  close(): void {
    for (const peer of [...this.byGatewayPort.values()]) this.forget(peer);
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // Never bound (the listen failed): nothing to release.
      }
    }
    this.sockets.length = 0;
  }

  private fromHost(socket: dgram.Socket, index: number, fwd: PortForward, msg: Buffer, address: string, port: number): void {
    if (msg.length > this.opts.maxDatagramBytes) {
      this.opts.counters.count('udp-forward-too-large', `${msg.length} bytes`);
      return;
    }
    const key = `${index}|${address}|${port}`;
    let peer = this.byPeer.get(key);
    if (!peer) {
      const gatewayPort = this.allocatePort();
      if (gatewayPort === null) {
        this.opts.counters.count('udp-forward-no-port');
        return;
      }
      if (this.byPeer.size >= this.opts.maxPeers) this.evictQuietest();
      peer = { gatewayPort, key, socket, address, port, guestPort: fwd.guestPort, lastActiveMs: 0, timer: null };
      this.byPeer.set(key, peer);
      this.byGatewayPort.set(gatewayPort, peer);
      this.armIdle(peer, this.opts.idleMs);
    }
    peer.lastActiveMs = this.opts.timers.nowMs();
    this.opts.deliver(peer.gatewayPort, peer.guestPort, msg);
  }

  private allocatePort(): number | null {
    for (let i = 0; i < GATEWAY_PORTS; i++) {
      const p = FIRST_GATEWAY_PORT + (this.nextPort++ % GATEWAY_PORTS);
      if (!this.byGatewayPort.has(p)) return p;
    }
    return null;
  }

  private evictQuietest(): void {
    let quietest: Peer | undefined;
    for (const p of this.byPeer.values()) if (!quietest || p.lastActiveMs < quietest.lastActiveMs) quietest = p;
    if (quietest) {
      this.opts.counters.count('udp-forward-peer-evicted');
      this.forget(quietest);
    }
  }

  private armIdle(peer: Peer, delayMs: number): void {
    peer.timer = this.opts.timers.schedule(delayMs, () => {
      peer.timer = null;
      const idle = this.opts.timers.nowMs() - peer.lastActiveMs;
      if (idle >= this.opts.idleMs) this.forget(peer);
      else this.armIdle(peer, this.opts.idleMs - idle);
    });
  }

  private forget(peer: Peer): void {
    peer.timer?.cancel();
    if (this.byPeer.get(peer.key) === peer) this.byPeer.delete(peer.key);
    if (this.byGatewayPort.get(peer.gatewayPort) === peer) this.byGatewayPort.delete(peer.gatewayPort);
  }
}
