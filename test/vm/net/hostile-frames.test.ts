// Hostile guest frames against the user-mode NAT: random bytes, truncations, and valid
// frames with one field broken (header lengths, total lengths, data offsets, option
// lengths), some with their checksums repaired so the deeper parsers see them. Nothing may
// throw or reach the internal-error counter, and the NAT keeps working afterwards.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoServer } from './support/loopback-servers.js';
import { onesComplementSum, pseudoHeaderSum } from '../../../src/vm/net/checksum.js';
import { ARP_OP_REQUEST, buildArpFrame } from '../../../src/vm/net/arp.js';
import { BROADCAST_MAC, ETH_HEADER_BYTES } from '../../../src/vm/net/ethernet.js';
import { buildIcmpFrame, ICMP_ECHO_REQUEST } from '../../../src/vm/net/icmp.js';
import { IPPROTO_TCP, IPPROTO_UDP, writeU16 } from '../../../src/vm/net/ipv4.js';
import { ManualTimers } from '../../../src/vm/net/net-timers.js';
import { buildTcpFrame, TCP_ACK, TCP_SYN } from '../../../src/vm/net/tcp-segment.js';
import { buildUdpFrame } from '../../../src/vm/net/udp.js';
import { USER_NET_GATEWAY, USER_NET_GATEWAY_MAC, USER_NET_GUEST, UserNetBackend } from '../../../src/vm/net/user-net.js';
import { GUEST_MAC, TestGuest } from './support/test-guest.js';

let nat: UserNetBackend | null = null;
afterEach(() => nat?.close());

/** A seeded generator (xorshift32) so a failing case can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function templates(): Uint8Array[] {
  const base = { dstMac: USER_NET_GATEWAY_MAC, srcMac: GUEST_MAC, src: USER_NET_GUEST, dst: USER_NET_GATEWAY, ident: 1 };
  const dhcp = new Uint8Array(300);
  dhcp.set([1, 1, 6], 0);
  dhcp.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255], 236);
  return [
    buildArpFrame(ARP_OP_REQUEST, GUEST_MAC, USER_NET_GUEST, new Uint8Array(6), USER_NET_GATEWAY, BROADCAST_MAC),
    buildIcmpFrame(base, ICMP_ECHO_REQUEST, 0, randomBytes(40)),
    buildUdpFrame({ ...base, dstMac: BROADCAST_MAC, src: 0, dst: 0xffffffff, srcPort: 68, dstPort: 67 }, dhcp),
    buildUdpFrame({ ...base, srcPort: 5000, dstPort: 9 }, randomBytes(30)),
    // Port 1 on loopback: nothing listens there, so a SYN that survives gets RST.
    buildTcpFrame({ ...base, srcPort: 40_000, dstPort: 1, seq: 1, ack: 0, flags: TCP_SYN, window: 1000, mss: 1460 }, null),
    buildTcpFrame({ ...base, srcPort: 40_001, dstPort: 1, seq: 1, ack: 5, flags: TCP_ACK, window: 1000 }, randomBytes(100)),
  ];
}

/** Recomputes IPv4 and TCP/UDP checksums where the (possibly broken) lengths allow. */
function repairChecksums(f: Uint8Array): void {
  const o = ETH_HEADER_BYTES;
  if (f.length < o + 20 || f[12] !== 0x08 || f[13] !== 0x00) return;
  const ihl = (f[o]! & 0x0f) * 4;
  if (ihl < 20 || o + ihl > f.length) return;
  writeU16(f, o + 10, 0);
  writeU16(f, o + 10, ~onesComplementSum(f, o, o + ihl) & 0xffff);
  const total = Math.min((f[o + 2]! << 8) | f[o + 3]!, f.length - o);
  if (total <= ihl) return;
  const t = o + ihl;
  const len = total - ihl;
  const proto = f[o + 9]!;
  const src = ((f[o + 12]! << 24) | (f[o + 13]! << 16) | (f[o + 14]! << 8) | f[o + 15]!) >>> 0;
  const dst = ((f[o + 16]! << 24) | (f[o + 17]! << 16) | (f[o + 18]! << 8) | f[o + 19]!) >>> 0;
  const csumAt = proto === IPPROTO_TCP ? 16 : proto === IPPROTO_UDP ? 6 : -1;
  if (csumAt < 0 || len < csumAt + 2) return;
  writeU16(f, t + csumAt, 0);
  writeU16(f, t + csumAt, ~onesComplementSum(f, t, t + len, pseudoHeaderSum(src, dst, proto, len)) & 0xffff);
}

describe('hostile guest frames', () => {
  it('drops thousands of random, truncated and malformed frames without throwing', async () => {
    const timers = new ManualTimers();
    nat = await UserNetBackend.open({ dnsUpstream: null, allowExternal: false, timers });
    const out: Uint8Array[] = [];
    nat.onReceive((f) => out.push(f));
    const r = rng(0x5eed);
    const pick = (n: number) => Math.floor(r() * n);

    for (let i = 0; i < 3000; i++) {
      const f = new Uint8Array(pick(200));
      for (let j = 0; j < f.length; j++) f[j] = pick(256);
      if (f.length >= 14 && i % 3 !== 0) {
        f.set(USER_NET_GATEWAY_MAC, 0);
        f[12] = 0x08;
        f[13] = i % 3 === 1 ? 0x00 : 0x06;
      }
      nat.send(f);
    }
    const fieldOffsets = [14, 16, 17, 20, 22, 23, 24, 34, 38, 46, 47, 54, 55, 56, 60];
    for (const t of templates()) {
      for (let i = 0; i < 700; i++) {
        let f = t.slice();
        switch (i % 5) {
          case 0: f = f.subarray(0, pick(f.length)); break; // truncated
          case 1: f[pick(f.length)] = pick(256); break; // one random byte
          case 2: { const at = fieldOffsets[pick(fieldOffsets.length)]!; if (at < f.length) f[at] = pick(256); break; } // a length or offset field
          case 3: for (let k = 0; k < 4; k++) f[pick(f.length)] = pick(256); break;
          default: f = f.subarray(0, Math.max(14, f.length - pick(8))); break;
        }
        if (i % 2 === 0) repairChecksums(f);
        nat.send(f);
      }
    }
    timers.advance(120_000);
    const counters = nat.counters.snapshot();
    expect(counters['internal-error']).toBeUndefined();
    // The checks did the dropping: the main reasons all fired.
    for (const reason of ['eth-truncated', 'ipv4-bad-checksum', 'ipv4-bad-header-length', 'ipv4-bad-total-length', 'tcp-bad-data-offset', 'udp-bad-length', 'arp-truncated']) {
      expect(counters[reason], reason).toBeGreaterThan(0);
    }

    // Still a working network afterwards.
    const guest = new TestGuest(nat);
    expect((await guest.dhcp()).addr).toBe(USER_NET_GUEST);
    guest.gatewayMac = await guest.arp(USER_NET_GATEWAY);
    await guest.ping(USER_NET_GATEWAY, 9, Buffer.from('still here'));
  });
});

describe('hostile segments inside live TCP connections', () => {
  it('survives random flags, sequence and acknowledgement numbers, windows and options', async () => {
    const echo = await startEchoServer();
    try {
      const timers = new ManualTimers();
      nat = await UserNetBackend.open({ dnsUpstream: null, allowExternal: false, timers });
      const guest = new TestGuest(nat);
      await guest.dhcp();
      guest.gatewayMac = await guest.arp(USER_NET_GATEWAY);
      const r = rng(0xc0ffee);
      const pick = (n: number) => Math.floor(r() * n);
      for (let round = 0; round < 20; round++) {
        const s = guest.connect(USER_NET_GATEWAY, echo.port);
        await s.connected();
        s.write(Buffer.from('hello'));
        for (let i = 0; i < 300; i++) {
          const seq = pick(2) ? pick(0x1_0000_0000) : 0;
          const ack = pick(0x1_0000_0000);
          const mss = pick(4) === 0 ? pick(0x10000) : undefined;
          const wscale = pick(4) === 0 ? pick(256) : undefined;
          guest.sendTcp(s, pick(64), seq, ack, pick(0x10000), pick(3) ? null : randomBytes(pick(1500)), mss, wscale);
        }
        timers.advance(pick(5000));
        await new Promise((res) => setTimeout(res, 5));
      }
      timers.advance(600_000);
      expect(nat.counters.get('internal-error')).toBe(0);
      // And a clean connection still works.
      const ok = guest.connect(USER_NET_GATEWAY, echo.port);
      await ok.connected();
      ok.write(Buffer.from('ping'));
      ok.end();
      await ok.until(() => ok.finReceived, 'echo');
      expect(ok.body().toString()).toBe('ping');
    } finally {
      await echo.close();
    }
  });
});
