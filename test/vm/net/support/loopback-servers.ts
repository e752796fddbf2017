// Real servers on 127.0.0.1 for the network tests to reach through the NAT: an HTTP server
// with a large body, a TCP echo server, a UDP echo server and a tiny DNS server (RFC 1035
// §4.1: answers every A query with one fixed address).

import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Closable {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(body: Buffer): Promise<Closable & { sha256: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/big') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sha256: createHash('sha256').update(body).digest('hex'),
    server,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Echoes each connection's bytes back and half-closes when the client does. */
export async function startEchoServer(onSocket?: (s: net.Socket) => void): Promise<Closable & { sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    if (onSocket) return onSocket(s);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

export async function startUdpEcho(): Promise<Closable> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => sock.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => new Promise((r) => sock.close(() => r())) };
}

export const DNS_ANSWER = [192, 0, 2, 55];

export async function startDnsServer(): Promise<Closable & { queries: number }> {
  const sock = dgram.createSocket('udp4');
  const state = { queries: 0 };
  sock.on('message', (q, rinfo) => {
    state.queries++;
    if (q.length < 12) return;
    // Header: same id, QR=1 RD RA, one question (copied), one answer pointing at it.
    let i = 12;
    while (i < q.length && q[i] !== 0) i += q[i]! + 1;
    const question = q.subarray(12, i + 5);
    const header = Buffer.from([q[0]!, q[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...DNS_ANSWER]);
    sock.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    port: sock.address().port,
    get queries() { return state.queries; },
    close: () => new Promise((r) => sock.close(() => r())),
  };
}

/** A DNS query for an A record (RFC 1035 §4.1.1–4.1.2). */
export function dnsQuery(id: number, name: string): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Uint8Array.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

export function bigBody(bytes: number): Buffer {
  return randomBytes(bytes);
}
