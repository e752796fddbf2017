// The user-mode NAT's UDP: each guest flow (guest port, destination address and port) gets
// its own host UDP socket, so replies find their way back; a flow closes after a quiet
// spell (`idleMs`) and the oldest is evicted when `maxFlows` are open. Replies are accepted
// only from the address and port the flow sends to (a port-restricted cone NAT, RFC 4787 §4.1).
// Left out: replies larger than one unfragmented frame (dropped and counted).

import dgram from 'node:dgram';
import type { NetCounters } from './net-counters.js';
import type { NetTimer, NetTimers } from './net-timers.js';

export interface UdpTarget {
  readonly host: string;
  readonly port: number;
}

export interface UdpFlowsOptions {
  timers: NetTimers;
  counters: NetCounters;
  idleMs: number;
  maxFlows: number;
  /** Largest reply payload that fits one frame to the guest. */
  maxReplyBytes: number;
  /** A reply for the guest, as if from remoteAddr:remotePort. */
  deliver(guestPort: number, remoteAddr: number, remotePort: number, payload: Uint8Array): void;
}

interface Flow {
  readonly key: string;
  readonly socket: dgram.Socket;
  readonly target: UdpTarget;
  lastActiveMs: number;
  timer: NetTimer | null;
}

export class UdpFlows {
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly opts: UdpFlowsOptions) {}

  get size(): number {
    return this.flows.size;
  }

  send(guestPort: number, remoteAddr: number, remotePort: number, target: UdpTarget, payload: Uint8Array): void {
    const key = `${guestPort}|${remoteAddr}|${remotePort}`;
    let flow = this.flows.get(key);
    if (!flow) flow = this.open(key, guestPort, remoteAddr, remotePort, target);
    flow.lastActiveMs = this.opts.timers.nowMs();
    // Copy: the frame belongs to the device.
    flow.socket.send(Buffer.from(payload), target.port, target.host);
  }

  close(): void {
    for (const flow of [...this.flows.values()]) this.drop(flow);
  }

  private open(key: string, guestPort: number, remoteAddr: number, remotePort: number, target: UdpTarget): Flow {
    if (this.flows.size >= this.opts.maxFlows) {
      let oldest: Flow | undefined;
      for (const f of this.flows.values()) if (!oldest || f.lastActiveMs < oldest.lastActiveMs) oldest = f;
      if (oldest) {
        this.opts.counters.count('udp-flow-evicted', oldest.key);
        this.drop(oldest);
      }
    }
    const socket = dgram.createSocket('udp4');
    const flow: Flow = { key, socket, target, lastActiveMs: this.opts.timers.nowMs(), timer: null };
    socket.on('message', (msg, rinfo) => {
      if (this.flows.get(key) !== flow) return;
      if (rinfo.port !== target.port || rinfo.address !== target.host) {
        this.opts.counters.count('udp-reply-from-elsewhere', `${rinfo.address}:${rinfo.port}`);
        return;
      }
      if (msg.length > this.opts.maxReplyBytes) {
        this.opts.counters.count('udp-reply-too-large', `${msg.length} bytes`);
        return;
      }
      flow.lastActiveMs = this.opts.timers.nowMs();
      this.opts.deliver(guestPort, remoteAddr, remotePort, msg);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.opts.counters.count('udp-host-error', `${key} ${err.code ?? err.message}`);
      this.drop(flow);
    });
    this.flows.set(key, flow);
    this.armIdle(flow, this.opts.idleMs);
    return flow;
  }

  private armIdle(flow: Flow, delayMs: number): void {
    flow.timer = this.opts.timers.schedule(delayMs, () => {
      flow.timer = null;
      const idle = this.opts.timers.nowMs() - flow.lastActiveMs;
      if (idle >= this.opts.idleMs) {
        this.opts.counters.count('udp-flow-expired');
        this.drop(flow);
      } else {
        this.armIdle(flow, this.opts.idleMs - idle);
      }
    });
  }

  private drop(flow: Flow): void {
    flow.timer?.cancel();
    flow.timer = null;
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    try {
      flow.socket.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }
}
