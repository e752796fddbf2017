// virtio-blk under a real Linux driver before tsvirt's CPU can boot one: QEMU (TCG) runs
// Debian's kernel with a vhost-user-blk-pci device whose queue is served by this
// repository's Virtqueue and VirtioBlk (support/vhost-user-device.ts) on a qcow2 image opened
// by the storage layer. The guest mounts the ext4 file system the host made, reads a file,
// writes one, trims, syncs and powers off; then qemu-img check, e2fsck -fn and debugfs judge the
// image on the host. QEMU provides only the PCI transport here; the transport is covered
// by the device-level tests.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openImage } from '../../../../src/storage/open-image.js';
import { VirtioBlk } from '../../../../src/vm/devices/virtio/virtio-blk.js';
import { VhostUserDevice } from './support/vhost-user-device.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/cache');
const MANIFEST = path.join(FIXTURES, 'manifest.env');

function manifest(): Record<string, string> {
  return Object.fromEntries(
    fs.readFileSync(MANIFEST, 'utf8').split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko || echo "VBLK-INSMOD-FAILED $m"
done
n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
echo "VBLK-SIZE $(cat /sys/block/vda/size)"
echo "VBLK-SERIAL $(cat /sys/block/vda/serial)"
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo "VBLK-MOUNTED"
echo "VBLK-HELLO $(cat /mnt/hello.txt)"
dd if=/dev/urandom of=/mnt/out.bin bs=64k count=64 2>/dev/null
echo "VBLK-SHA $(sha256sum /mnt/out.bin)"
dd if=/dev/zero of=/mnt/gone.bin bs=64k count=64 2>/dev/null; sync; rm /mnt/gone.bin; sync
fstrim -v /mnt && echo "VBLK-TRIMMED"
sync; umount /mnt && echo "VBLK-UMOUNTED"
echo "VBLK-DONE"
poweroff -f
`;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const haveFixtures = fs.existsSync(MANIFEST);

describe.runIf(haveFixtures)('virtio-blk with the Linux virtio_blk driver (QEMU vhost-user)', () => {
  it('mounts the host-made ext4, reads and writes files; the qcow2 stays clean and holds the data', async () => {
    const m = manifest();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vblk-linux-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    // The cloud kernel's package tree: boot/vmlinuz-* and lib/modules/<version>/kernel.
    const kernelRoot = path.dirname(path.dirname(m.KERNEL_CLOUD_AMD64));
    const version = fs.readdirSync(path.join(kernelRoot, 'lib/modules'))[0];
    const modDir = path.join(kernelRoot, 'lib/modules', version, 'kernel');
    const busybox = path.join(fs.readdirSync(path.join(FIXTURES, 'root')).map((d) => path.join(FIXTURES, 'root', d)).find((d) => /busybox-static.*amd64$/.test(d))!, 'bin/busybox');

    // The initramfs: busybox, the virtio modules in dependency order, the script above.
    const root = path.join(dir, 'root');
    for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync(busybox, path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    for (const mod of ['virtio/virtio_ring', 'virtio/virtio', 'virtio/virtio_pci_modern_dev', 'virtio/virtio_pci_legacy_dev', 'virtio/virtio_pci', 'block/virtio_blk']) {
      fs.copyFileSync(path.join(modDir, 'drivers', `${mod}.ko`), path.join(root, 'lib/modules', `${path.basename(mod)}.ko`));
    }
    fs.writeFileSync(path.join(root, 'init'), INIT, { mode: 0o755 });
    const initrd = path.join(dir, 'initrd.cpio');
    execFileSync('sh', ['-c', `cd "${root}" && find . | cpio -o -H newc --quiet > "${initrd}"`]);

    // The disk: an ext4 made on the host with one file, as qcow2.
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'written by the host\n');
    const raw = path.join(dir, 'fs.raw');
    execFileSync('truncate', ['-s', '64M', raw]);
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', content, raw]);
    const image = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, image]);

    const image0 = openImage(image, { readOnly: false });
    // Counts what reaches the image's discard, leaving the image itself to do the work.
    const disk = Object.assign(Object.create(image0) as typeof image0, {
      discards: 0,
      discard(offset: number, len: number) {
        disk.discards++;
        image0.discard(offset, len);
      },
    });
    const sock = path.join(dir, 'vu.sock');
    const backend = new VhostUserDevice(sock, dir, new VirtioBlk({ device: disk, serial: 'TSVIRT-LINUX-1', cache: 'writeback' }));
    cleanups.push(() => backend.close());
    const serialLog = path.join(dir, 'serial.log');
    const qemu = spawn('qemu-system-x86_64', [
      '-M', 'q35', '-accel', 'tcg', '-m', '256', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem',
      '-kernel', m.KERNEL_CLOUD_AMD64, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1',
      '-serial', `file:${serialLog}`,
      '-chardev', `socket,id=vu,path=${sock}`, '-device', 'vhost-user-blk-pci,chardev=vu,num-queues=1,disable-legacy=on',
    ], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'qemu.err'), 'w')] });
    const exited = new Promise<number | null>((resolve) => qemu.on('exit', resolve));
    cleanups.push(() => qemu.kill('SIGKILL'));

    // Serves the ring until QEMU hangs up (the guest powered off).
    const how = await backend.run(Date.now() + 90_000);
    if (how !== 'hangup') qemu.kill('SIGKILL');
    const code = await exited;
    disk.close();
    const console = fs.existsSync(serialLog) ? fs.readFileSync(serialLog, 'utf8') : '';
    const line = (tag: string) => console.split('\n').find((l) => l.startsWith(tag))?.slice(tag.length + 1).trim();
    const qemuErr = fs.readFileSync(path.join(dir, 'qemu.err'), 'utf8');
    const failed = how !== 'hangup' || code !== 0;
    expect({ how, code, errors: backend.stats.guestErrors, console: failed ? console : '', qemuErr: failed ? qemuErr : '' }).toEqual({ how: 'hangup', code: 0, errors: [], console: '', qemuErr: '' });
    expect(line('VBLK-SIZE')).toBe(String((64 << 20) / 512));
    expect(line('VBLK-SERIAL')).toBe('TSVIRT-LINUX-1');
    expect(console).toContain('VBLK-MOUNTED');
    expect(line('VBLK-HELLO')).toBe('written by the host');
    expect(console).toContain('VBLK-UMOUNTED');
    expect(console).not.toContain('INSMOD-FAILED');
    expect(backend.stats.kicks).toBeGreaterThan(10);
    expect(backend.device.stats.writes).toBeGreaterThan(0);
    // ext4's FITRIM became DISCARD requests (virtio_blk sends them as multi-segment lists).
    expect(console).toContain('VBLK-TRIMMED');
    expect(disk.discards).toBeGreaterThan(0);

    // The host's verdict on what the guest wrote through the device.
    execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', image]);
    const back = path.join(dir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, back]);
    execFileSync('e2fsck', ['-fn', back], { stdio: 'ignore' });
    const out = path.join(dir, 'out.bin');
    execFileSync('debugfs', ['-R', `dump /out.bin ${out}`, back], { stdio: 'ignore' });
    const sha = createHash('sha256').update(fs.readFileSync(out)).digest('hex');
    expect(line('VBLK-SHA')?.split(/\s+/)[0]).toBe(sha);
    expect(fs.statSync(out).size).toBe(4 << 20);
  }, 180_000);
});
