// The user-mode NAT driven by a test guest over whole Ethernet frames, against real servers
// on 127.0.0.1.

import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { internetChecksum } from '../../../src/vm/net/checksum.js';
import { ManualTimers } from '../../../src/vm/net/net-timers.js';
import { buildUdpFrame } from '../../../src/vm/net/udp.js';
import { TCP_ACK, TCP_RST } from '../../../src/vm/net/tcp-segment.js';
import {
  USER_NET_DNS, USER_NET_GATEWAY, USER_NET_GATEWAY_MAC, USER_NET_GUEST, UserNetBackend, type UserNetOptions,
} from '../../../src/vm/net/user-net.js';
import {
  bigBody, DNS_ANSWER, dnsQuery, startDnsServer, startEchoServer, startHttpServer, startUdpEcho, type Closable,
} from './support/loopback-servers.js';
import { GUEST_MAC, TestGuest, type GuestTcpSocket } from './support/test-guest.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends Closable>(s: T): T {
  cleanups.push(() => s.close());
  return s;
}

async function boot(opts: UserNetOptions = {}): Promise<{ nat: UserNetBackend; guest: TestGuest }> {
  const nat = await UserNetBackend.open({ dnsUpstream: null, ...opts });
  cleanups.push(() => nat.close());
  const guest = new TestGuest(nat);
  await guest.dhcp();
  guest.gatewayMac = await guest.arp(USER_NET_GATEWAY);
  return { nat, guest };
}

/** Waits for `pred`; when nothing moves on the wire, advances the NAT's manual clock. */
async function drive(guest: TestGuest, timers: ManualTimers | null, pred: () => boolean, what: string, stepMs = 250): Promise<void> {
  const giveUp = Date.now() + 60_000;
  let seen = -1;
  while (!pred()) {
    if (Date.now() > giveUp) throw new Error(`stalled waiting for ${what}`);
    await sleep(5);
    if (timers && guest.framesIn === seen) timers.advance(stepMs);
    seen = guest.framesIn;
  }
}

function httpBody(s: GuestTcpSocket): Buffer {
  const all = s.body();
  const end = all.indexOf('\r\n\r\n');
  return all.subarray(end + 4);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function fetchBig(guest: TestGuest, port: number, opts: Parameters<TestGuest['connect']>[2], timers: ManualTimers | null) {
  const s = guest.connect(USER_NET_GATEWAY, port, opts);
  await drive(guest, timers, () => s.state === 'established' || s.reset, 'connect');
  s.write(Buffer.from('GET /big HTTP/1.1\r\nHost: 10.0.2.2\r\nConnection: close\r\n\r\n'));
  await drive(guest, timers, () => s.finReceived || s.reset, 'response');
  return s;
}

describe('user-mode NAT: link and addressing', () => {
  it('DHCP hands out 10.0.2.15 with router, DNS, mask and lease; ARP answers for .2 and .3 only', async () => {
    const nat = await UserNetBackend.open({ dnsUpstream: null });
    cleanups.push(() => nat.close());
    const guest = new TestGuest(nat);
    const lease = await guest.dhcp();
    expect(lease).toMatchObject({ addr: USER_NET_GUEST, serverId: USER_NET_GATEWAY, router: USER_NET_GATEWAY, dns: USER_NET_DNS,
      netmask: 0xffffff00, leaseSeconds: 86_400 });
    expect(Array.from(lease.offerMac)).toEqual(Array.from(USER_NET_GATEWAY_MAC));
    expect(Array.from(await guest.arp(USER_NET_GATEWAY))).toEqual(Array.from(USER_NET_GATEWAY_MAC));
    expect(Array.from(await guest.arp(USER_NET_DNS))).toEqual(Array.from(USER_NET_GATEWAY_MAC));
    await expect(guest.arp(0x0a000204, 200)).rejects.toThrow(/no ARP reply/);
    expect(guest.violations).toEqual([]);
  });

  it('answers ICMP echo for the gateway with the same data, and not for other hosts', async () => {
    const { nat, guest } = await boot();
    const data = randomBytes(56);
    await guest.ping(USER_NET_GATEWAY, 1, data);
    expect(Buffer.from(guest.echoData.get(1)!)).toEqual(data);
    await guest.ping(USER_NET_DNS, 2, new Uint8Array(0));
    await expect(guest.ping(0x08080808, 3, data, 200)).rejects.toThrow(/no echo reply/);
    expect(nat.counters.get('icmp-echo-not-forwarded')).toBe(1);
  });
});

describe('user-mode NAT: IPv4', () => {
  it('spends TTL like a router: TTL 1 reaches the gateway but is not forwarded', async () => {
    const { nat, guest } = await boot();
    const withTtl = (f: Uint8Array, ttl: number) => {
      f[22] = ttl;
      f[24] = f[25] = 0;
      const sum = internetChecksum(f, 14, 34);
      f[24] = sum >> 8;
      f[25] = sum & 0xff;
      return f;
    };
    const base = { dstMac: USER_NET_GATEWAY_MAC, srcMac: GUEST_MAC, src: USER_NET_GUEST, ident: 7 };
    guest.sendFrame(withTtl(buildUdpFrame({ ...base, dst: 0xc0000201, srcPort: 7001, dstPort: 9 }, Buffer.from('x')), 1));
    expect(nat.counters.get('ipv4-ttl-expired')).toBe(1);
    expect(nat.udpFlowCount).toBe(0);
    const echo = track(await startUdpEcho());
    guest.sendFrame(withTtl(buildUdpFrame({ ...base, dst: USER_NET_GATEWAY, srcPort: 7002, dstPort: echo.port }, Buffer.from('y')), 1));
    expect(Buffer.from((await guest.recvUdp(7002)).payload).toString()).toBe('echo:y');
  });
});

describe('user-mode NAT: UDP and DNS', () => {
  it('relays DNS queries to 10.0.2.3 to the upstream resolver and the answer back', async () => {
    const dns = track(await startDnsServer());
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ dnsUpstream: { address: '127.0.0.1', port: dns.port }, timers, udpIdleMs: 30_000 });
    guest.sendUdp(5353, USER_NET_DNS, 53, dnsQuery(0xbeef, 'example.test'));
    const reply = await guest.recvUdp(5353);
    expect(reply.srcAddr).toBe(USER_NET_DNS);
    expect(reply.srcPort).toBe(53);
    expect(reply.payload[0]).toBe(0xbe);
    expect(reply.payload[1]).toBe(0xef);
    expect(Array.from(reply.payload.subarray(reply.payload.length - 4))).toEqual(DNS_ANSWER);
    expect(dns.queries).toBe(1);
    expect(nat.udpFlowCount).toBe(1);
    // The flow's host socket closes after the idle timeout.
    timers.advance(29_000);
    expect(nat.udpFlowCount).toBe(1);
    timers.advance(2_000);
    expect(nat.udpFlowCount).toBe(0);
  });

  it('drops DNS queries when there is no upstream resolver', async () => {
    const { nat, guest } = await boot({ dnsUpstream: null });
    guest.sendUdp(5353, USER_NET_DNS, 53, dnsQuery(1, 'example.test'));
    await expect(guest.recvUdp(5353, 200)).rejects.toThrow();
    expect(nat.counters.get('dns-no-upstream')).toBe(1);
  });

  it('relays DNS over TCP to the upstream resolver', async () => {
    const upstream = track(await startEchoServer());
    const { guest } = await boot({ dnsUpstream: { address: '127.0.0.1', port: upstream.port } });
    const s = guest.connect(USER_NET_DNS, 53);
    await s.connected();
    s.write(Buffer.from('\x00\x05query'));
    await s.until(() => s.receivedBytes === 7, 'the echoed query');
    expect(s.body().toString()).toBe('\x00\x05query');
    const other = guest.connect(USER_NET_DNS, 80);
    await expect(other.connected()).rejects.toThrow(/reset/);
  });

  it('maps UDP to 10.0.2.2:PORT onto 127.0.0.1:PORT and replies back', async () => {
    const echo = track(await startUdpEcho());
    const { guest } = await boot();
    guest.sendUdp(7000, USER_NET_GATEWAY, echo.port, Buffer.from('hello'));
    const reply = await guest.recvUdp(7000);
    expect(reply).toMatchObject({ srcAddr: USER_NET_GATEWAY, srcPort: echo.port });
    expect(Buffer.from(reply.payload).toString()).toBe('echo:hello');
  });
});

describe('user-mode NAT: TCP to the host', () => {
  it('fetches a 10 MiB body from a host HTTP server intact', async () => {
    const body = bigBody(10 * 1024 * 1024);
    const srv = track(await startHttpServer(body));
    const { guest } = await boot();
    const s = await fetchBig(guest, srv.port, {}, null);
    expect(s.reset).toBe(false);
    expect(sha256(httpBody(s))).toBe(srv.sha256);
    expect(guest.violations).toEqual([]);
  });

  it('keeps to a small guest window and pauses the host socket (backpressure)', async () => {
    const body = bigBody(10 * 1024 * 1024);
    const srv = track(await startHttpServer(body));
    const { nat, guest } = await boot();
    const s = await fetchBig(guest, srv.port, { windowBytes: 2048, mss: 1000 }, null);
    expect(sha256(httpBody(s))).toBe(srv.sha256);
    expect(guest.violations).toEqual([]); // nothing beyond the window or the MSS
    expect(nat.counters.get('tcp-host-paused')).toBeGreaterThan(0);
  });

  it('retransmits dropped segments (timeouts on a manual clock, fast retransmit)', async () => {
    const body = bigBody(10 * 1024 * 1024);
    const srv = track(await startHttpServer(body));
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ timers });
    let n = 0;
    guest.dropInbound = (f) => f.length > 100 && ++n % 41 === 0;
    const s = await fetchBig(guest, srv.port, {}, timers);
    expect(sha256(httpBody(s))).toBe(srv.sha256);
    expect(nat.counters.get('tcp-fast-retransmit') + nat.counters.get('tcp-retransmit-timeout')).toBeGreaterThan(10);
    expect(guest.violations).toEqual([]);
  });

  it('retransmits a lost segment only when the retransmission timer fires', async () => {
    const srv = track(await startEchoServer((sock) => sock.write(Buffer.alloc(1000, 7))));
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ timers });
    let dropped = 0;
    guest.dropInbound = (f) => f.length > 1000 && dropped++ === 0;
    const s = guest.connect(USER_NET_GATEWAY, srv.port);
    await s.connected();
    await drive(guest, null, () => dropped === 1, 'the first data segment');
    await sleep(50);
    expect(s.receivedBytes).toBe(0);
    expect(nat.counters.get('tcp-retransmit-timeout')).toBe(0);
    timers.advance(999);
    await sleep(20);
    expect(s.receivedBytes).toBe(0);
    timers.advance(1);
    await s.until(() => s.receivedBytes === 1000, 'the retransmission');
    expect(nat.counters.get('tcp-retransmit-timeout')).toBe(1);
  });

  it('stops at a zero guest window, probes it, and resumes when the guest reads', async () => {
    const payload = randomBytes(200_000);
    const srv = track(await startEchoServer((sock) => sock.end(payload)));
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ timers });
    const s = guest.connect(USER_NET_GATEWAY, srv.port, { windowBytes: 8192 });
    s.pauseReading();
    await s.connected();
    await s.until(() => s.receivedBytes >= 8192, 'a full window');
    await sleep(50);
    expect(s.receivedBytes).toBe(8192);
    timers.advance(1000);
    await sleep(20);
    expect(nat.counters.get('tcp-window-probe')).toBeGreaterThan(0);
    s.resumeReading();
    await drive(guest, timers, () => s.finReceived, 'the rest');
    expect(sha256(s.body())).toBe(sha256(payload));
    expect(guest.violations).toEqual([]);
  });

  it('scales windows when the guest offers it (RFC 7323), and keeps to 16 bits when not', async () => {
    const payload = randomBytes(1024 * 1024);
    const srv = track(await startEchoServer((sock) => sock.end(payload)));
    const { guest } = await boot();
    const scaled = guest.connect(USER_NET_GATEWAY, srv.port, { windowBytes: 200_000, wscale: 2 });
    const plain = guest.connect(USER_NET_GATEWAY, srv.port, { windowBytes: 200_000 });
    await Promise.all([scaled.connected(), plain.connected()]);
    // Without ACKs the NAT may fill exactly the window it was told: 50000 << 2, or 65535.
    scaled.holdAcks = true;
    plain.holdAcks = true;
    await scaled.until(() => scaled.receivedBytes >= 200_000, 'a scaled window of data');
    await plain.until(() => plain.receivedBytes >= 65_535, 'a 16-bit window of data');
    await sleep(50);
    expect(scaled.receivedBytes).toBe(200_000);
    expect(plain.receivedBytes).toBe(65_535);
    scaled.releaseAcks();
    plain.releaseAcks();
    await scaled.until(() => scaled.finReceived, 'the rest');
    await plain.until(() => plain.finReceived, 'the rest');
    expect(sha256(scaled.body())).toBe(sha256(payload));
    expect(sha256(plain.body())).toBe(sha256(payload));
    // Our own window: scaled by our shift only when the guest offered scaling.
    expect(scaled.maxPeerWindow).toBeGreaterThan(65_535);
    expect(plain.maxPeerWindow).toBeLessThanOrEqual(65_535);
    expect(guest.violations).toEqual([]);
  });

  it('uploads 4 MiB from the guest while the host reads slowly (our window shrinks and reopens)', async () => {
    const upload = randomBytes(4 * 1024 * 1024);
    const got: Buffer[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => { done = r; });
    const srv = track(await startEchoServer((sock) => {
      sock.pause();
      const timer = setInterval(() => { sock.resume(); setTimeout(() => sock.pause(), 2); }, 10);
      sock.on('data', (d) => got.push(d));
      sock.on('end', () => { clearInterval(timer); sock.end('done'); done(); });
    }));
    const { nat, guest } = await boot();
    const s = guest.connect(USER_NET_GATEWAY, srv.port, { windowBytes: 65535 });
    await s.connected();
    s.write(upload);
    s.end();
    await finished;
    await s.until(() => s.finReceived, 'the reply');
    expect(sha256(Buffer.concat(got))).toBe(sha256(upload));
    expect(s.body().toString()).toBe('done');
    expect(nat.counters.get('tcp-beyond-window')).toBe(0);
    expect(s.minPeerWindow).toBeLessThan(1460); // the slow host reader closed our window
  });

  it('carries 50 concurrent connections and releases them all after TIME-WAIT', async () => {
    const srv = track(await startEchoServer());
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ timers });
    const payloads = Array.from({ length: 50 }, () => randomBytes(64 * 1024));
    const socks = payloads.map(() => guest.connect(USER_NET_GATEWAY, srv.port));
    await Promise.all(socks.map((s) => s.connected()));
    expect(nat.tcpConnectionCount).toBe(50);
    socks.forEach((s, i) => { s.write(payloads[i]!); s.end(); });
    await Promise.all(socks.map((s) => s.until(() => s.finReceived, 'echo')));
    socks.forEach((s, i) => expect(sha256(s.body())).toBe(sha256(payloads[i]!)));
    expect(guest.violations).toEqual([]);
    await drive(guest, null, () => socks.every((s) => s.state === 'closed'), 'guest closes');
    expect(nat.tcpConnectionCount).toBe(50); // in TIME-WAIT
    timers.advance(2000);
    expect(nat.tcpConnectionCount).toBe(0);
    expect(srv.sockets.every((s) => s.destroyed)).toBe(true);
  });

  it('half-closes: the guest FIN ends the host read side, the host still answers', async () => {
    const srv = track(await startEchoServer((sock) => {
      const parts: Buffer[] = [];
      sock.on('data', (d) => parts.push(d));
      sock.on('end', () => sock.end(`got ${Buffer.concat(parts).length}`));
    }));
    const timers = new ManualTimers();
    const { nat, guest } = await boot({ timers });
    const s = guest.connect(USER_NET_GATEWAY, srv.port);
    await s.connected();
    s.write(Buffer.alloc(5000, 1));
    s.end();
    await s.until(() => s.finReceived, 'answer and FIN');
    expect(s.body().toString()).toBe('got 5000');
    await s.until(() => s.state === 'closed', 'close');
    expect(nat.tcpConnectionCount).toBe(1); // TIME-WAIT
    timers.advance(2000);
    expect(nat.tcpConnectionCount).toBe(0);
  });

  it('the host closing first sends FIN; the guest then closes', async () => {
    const srv = track(await startEchoServer((sock) => sock.end('bye')));
    const { nat, guest } = await boot();
    const s = guest.connect(USER_NET_GATEWAY, srv.port);
    await s.until(() => s.finReceived, 'FIN');
    expect(s.body().toString()).toBe('bye');
    s.end();
    await s.until(() => s.state === 'closed', 'close');
    expect(nat.counters.get('tcp-guest-reset')).toBe(0);
  });

  it('answers RST,ACK when the host refuses the connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { nat, guest } = await boot();
    const s = guest.connect(USER_NET_GATEWAY, port);
    await expect(s.connected()).rejects.toThrow(/reset/);
    expect(nat.tcpConnectionCount).toBe(0);
  });

  it('passes a guest RST on to the host and a host reset on to the guest', async () => {
    const hostSide: net.Socket[] = [];
    const srv = track(await startEchoServer((sock) => { hostSide.push(sock); sock.write('hi'); }));
    const { nat, guest } = await boot();
    const a = guest.connect(USER_NET_GATEWAY, srv.port);
    await a.until(() => a.receivedBytes === 2, 'greeting');
    const hostClosed = new Promise<void>((r) => hostSide[0]!.on('close', () => r()));
    a.abort();
    await hostClosed;
    expect(nat.counters.get('tcp-guest-reset')).toBe(1);

    const b = guest.connect(USER_NET_GATEWAY, srv.port);
    await b.until(() => b.receivedBytes === 2, 'greeting');
    hostSide[1]!.resetAndDestroy();
    await b.until(() => b.reset, 'reset');
    await drive(guest, null, () => nat.tcpConnectionCount === 0, 'release');
  });

  it('answers a segment for no connection with RST (seq = its ACK)', async () => {
    const { guest } = await boot();
    guest.sendTcp({ localPort: 45_000, remoteAddr: USER_NET_GATEWAY, remotePort: 80 }, TCP_ACK, 1000, 123_456, 1000, Buffer.from('x'));
    await drive(guest, null, () => guest.strayTcp.length > 0, 'RST');
    expect(guest.strayTcp[0]).toMatchObject({ flags: TCP_RST, seq: 123_456, srcPort: 80, dstPort: 45_000 });
  });
});

describe('user-mode NAT: inbound port forwards', () => {
  it('forwards host 127.0.0.1:P to a server in the guest', async () => {
    const { nat, guest } = await boot({ portForwards: [{ proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 0, guestPort: 8080 }] });
    guest.listen(8080, (s) => {
      void s.until(() => s.finReceived, 'request').then(() => {
        s.write(Buffer.from(s.body().toString().toUpperCase()));
        s.end();
      });
    });
    const port = nat.portForwards[0]!.boundPort;
    const big = randomBytes(300_000).toString('hex');
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      const parts: Buffer[] = [];
      c.on('data', (d) => parts.push(d));
      c.on('end', () => { c.end(); resolve(Buffer.concat(parts).toString()); });
      c.on('error', reject);
      c.end(big);
    });
    expect(reply).toBe(big.toUpperCase());
    expect(nat.counters.get('forward-accepted')).toBe(1);
  });

  it('closes the host connection when nothing listens in the guest', async () => {
    const { nat, guest } = await boot({ portForwards: [{ proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 0, guestPort: 9999 }] });
    const port = nat.portForwards[0]!.boundPort;
    await new Promise<void>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      c.on('error', () => undefined);
      c.on('close', () => resolve());
    });
    expect(guest.strayTcp.length).toBeGreaterThan(0);
    expect(nat.counters.get('tcp-guest-reset')).toBe(1);
  });

  it('refuses a busy host port with a clear error', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => busy.close(() => r())));
    const port = (busy.address() as net.AddressInfo).port;
    await expect(UserNetBackend.open({ dnsUpstream: null, portForwards: [{ proto: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 22 }] }))
      .rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    const busyUdp = dgram.createSocket('udp4');
    await new Promise<void>((r) => busyUdp.bind(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => busyUdp.close(() => r())));
    await expect(UserNetBackend.open({ dnsUpstream: null, portForwards: [{ proto: 'udp', hostAddress: '127.0.0.1', hostPort: busyUdp.address().port, guestPort: 53 }] }))
      .rejects.toThrow(/cannot listen on udp 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  it('relays UDP from host peers to the guest port and the guest replies back', async () => {
    const { nat, guest } = await boot({ portForwards: [{ proto: 'udp', hostAddress: '127.0.0.1', hostPort: 0, guestPort: 5353 }] });
    const port = nat.portForwards[0]!.boundPort;
    const peers = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    cleanups.push(() => peers.forEach((p) => p.close()));
    const replies = peers.map((p) => new Promise<string>((r) => p.once('message', (m) => r(m.toString()))));
    peers[0]!.send('from peer 0', port, '127.0.0.1');
    const first = await guest.recvUdp(5353);
    peers[1]!.send('from peer 1', port, '127.0.0.1');
    const second = await guest.recvUdp(5353);
    expect(first.srcAddr).toBe(USER_NET_GATEWAY);
    expect(second.srcPort).not.toBe(first.srcPort); // each host peer has its own gateway port
    guest.sendUdp(5353, USER_NET_GATEWAY, second.srcPort, Buffer.from(`re: ${Buffer.from(second.payload)}`));
    guest.sendUdp(5353, USER_NET_GATEWAY, first.srcPort, Buffer.from(`re: ${Buffer.from(first.payload)}`));
    expect(await replies[0]).toBe('re: from peer 0');
    expect(await replies[1]).toBe('re: from peer 1');
  });
});
