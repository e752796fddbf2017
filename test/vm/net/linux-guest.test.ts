// The user-mode NAT with a real Linux network stack as its guest: a tap interface in a
// network namespace is the guest's NIC (its fd carries the frames to and from the NAT), and
// busybox (Debian's package) in that namespace plays the guest's userland — udhcpc takes the
// lease, ping reaches the gateway, nslookup resolves through 10.0.2.3, wget fetches 10 MiB
// from an HTTP server on the host's 127.0.0.1 (also over a lossy link) and posts 4 MiB
// back, and a host port forward reaches busybox httpd. Linux's TCP (SACK, timestamps and window scaling offered,
// none accepted) is the peer the NAT's TCP must satisfy. Needs root (CI runs as root).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TapBackend } from '../../../src/vm/net/tap-backend.js';
import { UserNetBackend } from '../../../src/vm/net/user-net.js';
import { DNS_ANSWER, startDnsServer, type Closable } from './support/loopback-servers.js';
import { createBareNetns, type TestNetns } from './support/netns.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!isRoot)(isRoot ? 'user-mode NAT with Linux as the guest' : 'user-mode NAT with Linux as the guest (skipped: namespaces and taps need root)', () => {
  let ns: TestNetns;
  let tap: TapBackend;
  let nat: UserNetBackend;
  let dns: Closable & { queries: number };
  let web: http.Server;
  let webPort = 0;
  let dir: string;
  const body = randomBytes(10 * 1024 * 1024);
  let loss = 0;
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns.name, ...args], { encoding: 'buffer', maxBuffer: 64 << 20 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirt-net-'));
    ns = createBareNetns(`tsvirt-lg-${process.pid}`);
    tap = ns.inside(() => TapBackend.open({ bridge: null }));
    dns = await startDnsServer();
    web = http.createServer((req, res) => {
      if (req.method === 'POST') {
        const h = createHash('sha256');
        req.on('data', (d) => h.update(d));
        req.on('end', () => res.end(h.digest('hex')));
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as { port: number }).port;
    nat = await UserNetBackend.open({
      dnsUpstream: { address: '127.0.0.1', port: dns.port },
      portForwards: [{ proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 0, guestPort: 8080 }],
    });
    // The tap's fd is the guest NIC: what the namespace sends is what the guest sends.
    // `loss` makes the link drop every Nth frame each way.
    let up = 0;
    let down = 0;
    tap.onReceive((f) => { if (!(loss && ++up % loss === 0)) nat.send(f); });
    nat.onReceive((f) => { if (!(loss && ++down % loss === 0)) tap.send(f); });
  });

  afterAll(async () => {
    nat?.close();
    tap?.close();
    await dns?.close();
    web?.closeAllConnections();
    await new Promise((r) => web?.close(r));
    ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('udhcpc takes the lease: 10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3', async () => {
    const script = join(dir, 'udhcpc.script');
    const result = join(dir, 'lease');
    writeFileSync(script, [
      '#!/bin/sh',
      'case "$1" in bound|renew)',
      '  ip addr flush dev "$interface"',
      '  ip addr add "$ip/$mask" dev "$interface"',
      '  ip route add default via "$router" dev "$interface"',
      `  echo "$ip $mask $router $dns $lease" > ${result};;`,
      'esac',
      '',
    ].join('\n'));
    chmodSync(script, 0o755);
    await inNs('busybox', 'udhcpc', '-i', tap.ifname, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script);
    expect(readFileSync(result, 'utf8').trim()).toBe('10.0.2.15 24 10.0.2.2 10.0.2.3 86400');
  });

  it('pings the gateway and resolves a name through 10.0.2.3', async () => {
    const ping = await inNs('busybox', 'ping', '-c', '2', '-W', '2', '10.0.2.2');
    expect(ping.stdout.toString()).toMatch(/2 packets transmitted, 2 packets received/);
    const look = await inNs('busybox', 'nslookup', '-type=a', 'example.test', '10.0.2.3');
    expect(look.stdout.toString()).toContain(DNS_ANSWER.join('.'));
    expect(dns.queries).toBeGreaterThan(0);
  });

  it('wget fetches 10 MiB from the host through 10.0.2.2 and posts 4 MiB back', async () => {
    const out = join(dir, 'big');
    await inNs('busybox', 'wget', '-q', '-O', out, `http://10.0.2.2:${webPort}/big`);
    expect(sha256(readFileSync(out))).toBe(sha256(body));
    // busybox wget reads --post-file as a C string: text without NULs.
    const upload = Buffer.from(randomBytes(2 * 1024 * 1024).toString('hex'));
    writeFileSync(join(dir, 'up'), upload);
    const posted = await inNs('busybox', 'wget', '-q', '-O', '-', `--post-file=${join(dir, 'up')}`, `http://10.0.2.2:${webPort}/upload`);
    expect(posted.stdout.toString()).toBe(sha256(upload));
    expect(nat.counters.get('internal-error')).toBe(0);
  });

  it('recovers from a lossy link (every 40th frame dropped each way)', async () => {
    const out = join(dir, 'lossy');
    const retransmits = () => nat.counters.get('tcp-fast-retransmit') + nat.counters.get('tcp-retransmit-timeout');
    const before = retransmits();
    loss = 40;
    try {
      await inNs('busybox', 'wget', '-q', '-O', out, `http://10.0.2.2:${webPort}/big`);
    } finally {
      loss = 0;
    }
    expect(sha256(readFileSync(out))).toBe(sha256(body));
    expect(retransmits()).toBeGreaterThan(before);
  });

  it('a host port forward reaches busybox httpd in the guest', async () => {
    const www = join(dir, 'www');
    const page = randomBytes(1024 * 1024);
    rmSync(www, { recursive: true, force: true });
    await run('mkdir', ['-p', www]);
    writeFileSync(join(www, 'page.bin'), page);
    let httpd: ChildProcess | null = null;
    try {
      httpd = spawn('ip', ['netns', 'exec', ns.name, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
      const port = nat.portForwards[0]!.boundPort;
      let got: Buffer | null = null;
      for (let attempt = 0; attempt < 50 && !got; attempt++) {
        got = await new Promise<Buffer | null>((resolve) => {
          http.get({ host: '127.0.0.1', port, path: '/page.bin' }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d) => parts.push(d));
            res.on('end', () => resolve(res.statusCode === 200 ? Buffer.concat(parts) : null));
          }).on('error', () => resolve(null));
        });
        if (!got) await new Promise((r) => setTimeout(r, 100)); // httpd still starting
      }
      expect(got && sha256(got)).toBe(sha256(page));
    } finally {
      httpd?.kill();
    }
  });
});
