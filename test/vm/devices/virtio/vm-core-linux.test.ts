// The virtio devices under Linux on tsvirt's own VM core (issue 7 "Show"): Debian's generic
// amd64 kernel with its virtio modules, booted once through the production path
// (GuestSpec -> machineConfigFor -> runMachine, the factories of machine-factories.ts in
// the worker) with four virtio-blk disks (raw, qcow2, qcow2 over a raw backing file, and a
// read-only raw; cache none, writethrough, writeback, directsync), a virtio-net on the user
// NAT with an inbound port forward (written as `--network user,portForward=HOST:GUEST`), and
// a virtio-rng. One boot carries every check because a boot on the software CPU takes
// minutes. The guest script bounds each phase with `timeout` and prints one tagged line per
// fact; the host judges the images afterwards with qemu-img check, e2fsck -fn and debugfs.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNetwork } from '../../../../src/domain/options/network.js';
import type { GuestDisk, GuestSpec } from '../../../../src/install/guest-machine.js';
import { expandPortForwards, type PortForward } from '../../../../src/vm/net/port-forward.js';
import { fixtures } from '../../../support/fixtures.js';
import { buildVmCoreGuest, loadModulesLines, runOnVmCoreCapturing, UDHCPC_SCRIPT, type VmCoreRun } from './support/vm-core-guest.js';

const MiB = 1 << 20;
const DISK_BYTES = 32 * MiB;
const BLOB_BYTES = 10 * MiB;
const GUEST_HTTP_PORT = 8080;
const TOKEN = `tsvirt-forward-${randomBytes(6).toString('hex')}`;
const WRITABLE = ['TSV-RAW', 'TSV-QCOW2', 'TSV-OVERLAY'];


function guestInit(httpPort: number): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
t() { echo "E2E-T $1 $(cut -d' ' -f1 /proc/uptime)"; }
t userspace
${loadModulesLines('E2E')}
t modules

# virtio-rng: the kernel picks it as the current hw_random source; /dev/hwrng reads.
n=0; while [ ! -c /dev/hwrng ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
echo "E2E-RNG $(cat /sys/class/misc/hw_random/rng_current) $(timeout -s KILL 120 dd if=/dev/hwrng bs=1024 count=16 2>/dev/null | wc -c)"

# virtio-blk: four disks, found by serial (probe order is not the contract).
n=0; while [ "$(ls /sys/block | grep -c '^vd')" -lt 4 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
for d in /sys/block/vd*; do echo "E2E-DISK $(cat $d/serial) \${d##*/} $(cat $d/size) $(cat $d/ro)"; done
dev_of() { for d in /sys/block/vd*; do [ "$(cat $d/serial)" = "$1" ] && echo "/dev/\${d##*/}"; done; }
fill() {
  dev=$(dev_of "$1")
  [ -n "$dev" ] || { echo "E2E-FILL-FAILED $1 no device"; return; }
  timeout -s KILL 600 mke2fs -b 1024 "$dev" >/tmp/mkfs.log 2>&1 || { echo "E2E-FILL-FAILED $1 mke2fs"; tail -3 /tmp/mkfs.log; return; }
  mount -t ext2 "$dev" /mnt || { echo "E2E-FILL-FAILED $1 mount"; return; }
  dd if=/dev/urandom of=/mnt/data.bin bs=64k count=24 2>/dev/null
  echo "written through $1" > /mnt/hello.txt
  echo "E2E-SHA $1 $(sha256sum /mnt/data.bin | cut -d' ' -f1)"
  sync; umount /mnt && echo "E2E-FILLED $1"
}
${WRITABLE.map((s) => `fill ${s}`).join('\n')}
t disks-filled
ro=$(dev_of TSV-RO)
echo "E2E-RO-SHA $(dd if=$ro bs=64k count=16 2>/dev/null | sha256sum | cut -d' ' -f1)"
if dd if=/dev/zero of=$ro bs=4096 count=1 conv=fsync 2>/dev/null; then echo "E2E-RO-WRITE accepted"; else echo "E2E-RO-WRITE refused"; fi
sync

# virtio-net on the user NAT: DHCP, a download from the host, an inbound forward.
t disks-done
ip link set lo up; ip link set eth0 up
timeout -s KILL 180 udhcpc -i eth0 -f -q -n -t 10 -T 3 -s /udhcpc.sh >/dev/null 2>&1 || echo "E2E-DHCP-FAILED"
echo "E2E-IP $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
echo "E2E-ROUTE $(ip route | awk '/^default/ {print $3}')"
t dhcp-done
if timeout -s KILL 900 wget -q -O /tmp/blob http://10.0.2.2:${httpPort}/blob; then
  echo "E2E-WGET $(wc -c < /tmp/blob) $(sha256sum /tmp/blob | cut -d' ' -f1)"
else echo "E2E-WGET failed"; fi
t wget-done
rm -f /tmp/blob
mkdir -p /www; echo "${TOKEN}" > /www/token
httpd -p ${GUEST_HTTP_PORT} -h /www
# The host fetches /token through the forward when this request arrives and answers with what it got.
timeout -s KILL 300 wget -q -O /tmp/fwd http://10.0.2.2:${httpPort}/forward-check && echo "E2E-FORWARD $(cat /tmp/fwd)" || echo "E2E-FORWARD failed"
t forward-done
echo "E2E-CLOCKSOURCE $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "E2E-DONE"
poweroff -f
`;
}

/** A host TCP port free right now (bound and released) for the forward's listening side. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:port/path, retried until the deadline (the forward may answer RST while httpd starts). */
async function fetchThroughForward(port: number, deadline: number): Promise<string> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/token`, { signal: AbortSignal.timeout(60_000) });
      const body = (await res.text()).trim();
      if (res.ok) return body;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return `no answer (${last})`;
}

/** The forwards as `--network OPTION` produces them for the VM core (what guestNics hands over). */
function forwardsFromOption(option: string): PortForward[] {
  const spec = parseNetwork(option);
  if (spec === 'none' || !spec.portForwards) throw new Error(`--network ${option} has no port forward`);
  return expandPortForwards(spec.portForwards);
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const fx = fs.existsSync(new URL('../../../fixtures/cache/manifest.env', import.meta.url)) ? fixtures() : {};

describe.runIf(fx.KERNEL_AMD64 && fx.MODULES_AMD64)('virtio under Linux on the VM core (one boot)', () => {
  let dir: string;
  let server: http.Server;
  let run: VmCoreRun;
  let forwardSeen = '';
  const blob = randomBytes(BLOB_BYTES);
  const images: Record<string, string> = {};
  let backingSha = '';
  let roSha = '';
  let roHeadSha = '';
  let bootSeconds = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vmcore-virtio-'));
    const hostPort = await freePort();
    server = http.createServer((req, res) => {
      if (req.url === '/blob') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
        res.end(blob);
      } else if (req.url === '/forward-check') {
        void fetchThroughForward(hostPort, Date.now() + 240_000).then((body) => {
          forwardSeen = body;
          res.end(`${body}\n`);
        });
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const httpPort = (server.address() as net.AddressInfo).port;

    images.raw = path.join(dir, 'raw.img');
    fs.writeFileSync(images.raw, new Uint8Array(0));
    fs.truncateSync(images.raw, DISK_BYTES);
    images.qcow2 = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', images.qcow2, String(DISK_BYTES)]);
    // The backing file carries data the overlay's guest-made file system must not change on disk.
    images.backing = path.join(dir, 'backing.raw');
    fs.writeFileSync(images.backing, Buffer.concat([randomBytes(4 * MiB), Buffer.alloc(DISK_BYTES - 4 * MiB)]));
    backingSha = sha256(fs.readFileSync(images.backing));
    images.overlay = path.join(dir, 'overlay.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', images.backing, '-F', 'raw', images.overlay]);
    images.ro = path.join(dir, 'ro.raw');
    fs.writeFileSync(images.ro, randomBytes(8 * MiB));
    roSha = sha256(fs.readFileSync(images.ro));
    roHeadSha = sha256(fs.readFileSync(images.ro).subarray(0, MiB));

    const { kernel, initrd } = buildVmCoreGuest(dir, guestInit(httpPort), { 'udhcpc.sh': UDHCPC_SCRIPT });
    // Each disk with another cache= mode, so each flush policy carries a file system.
    const disk = (p: string, format: 'raw' | 'qcow2', serial: string, target: string, cache: string, readOnly = false): GuestDisk => ({
      path: p, format, serial, readOnly, target, bus: 'virtio', device: 'disk', cache,
    });
    const spec: GuestSpec = {
      memoryBytes: 256 * MiB,
      vcpus: 1,
      kernel,
      initrd,
      // cryptomgr.notests: the kernel's crypto self-tests are most of a boot on the software CPU and test nothing here.
      cmdline: 'console=ttyS0 panic=-1 loglevel=4 cryptomgr.notests',
      disks: [
        disk(images.raw, 'raw', 'TSV-RAW', 'vda', 'none'),
        disk(images.qcow2, 'qcow2', 'TSV-QCOW2', 'vdb', 'writethrough'),
        disk(images.overlay, 'qcow2', 'TSV-OVERLAY', 'vdc', 'writeback'),
        disk(images.ro, 'raw', 'TSV-RO', 'vdd', 'directsync', true),
      ],
      nics: [{
        mac: '52:54:00:e2:e0:01',
        model: 'virtio',
        network: { type: 'user', portForwards: forwardsFromOption(`user,portForward=${hostPort}:${GUEST_HTTP_PORT}`) },
      }],
      rng: true,
      onReboot: 'destroy',
    };
    const started = Date.now();
    run = await runOnVmCoreCapturing(spec, { timeoutMs: 25 * 60_000, serialLogPath: path.join(dir, 'serial.log') });
    bootSeconds = (Date.now() - started) / 1000;
    // Seen in the test log: how long the one boot took on this machine (not asserted).
    console.log(`virtio E2E boot on the VM core: ${bootSeconds.toFixed(0)} s; guest uptime at each phase: ${run.lines('E2E-T').join(', ')}; clocksource ${run.line('E2E-CLOCKSOURCE')}`);
  }, 27 * 60_000);

  afterAll(() => {
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('boots, loads the virtio modules and powers off', () => {
    expect(run.result.kind, run.explain()).toBe('poweroff');
    expect(run.console, run.explain()).toContain('E2E-DONE');
    expect(run.lines('E2E-INSMOD-FAILED'), run.explain()).toEqual([]);
  });

  it('virtio-rng is the current hw_random source and /dev/hwrng reads', () => {
    expect(run.line('E2E-RNG'), run.explain()).toMatch(/^virtio_rng\.\d+ 16384$/);
  });

  it('shows each disk with its serial, size and read-only flag', () => {
    const disks = Object.fromEntries(run.lines('E2E-DISK').map((l) => {
      const [serial, , sectors, ro] = l.split(/\s+/);
      return [serial, { sectors: Number(sectors), ro: ro === '1' }];
    }));
    const sectors = DISK_BYTES / 512;
    expect(disks, run.explain()).toEqual({
      'TSV-RAW': { sectors, ro: false },
      'TSV-QCOW2': { sectors, ro: false },
      'TSV-OVERLAY': { sectors, ro: false },
      'TSV-RO': { sectors: (8 * MiB) / 512, ro: true },
    });
  });

  it('the guest-made ext2 file systems are clean and hold the guest files; qcow2 images check clean', () => {
    expect(run.lines('E2E-FILL-FAILED'), run.explain()).toEqual([]);
    const shas = Object.fromEntries(run.lines('E2E-SHA').map((l) => l.split(/\s+/)));
    const asRaw = (image: string, name: string, format: 'raw' | 'qcow2') => {
      if (format === 'raw') return image;
      execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', image]);
      const out = path.join(dir, `${name}.check.raw`);
      execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, out]);
      return out;
    };
    const cases: Array<[string, string, 'raw' | 'qcow2']> = [['TSV-RAW', images.raw, 'raw'], ['TSV-QCOW2', images.qcow2, 'qcow2'], ['TSV-OVERLAY', images.overlay, 'qcow2']];
    for (const [serial, image, format] of cases) {
      expect(run.lines('E2E-FILLED'), run.explain()).toContain(serial);
      const raw = asRaw(image, serial, format);
      execFileSync('e2fsck', ['-fn', raw], { stdio: 'ignore' });
      const data = path.join(dir, `${serial}.data.bin`);
      const hello = path.join(dir, `${serial}.hello.txt`);
      execFileSync('debugfs', ['-R', `dump /data.bin ${data}`, raw], { stdio: 'ignore' });
      execFileSync('debugfs', ['-R', `dump /hello.txt ${hello}`, raw], { stdio: 'ignore' });
      expect(fs.statSync(data).size).toBe(24 * 64 * 1024);
      expect({ serial, sha: sha256(fs.readFileSync(data)) }).toEqual({ serial, sha: shas[serial] });
      expect(fs.readFileSync(hello, 'utf8')).toBe(`written through ${serial}\n`);
    }
    // The overlay took every write: its backing file is byte for byte what it was.
    expect(sha256(fs.readFileSync(images.backing))).toBe(backingSha);
  });

  it('the read-only disk reads its data and refuses writes (VIRTIO_BLK_F_RO)', () => {
    expect(run.line('E2E-RO-SHA'), run.explain()).toBe(roHeadSha);
    expect(run.line('E2E-RO-WRITE'), run.explain()).toBe('refused');
    expect(sha256(fs.readFileSync(images.ro))).toBe(roSha);
  });

  it('virtio-net: DHCP lease 10.0.2.15, a 10 MiB download from the host, an inbound port forward', () => {
    expect(run.line('E2E-IP'), run.explain()).toBe('10.0.2.15/24');
    expect(run.line('E2E-ROUTE'), run.explain()).toBe('10.0.2.2');
    expect(run.line('E2E-WGET'), run.explain()).toBe(`${BLOB_BYTES} ${sha256(blob)}`);
    expect(forwardSeen, run.explain()).toBe(TOKEN);
    expect(run.line('E2E-FORWARD'), run.explain()).toBe(TOKEN);
  });
});
