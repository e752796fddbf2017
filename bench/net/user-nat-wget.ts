// Guest download throughput through the user-mode network: tsvirt's NAT against QEMU's
// user networking (slirp), in the same run, with the same "guest" — a Linux network stack in
// a namespace whose tap device is the NIC, running busybox udhcpc and wget — and the same
// server (busybox httpd on the NAT host's 127.0.0.1, reached as 10.0.2.2). QEMU runs with
// no machine (-M none): a hub joins its tap netdev to its user netdev, so only slirp is
// measured. tsvirt's NAT runs in this process, fed by its TapBackend.
// Also prints a BENCH-RESULT line (bench/lib/result.mjs) for bench/run-all.sh.
// Run as root: npx vite-node bench/net/user-nat-wget.ts [MiB] [rounds]
// (Kept beside the network tests, the paths this work owns; it belongs in bench/net/.)

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TapBackend } from '../../src/vm/net/tap-backend.js';
import { UserNetBackend } from '../../src/vm/net/user-net.js';
import { createBareNetns, type TestNetns } from '../../test/vm/net/support/netns.js';
import { benchResult } from '../lib/result.mjs';

const run = promisify(execFile);
const sizeMiB = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-net-'));
const children: ChildProcess[] = [];
const spaces: TestNetns[] = [];

function background(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

async function lease(ns: string, ifname: string): Promise<void> {
  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; ip route add default via "$router" dev "$interface";; esac\n');
  chmodSync(script, 0o755);
  await run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  await run('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-i', ifname, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script]);
}

/** Best of `rounds` wget runs, in MiB/s. */
async function measure(ns: string, port: number): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    await run('ip', ['netns', 'exec', ns, 'busybox', 'wget', '-q', '-O', '/dev/null', `http://10.0.2.2:${port}/blob`]);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return sizeMiB / best;
}

async function main(): Promise<void> {
  const www = join(dir, 'www');
  await run('mkdir', ['-p', www]);
  await run('dd', ['if=/dev/urandom', `of=${join(www, 'blob')}`, 'bs=1M', `count=${sizeMiB}`, 'status=none']);

  // tsvirt: the NAT in this process, httpd on this namespace's loopback.
  const nsA = createBareNetns(`tsvirt-bench-a-${process.pid}`);
  spaces.push(nsA);
  const tap = nsA.inside(() => TapBackend.open({ bridge: null }));
  const nat = await UserNetBackend.open({ dnsUpstream: null });
  tap.onReceive((f) => nat.send(f));
  nat.onReceive((f) => tap.send(f));
  const portA = 18_000 + (process.pid % 1000);
  background('busybox', ['httpd', '-f', '-p', `127.0.0.1:${portA}`, '-h', www]);
  await lease(nsA.name, tap.ifname);

  // QEMU slirp: QEMU and its httpd both in the second namespace (slirp's host side).
  const nsB = createBareNetns(`tsvirt-bench-b-${process.pid}`);
  spaces.push(nsB);
  const portB = portA + 1;
  background('ip', ['netns', 'exec', nsB.name, 'qemu-system-x86_64', '-M', 'none', '-nodefaults', '-nographic',
    '-netdev', 'user,id=u', '-netdev', 'tap,id=t,ifname=qtap0,script=no,downscript=no',
    '-netdev', 'hubport,id=p1,hubid=0,netdev=u', '-netdev', 'hubport,id=p2,hubid=0,netdev=t']);
  background('ip', ['netns', 'exec', nsB.name, 'busybox', 'httpd', '-f', '-p', `127.0.0.1:${portB}`, '-h', www]);
  for (let i = 0; i < 50; i++) {
    if ((await run('ip', ['-n', nsB.name, 'link'])).stdout.includes('qtap0')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await lease(nsB.name, 'qtap0');

  const ours = await measure(nsA.name, portA);
  const qemu = await measure(nsB.name, portB);
  console.log(`guest wget of ${sizeMiB} MiB through the user-mode network (best of ${rounds}):`);
  console.log(`  tsvirt user NAT : ${ours.toFixed(1)} MiB/s`);
  console.log(`  QEMU slirp      : ${qemu.toFixed(1)} MiB/s`);
  console.log(`  ratio tsvirt/QEMU: ${(ours / qemu).toFixed(2)}`);
  benchResult('net', `guest wget ${sizeMiB} MiB through user NAT (best of ${rounds})`, ours, 'QEMU slirp', qemu, 'MiB/s', 'higher');
  nat.close();
  tap.close();
}

main().finally(() => {
  for (const c of children) c.kill();
  for (const s of spaces) s.remove();
  rmSync(dir, { recursive: true, force: true });
}).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
