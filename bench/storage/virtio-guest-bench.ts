// Guest-side virtio throughput: tsvirt's VM core (software CPU) against QEMU TCG, same
// Debian generic kernel, same initramfs (busybox + the kernel's virtio modules), same raw
// disk size and the same HTTP server in this process. Inside the guest: dd writes
// MiB MiB of zeros to /dev/vda (conv=fsync) and reads them back after drop_caches; wget
// fetches a WGET_MiB file from the host's 127.0.0.1 through the user NAT (tsvirt's NAT /
// QEMU's slirp, both reaching the host as 10.0.2.2). Each phase is timed on the host, from
// the arrival of the guest's console line before it to the one after (the guest's own clock
// is printed beside it: on the loaded software CPU it was seen to fall behind the host's).
// One boot each, one after the other (never two kernels at once). Prints MiB/s for both
// and tsvirt/QEMU ratios, and BENCH-RESULT lines (bench/lib/result.mjs) for bench/run-all.sh.
// Run: npm run build && npx vite-node bench/storage/virtio-guest-bench.ts [DD_MiB] [WGET_MiB]

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildVmCoreGuest, loadModulesLines, runOnVmCoreCapturing, UDHCPC_SCRIPT } from '../../test/vm/devices/virtio/support/vm-core-guest.js';
import { benchResult } from '../lib/result.mjs';

const ddMiB = Number(process.argv[2] ?? 64);
const wgetMiB = Number(process.argv[3] ?? 10);
const MiB = 1 << 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-bench-vguest-'));
const blob = randomBytes(wgetMiB * MiB);


function init(httpPort: number): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "BENCH-USERSPACE $(cut -d' ' -f1 /proc/uptime)"
${loadModulesLines('BENCH')}
n=0; while [ ! -b /dev/vda ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
t() { cut -d' ' -f1 /proc/uptime; }
echo "BENCH-START dd-write"; a=$(t); dd if=/dev/zero of=/dev/vda bs=1M count=${ddMiB} conv=fsync 2>/dev/null || echo "BENCH-FAILED dd write"; echo "BENCH-DD-WRITE $a $(t)"
sync; echo 3 > /proc/sys/vm/drop_caches
echo "BENCH-START dd-read"; a=$(t); dd if=/dev/vda of=/dev/null bs=1M count=${ddMiB} 2>/dev/null || echo "BENCH-FAILED dd read"; echo "BENCH-DD-READ $a $(t)"
ip link set lo up; ip link set eth0 up
timeout -s KILL 180 udhcpc -i eth0 -f -q -n -t 10 -T 3 -s /udhcpc.sh >/dev/null 2>&1 || echo "BENCH-FAILED dhcp"
echo "BENCH-START wget"; a=$(t); timeout -s KILL 900 wget -q -O /tmp/blob http://10.0.2.2:${httpPort}/blob || echo "BENCH-FAILED wget"; echo "BENCH-WGET $a $(t)"
echo "BENCH-WGET-BYTES $(wc -c < /tmp/blob)"
echo "BENCH-CLOCKSOURCE $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
poweroff -f
`;
}

interface Figures {
  bootToUserspaceS: number;
  ddWriteMiBs: number;
  ddReadMiBs: number;
  wgetMiBs: number;
  /** The same three as the guest's clock has them. */
  guestClock: { ddWriteMiBs: number; ddReadMiBs: number; wgetMiBs: number };
  clocksource: string;
  wallS: number;
}

/** Console lines with the host time (ms) each one arrived. */
class ConsoleLines {
  readonly lines: string[] = [];
  readonly arrivedMs: number[] = [];
  private pending = '';
  push(chunk: string): void {
    this.pending += chunk.replace(/\r/g, '');
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.add(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
  }
  add(line: string): void {
    this.lines.push(line);
    this.arrivedMs.push(performance.now());
  }
}

function figures(c: ConsoleLines, wallS: number, who: string): Figures {
  const lines = c.lines;
  const get = (tag: string) => lines.find((l) => l.startsWith(`${tag} `))?.slice(tag.length + 1).trim();
  const failed = lines.filter((l) => l.startsWith('BENCH-FAILED') || l.startsWith('BENCH-INSMOD-FAILED'));
  const span = (tag: string) => {
    const v = get(tag)?.split(/\s+/).map(Number);
    if (!v || v.length !== 2 || !(v[1]! > v[0]!)) throw new Error(`${who}: no usable ${tag} line; console tail:\n${lines.slice(-30).join('\n')}`);
    return v[1]! - v[0]!;
  };
  /** Host seconds from `BENCH-START name` to the line starting with `endTag`. */
  const hostSpan = (name: string, endTag: string) => {
    const a = lines.indexOf(`BENCH-START ${name}`);
    const b = lines.findIndex((l) => l.startsWith(`${endTag} `));
    if (a < 0 || b < a) throw new Error(`${who}: no ${name} phase on the console; tail:\n${lines.slice(-30).join('\n')}`);
    return (c.arrivedMs[b]! - c.arrivedMs[a]!) / 1000;
  };
  if (failed.length) throw new Error(`${who}: ${failed.join('; ')}; console tail:\n${lines.slice(-30).join('\n')}`);
  if (Number(get('BENCH-WGET-BYTES')) !== blob.length) throw new Error(`${who}: wget fetched ${get('BENCH-WGET-BYTES')} bytes, not ${blob.length}`);
  return {
    bootToUserspaceS: Number(get('BENCH-USERSPACE')),
    ddWriteMiBs: ddMiB / hostSpan('dd-write', 'BENCH-DD-WRITE'),
    ddReadMiBs: ddMiB / hostSpan('dd-read', 'BENCH-DD-READ'),
    wgetMiBs: wgetMiB / hostSpan('wget', 'BENCH-WGET'),
    guestClock: { ddWriteMiBs: ddMiB / span('BENCH-DD-WRITE'), ddReadMiBs: ddMiB / span('BENCH-DD-READ'), wgetMiBs: wgetMiB / span('BENCH-WGET') },
    clocksource: get('BENCH-CLOCKSOURCE') ?? '?',
    wallS,
  };
}

function freshDisk(name: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, new Uint8Array(0));
  fs.truncateSync(p, (ddMiB + 16) * MiB);
  return p;
}

async function runTsvirt(kernel: string, initrd: string): Promise<Figures> {
  const started = Date.now();
  const c = new ConsoleLines();
  const run = await runOnVmCoreCapturing(
    {
      memoryBytes: 256 * MiB, vcpus: 1, kernel, initrd, cmdline: 'console=ttyS0 panic=-1 loglevel=4',
      disks: [{ path: freshDisk('tsvirt.raw'), format: 'raw', readOnly: false, cache: 'writeback', target: 'vda', bus: 'virtio', device: 'disk' }],
      nics: [{ mac: '52:54:00:be:0c:01', model: 'virtio', network: { type: 'user' } }],
      rng: true,
      onReboot: 'destroy',
    },
    { timeoutMs: 30 * 60_000, onLine: (l) => c.add(l) },
  );
  if (run.result.kind !== 'poweroff') throw new Error(`tsvirt: ${run.explain()}`);
  return figures(c, (Date.now() - started) / 1000, 'tsvirt');
}

async function runQemu(kernel: string, initrd: string): Promise<Figures> {
  const started = Date.now();
  const disk = freshDisk('qemu.raw');
  const qemu = spawn('qemu-system-x86_64', [
    '-M', 'q35', '-accel', 'tcg', '-m', '256', '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 loglevel=4',
    '-serial', 'stdio',
    '-drive', `file=${disk},if=none,id=d0,format=raw,cache=writeback`, '-device', 'virtio-blk-pci,drive=d0,disable-legacy=on',
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:be:0c:02',
    '-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-pci,rng=rng0,disable-legacy=on',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c = new ConsoleLines();
  let err = '';
  qemu.stdout.on('data', (chunk: Buffer) => c.push(chunk.toString('latin1')));
  qemu.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => qemu.kill('SIGKILL'), 30 * 60_000);
  const code = await new Promise<number | null>((resolve) => qemu.on('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`QEMU exited ${code}: ${err}\n${c.lines.slice(-30).join('\n')}`);
  return figures(c, (Date.now() - started) / 1000, 'QEMU TCG');
}

const server = http.createServer((req, res) => {
  if (req.url !== '/blob') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-length': blob.length });
  res.end(blob);
});
try {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const { kernel, initrd } = buildVmCoreGuest(dir, init(port), { 'udhcpc.sh': UDHCPC_SCRIPT });
  const qemu = await runQemu(kernel, initrd);
  const ts = await runTsvirt(kernel, initrd);
  const row = (name: string, unit: string, a: number, b: number, higherIsBetter: boolean) =>
    `${name.padEnd(26)} tsvirt ${a.toFixed(2).padStart(8)} ${unit.padEnd(5)} QEMU TCG ${b.toFixed(2).padStart(8)} ${unit.padEnd(5)} tsvirt/QEMU ${(higherIsBetter ? a / b : b / a).toFixed(3)}`;
  console.log(`virtio guest bench: Debian ${path.basename(kernel)}, dd ${ddMiB} MiB on virtio-blk (raw, writeback), wget ${wgetMiB} MiB over virtio-net user networking`);
  console.log('(ratio is tsvirt speed / QEMU speed: 1.0 = as fast as QEMU TCG, below 1 = slower)');
  console.log('host-timed (console line to console line):');
  console.log(row('dd write (conv=fsync)', 'MiB/s', ts.ddWriteMiBs, qemu.ddWriteMiBs, true));
  console.log(row('dd read (after drop)', 'MiB/s', ts.ddReadMiBs, qemu.ddReadMiBs, true));
  console.log(row('wget from host', 'MiB/s', ts.wgetMiBs, qemu.wgetMiBs, true));
  console.log(row('guest clock: dd write', 'MiB/s', ts.guestClock.ddWriteMiBs, qemu.guestClock.ddWriteMiBs, true));
  console.log(row('guest clock: dd read', 'MiB/s', ts.guestClock.ddReadMiBs, qemu.guestClock.ddReadMiBs, true));
  console.log(row('guest clock: wget', 'MiB/s', ts.guestClock.wgetMiBs, qemu.guestClock.wgetMiBs, true));
  console.log(row('boot to /init (guest s)', 's', ts.bootToUserspaceS, qemu.bootToUserspaceS, false));
  console.log(row('whole run (host wall s)', 's', ts.wallS, qemu.wallS, false));
  console.log(`guest clocksource: tsvirt ${ts.clocksource}, QEMU TCG ${qemu.clocksource}; host load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  benchResult('virtio-guest', `dd write ${ddMiB} MiB virtio-blk (host-timed)`, ts.ddWriteMiBs, 'QEMU TCG', qemu.ddWriteMiBs, 'MiB/s', 'higher');
  benchResult('virtio-guest', `dd read ${ddMiB} MiB virtio-blk (host-timed)`, ts.ddReadMiBs, 'QEMU TCG', qemu.ddReadMiBs, 'MiB/s', 'higher');
  benchResult('virtio-guest', `wget ${wgetMiB} MiB virtio-net user NAT (host-timed)`, ts.wgetMiBs, 'QEMU TCG', qemu.wgetMiBs, 'MiB/s', 'higher');
  benchResult('virtio-guest', 'whole run, boot to poweroff (host wall)', ts.wallS, 'QEMU TCG', qemu.wallS, 's', 'lower');
} finally {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
