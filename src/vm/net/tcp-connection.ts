// One guest TCP connection terminated in the VMM and re-originated as a host socket (the
// user-mode NAT's TCP, after RFC 9293). The guest side is a real TCP endpoint: three-way
// handshake in both directions (guest-initiated connections, and inbound port forwards
// where the NAT sends the SYN), sequence numbers, the guest's advertised window honoured,
// window scaling (RFC 7323) when the guest offers it, our window shrunk by what the host
// socket has not yet taken, retransmission on timeout
// (RFC 6298 RTO with Karn's rule and backoff) and after three duplicate ACKs (go-back-N from
// the oldest unacknowledged byte), zero-window probes, FIN in both directions with
// half-close, RST both ways. Host-side backpressure: the host socket is paused while the
// send queue holds more than `sendBufferBytes`.
// Left out: SACK, timestamps, urgent data, congestion control (the guest
// is one hop away), out-of-order reassembly (out-of-order segments are dropped and
// re-requested with a duplicate ACK).

import type { Socket } from 'node:net';
import { ByteQueue } from './byte-queue.js';
import type { NetCounters } from './net-counters.js';
import type { NetTimer, NetTimers } from './net-timers.js';
import { seqAdd, seqDiff, seqGt, seqLt, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment } from './tcp-segment.js';

export interface TcpTuning {
  /** MSS we advertise and the largest segment we send (MTU 1500 − 40). */
  mss: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** Retransmissions of the same data before the connection is reset. */
  maxRetries: number;
  /** SYN or SYN-ACK retransmissions before giving up. */
  maxSynRetries: number;
  /** Host bytes held for the guest before the host socket is paused. */
  sendBufferBytes: number;
  /** Guest bytes the host socket may hold unwritten; our window is what is left. */
  receiveWindowBytes: number;
  /** Our window-scale shift, offered in SYN and SYN-ACK (0 offers none). */
  windowScale: number;
  connectTimeoutMs: number;
  timeWaitMs: number;
}

export const DEFAULT_TCP_TUNING: TcpTuning = {
  mss: 1460,
  initialRtoMs: 1000, // RFC 6298 §2.1
  minRtoMs: 200,
  maxRtoMs: 60_000,
  maxRetries: 12,
  maxSynRetries: 6,
  sendBufferBytes: 256 * 1024,
  receiveWindowBytes: 256 * 1024,
  windowScale: 3,
  connectTimeoutMs: 30_000,
  timeWaitMs: 2_000,
};

/** What a connection needs from the NAT around it. */
export interface TcpSink {
  readonly counters: NetCounters;
  readonly timers: NetTimers;
  /** Sends a segment to the guest, from the connection's remote address and port. */
  emit(conn: TcpConnection, flags: number, seq: number, ack: number, window: number, payload: Uint8Array | null,
    options?: { mss: number; wscale?: number }): void;
  /** The connection is over; the NAT forgets it. */
  released(conn: TcpConnection): void;
}

export type TcpState = 'host-connecting' | 'syn-received' | 'syn-sent' | 'established' | 'time-wait' | 'closed';

/** RFC 9293 §3.7.1: the MSS assumed when the peer sends none. */
const DEFAULT_PEER_MSS = 536;
const MIN_PEER_MSS = 64;
/** The window field is 16 bits; scaling shifts it (RFC 7323 §2.2). */
const MAX_WINDOW_FIELD = 65_535;

export class TcpConnection {
  state: TcpState;
  private socket: Socket | null = null;
  private readonly iss: number;
  private irs = 0;
  private rcvNxt = 0;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private peerMss = DEFAULT_PEER_MSS;
  private readonly sendQueue = new ByteQueue();
  private hostEof = false;
  private finSeq: number | null = null;
  private finAcked = false;
  private guestFin = false;
  private timer: NetTimer | null = null;
  private rtoMs: number;
  private srttMs = 0;
  private rttvarMs = 0;
  private rttSample: { seq: number; sentMs: number } | null = null;
  private retries = 0;
  private dupAcks = 0;
  private fastRetransmitAt: number;
  private hostPaused = false;
  private lastWindow = 0;
  /** Shift applied to the guest's window fields, and to ours (RFC 7323 §2.2); 0 = off. */
  private sndShift = 0;
  private rcvShift = 0;

  private constructor(
    readonly key: string,
    readonly guestPort: number,
    readonly remoteAddr: number,
    readonly remotePort: number,
    private readonly sink: TcpSink,
    private readonly tuning: TcpTuning,
    state: TcpState,
    iss: number,
  ) {
    this.state = state;
    this.iss = iss >>> 0;
    // The SYN takes iss; data starts after it.
    this.sndUna = this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
    this.fastRetransmitAt = (this.iss - 1) >>> 0;
    this.rtoMs = tuning.initialRtoMs;
  }

  /** A guest SYN: connect the host socket first, answer SYN-ACK once it is up (or RST). */
  static fromGuestSyn(key: string, seg: TcpSegment, remoteAddr: number, sink: TcpSink, tuning: TcpTuning,
    iss: number, connect: () => Socket): TcpConnection {
    const c = new TcpConnection(key, seg.srcPort, remoteAddr, seg.dstPort, sink, tuning, 'host-connecting', iss);
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.sndWnd = seg.window; // never scaled in a SYN
    c.peerMss = clampMss(seg.mss, tuning.mss);
    if (seg.wscale !== null && tuning.windowScale > 0) {
      // The guest offered scaling; our SYN-ACK's offer completes it (RFC 7323 §2.2).
      c.sndShift = seg.wscale;
      c.rcvShift = tuning.windowScale;
    }
    const socket = connect();
    c.socket = socket;
    c.timer = sink.timers.schedule(tuning.connectTimeoutMs, () => {
      c.timer = null;
      sink.counters.count('tcp-host-connect-timeout', key);
      c.refuse();
    });
    socket.once('connect', () => {
      if (c.state !== 'host-connecting') return;
      c.cancelTimer();
      c.state = 'syn-received';
      c.wireSocket(socket);
      c.sendSyn();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => c.onHostError(err));
    return c;
  }

  /** An inbound (port-forwarded) host connection: the NAT opens it towards the guest. */
  static toGuest(key: string, socket: Socket, guestPort: number, remoteAddr: number, remotePort: number,
    sink: TcpSink, tuning: TcpTuning, iss: number): TcpConnection {
    const c = new TcpConnection(key, guestPort, remoteAddr, remotePort, sink, tuning, 'syn-sent', iss);
    c.socket = socket;
    socket.pause();
    c.wireSocket(socket);
    socket.on('error', (err: NodeJS.ErrnoException) => c.onHostError(err));
    c.sendSyn();
    return c;
  }

  /** A segment from the guest for this connection (already checked by the NAT). */
  onSegment(seg: TcpSegment): void {
    if (this.state === 'closed') return;
    if ((seg.flags & TCP_RST) !== 0) return this.onGuestRst(seg);
    switch (this.state) {
      case 'host-connecting':
        return; // the guest's SYN retransmissions wait for the host connect
      case 'syn-sent':
        return this.onSegmentSynSent(seg);
      case 'syn-received':
        if ((seg.flags & TCP_SYN) !== 0) {
          if (seg.seq === this.irs) this.sendSyn(); // our SYN-ACK was lost
          return;
        }
        if ((seg.flags & TCP_ACK) === 0) return;
        if (seg.ack !== this.sndUna) {
          this.sink.counters.count('tcp-bad-handshake-ack', this.key);
          this.emitRaw(TCP_RST, seg.ack, 0, null);
          return;
        }
        this.cancelTimer();
        this.retries = 0;
        this.state = 'established';
        this.sndWnd = this.scaledWindow(seg);
        break;
      case 'time-wait':
        if ((seg.flags & TCP_FIN) !== 0) this.sendAck();
        return;
      default:
        break;
    }
    if ((seg.flags & TCP_SYN) !== 0) {
      // A SYN inside a synchronized connection gets a challenge ACK (RFC 5961 §4.2).
      this.sendAck();
      return;
    }
    if (!this.onAck(seg)) return;
    this.onData(seg);
    this.pump();
    this.maybeFinish();
  }

  /** Tears down without telling the guest (the NAT is closing). */
  destroy(): void {
    this.cancelTimer();
    this.state = 'closed';
    this.socket?.destroy();
  }

  private onSegmentSynSent(seg: TcpSegment): void {
    if ((seg.flags & TCP_ACK) !== 0 && seg.ack !== this.sndUna) {
      this.emitRaw(TCP_RST, seg.ack, 0, null);
      return;
    }
    if ((seg.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) return;
    this.cancelTimer();
    this.retries = 0;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.sndWnd = seg.window;
    this.peerMss = clampMss(seg.mss, this.tuning.mss);
    if (seg.wscale !== null && this.tuning.windowScale > 0) {
      this.sndShift = seg.wscale;
      this.rcvShift = this.tuning.windowScale;
    }
    this.state = 'established';
    this.sendAck();
    this.socket?.resume();
    this.pump();
  }

  private wireSocket(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.onHostData(chunk));
    socket.on('end', () => this.onHostEnd());
    socket.on('drain', () => this.onHostDrain());
  }

  private onHostData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.sendQueue.push(chunk);
    if (!this.hostPaused && this.sendQueue.length >= this.tuning.sendBufferBytes) {
      // Host-side backpressure: stop reading until the guest acknowledges.
      this.hostPaused = true;
      this.sink.counters.count('tcp-host-paused');
      this.socket?.pause();
    }
    this.pump();
  }

  private onHostEnd(): void {
    if (this.state === 'closed') return;
    this.hostEof = true;
    this.pump();
    this.maybeFinish();
  }

  private onHostDrain(): void {
    if (this.state !== 'established') return;
    // Tell the guest its window opened again if we had advertised less than a segment.
    if (this.lastWindow < this.effectiveMss() && this.receiveWindow() > this.lastWindow) this.sendAck();
  }

  private onHostError(err: NodeJS.ErrnoException): void {
    if (this.state === 'closed') return;
    this.sink.counters.count('tcp-host-error', `${this.key} ${err.code ?? err.message}`);
    if (this.state === 'host-connecting') return this.refuse();
    if (this.state !== 'syn-sent') this.emitRaw(TCP_RST | TCP_ACK, this.sndNxt, this.rcvNxt, null);
    this.release();
  }

  /** The host refused (or never answered): RST,ACK for the guest's SYN (RFC 9293 §3.10.7.1). */
  private refuse(): void {
    this.emitRaw(TCP_RST | TCP_ACK, 0, this.rcvNxt, null);
    this.release();
  }

  private onGuestRst(seg: TcpSegment): void {
    let acceptable: boolean;
    if (this.state === 'syn-sent') acceptable = (seg.flags & TCP_ACK) !== 0 && seg.ack === this.sndUna;
    else if (this.state === 'host-connecting') acceptable = seg.seq === this.rcvNxt;
    else {
      const offset = seqDiff(seg.seq, this.rcvNxt);
      acceptable = offset >= 0 && offset < Math.max(1, this.receiveWindow());
    }
    if (!acceptable) {
      this.sink.counters.count('tcp-rst-out-of-window', this.key);
      return;
    }
    this.sink.counters.count('tcp-guest-reset', this.key);
    const s = this.socket;
    this.socket = null;
    // Pass the reset on to the host peer where Node can (RST instead of FIN).
    if (s) {
      if (typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
    this.release();
  }

  /** ACK processing (RFC 9293 §3.10.7.4); false when the segment must be dropped. */
  private onAck(seg: TcpSegment): boolean {
    if ((seg.flags & TCP_ACK) === 0) return false;
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.sink.counters.count('tcp-ack-unsent', this.key);
      this.sendAck();
      return false;
    }
    if (seqGt(ack, this.sndUna)) {
      let n = seqDiff(ack, this.sndUna);
      if (this.finSeq !== null && seqGt(ack, this.finSeq)) {
        this.finAcked = true;
        n -= 1;
      }
      this.sendQueue.consume(n);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      if (this.rttSample && seqGt(ack, this.rttSample.seq)) {
        this.updateRto(this.sink.timers.nowMs() - this.rttSample.sentMs);
        this.rttSample = null;
      }
      this.retries = 0;
      this.dupAcks = 0;
      this.cancelTimer(); // restarted by pump() if anything is still outstanding
      if (this.hostPaused && this.sendQueue.length <= this.tuning.sendBufferBytes / 2) {
        this.hostPaused = false;
        this.socket?.resume();
      }
    } else if (ack === this.sndUna && seg.payload.length === 0 && (seg.flags & TCP_FIN) === 0 &&
      this.scaledWindow(seg) === this.sndWnd && seqGt(this.sndMax, this.sndUna)) {
      this.dupAcks++;
      if (this.dupAcks >= 3 && this.sndUna !== this.fastRetransmitAt) {
        // RFC 5681 §3.2 fast retransmit, go-back-N because the far end may hold no
        // out-of-order data. Duplicate ACKs still in flight for the same hole must not
        // trigger it again (the role of RFC 6582's `recover`); a new hole may.
        this.sink.counters.count('tcp-fast-retransmit');
        this.fastRetransmitAt = this.sndUna;
        this.sndNxt = this.sndUna;
        this.rttSample = null;
      }
    }
    if (!seqLt(ack, this.sndUna)) this.sndWnd = this.scaledWindow(seg);
    return true;
  }

  private onData(seg: TcpSegment): void {
    let data = seg.payload;
    let fin = (seg.flags & TCP_FIN) !== 0;
    if (data.length === 0 && !fin) return;
    if (this.guestFin) {
      this.sendAck(); // a retransmission after the guest's FIN
      return;
    }
    const offset = seqDiff(this.rcvNxt, seg.seq);
    if (offset < 0) {
      this.sink.counters.count('tcp-out-of-order');
      this.sendAck(); // the duplicate ACK asks for what is missing
      return;
    }
    if (offset > data.length || (offset === data.length && !fin)) {
      this.sendAck(); // all old: re-acknowledge
      return;
    }
    data = data.subarray(offset);
    const window = this.receiveWindow();
    if (data.length > window) {
      this.sink.counters.count('tcp-beyond-window');
      data = data.subarray(0, window);
      fin = false;
    }
    if (data.length > 0) {
      // The frame belongs to the device: copy what the host socket keeps.
      this.socket?.write(Buffer.from(data));
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.guestFin = true;
      this.socket?.end(); // half-close towards the host
    }
    this.sendAck();
  }

  /** Sends what the guest's window allows, then the FIN once the host ended and all is sent. */
  private pump(): void {
    if (this.state !== 'established') return;
    const mss = this.effectiveMss();
    for (;;) {
      const sent = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.sendQueue.length - sent;
      if (unsent <= 0) break;
      const room = this.sndWnd - sent;
      if (room <= 0) break;
      const n = Math.min(unsent, room, mss);
      this.sendData(sent, n, n === unsent);
    }
    if (this.hostEof && !this.finAcked && seqDiff(this.sndNxt, this.sndUna) === this.sendQueue.length) {
      this.finSeq = this.sndNxt;
      this.emitRaw(TCP_FIN | TCP_ACK, this.sndNxt, this.rcvNxt, null);
      this.advanceSndNxt(1);
    }
    this.armTimer();
  }

  private sendData(queueOffset: number, n: number, push: boolean): void {
    const payload = this.sendQueue.read(queueOffset, n);
    // Karn's rule: time only data sent for the first time.
    if (!this.rttSample && !seqLt(this.sndNxt, this.sndMax)) this.rttSample = { seq: this.sndNxt, sentMs: this.sink.timers.nowMs() };
    this.emitRaw(TCP_ACK | (push ? TCP_PSH : 0), this.sndNxt, this.rcvNxt, payload);
    this.advanceSndNxt(n);
  }

  private advanceSndNxt(n: number): void {
    this.sndNxt = seqAdd(this.sndNxt, n);
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
  }

  private armTimer(): void {
    const outstanding = seqGt(this.sndMax, this.sndUna);
    const persist = this.sndWnd === 0 && this.sendQueue.length > 0;
    if (!outstanding && !persist) {
      this.cancelTimer();
      return;
    }
    if (!this.timer) this.timer = this.sink.timers.schedule(this.rtoMs, () => this.onTimeout());
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.state === 'syn-sent' || this.state === 'syn-received') {
      if (++this.retries > this.tuning.maxSynRetries) {
        this.sink.counters.count('tcp-handshake-timeout', this.key);
        if (this.state === 'syn-received') this.emitRaw(TCP_RST, this.sndUna, 0, null);
        this.release();
        return;
      }
      this.backoff();
      this.sendSyn();
      return;
    }
    if (this.state === 'time-wait') return this.release();
    if (this.state !== 'established') return;
    if (seqGt(this.sndMax, this.sndUna)) {
      // A zero window is the guest being slow, not a loss: probes never give up.
      if (this.sndWnd > 0 && ++this.retries > this.tuning.maxRetries) {
        this.sink.counters.count('tcp-retransmit-limit', this.key);
        this.emitRaw(TCP_RST | TCP_ACK, this.sndNxt, this.rcvNxt, null);
        this.release();
        return;
      }
      this.sink.counters.count('tcp-retransmit-timeout');
      this.backoff();
      this.rttSample = null;
      this.sndNxt = this.sndUna;
      this.pump();
      if (this.sndNxt === this.sndUna) this.sendProbe();
    } else if (this.sndWnd === 0 && this.sendQueue.length > 0) {
      this.backoff();
      this.sendProbe();
    }
    this.armTimer();
  }

  /** One byte past a zero window (RFC 9293 §3.8.6.1): the ACK it draws carries the window. */
  private sendProbe(): void {
    const sent = seqDiff(this.sndNxt, this.sndUna);
    if (this.sendQueue.length > sent) {
      this.sink.counters.count('tcp-window-probe');
      this.sendData(sent, 1, false);
    }
  }

  private sendSyn(): void {
    const flags = this.state === 'syn-sent' ? TCP_SYN : TCP_SYN | TCP_ACK;
    // A SYN's window is never scaled; offer our shift in a SYN, or echo it when the guest offered.
    const offer = this.state === 'syn-sent' ? this.tuning.windowScale > 0 : this.rcvShift > 0;
    const window = Math.min(MAX_WINDOW_FIELD, this.receiveWindow());
    this.lastWindow = window;
    this.sink.emit(this, flags, this.iss, this.rcvNxt, window, null,
      offer ? { mss: this.tuning.mss, wscale: this.tuning.windowScale } : { mss: this.tuning.mss });
    if (!this.timer) this.timer = this.sink.timers.schedule(this.rtoMs, () => this.onTimeout());
  }

  private sendAck(): void {
    this.emitRaw(TCP_ACK, this.sndNxt, this.rcvNxt, null);
  }

  private emitRaw(flags: number, seq: number, ack: number, payload: Uint8Array | null): void {
    this.sink.emit(this, flags, seq, ack, (flags & TCP_RST) !== 0 ? 0 : this.advertise(), payload);
  }

  /** The window field for a segment; lastWindow keeps the bytes it stands for. */
  private advertise(): number {
    const field = Math.min(MAX_WINDOW_FIELD, Math.floor(this.receiveWindow() / 2 ** this.rcvShift));
    this.lastWindow = field * 2 ** this.rcvShift;
    return field;
  }

  /** Bytes we can take from the guest now (what the host socket has not taken yet is owed). */
  private receiveWindow(): number {
    if (this.guestFin) return 0;
    const pending = this.socket ? this.socket.writableLength : 0;
    return Math.max(0, Math.min(MAX_WINDOW_FIELD * 2 ** this.rcvShift, this.tuning.receiveWindowBytes - pending));
  }

  private scaledWindow(seg: TcpSegment): number {
    return seg.window * 2 ** this.sndShift;
  }

  private effectiveMss(): number {
    return Math.min(this.peerMss, this.tuning.mss);
  }

  private backoff(): void {
    this.rtoMs = Math.min(this.rtoMs * 2, this.tuning.maxRtoMs);
  }

  /** RFC 6298 §2.2–2.3. */
  private updateRto(sampleMs: number): void {
    if (this.srttMs === 0) {
      this.srttMs = sampleMs;
      this.rttvarMs = sampleMs / 2;
    } else {
      this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - sampleMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * sampleMs;
    }
    this.rtoMs = Math.min(this.tuning.maxRtoMs, Math.max(this.tuning.minRtoMs, this.srttMs + 4 * this.rttvarMs));
  }

  private maybeFinish(): void {
    if (this.state !== 'established' || !this.guestFin || !this.finAcked) return;
    // Both directions are closed. Linger so a retransmitted guest FIN is re-acknowledged.
    this.cancelTimer();
    this.state = 'time-wait';
    this.socket?.destroy();
    this.timer = this.sink.timers.schedule(this.tuning.timeWaitMs, () => this.onTimeout());
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private release(): void {
    if (this.state === 'closed') return;
    this.cancelTimer();
    this.state = 'closed';
    this.socket?.destroy();
    this.sink.released(this);
  }
}

function clampMss(mss: number | null, ours: number): number {
  if (mss === null || mss < MIN_PEER_MSS) return mss === null ? DEFAULT_PEER_MSS : MIN_PEER_MSS;
  return Math.min(mss, ours);
}
