// virtio-blk under a real Linux driver before tsvirt's CPU can boot one: QEMU (TCG) runs
// Debian's kernel with a vhost-user-blk-pci device whose queue is served by this
// repository's Virtqueue and VirtioBlk (support/vhost-user-device.ts) on a qcow2 image opened
// by the storage layer. The guest mounts the ext4 file system the host made, reads a file,
// writes one, trims, syncs and powers off; then qemu-img check, e2fsck -fn and debugfs judge
// the image on the host. QEMU provides only the PCI transport here; the transport is
// covered by the device-level tests.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openImage } from '../../../../src/storage/open-image.js';
import { VirtioBlk } from '../../../../src/vm/devices/virtio/virtio-blk.js';
import { buildGuest, FIXTURES_MANIFEST, insmodLines, runGuest } from './support/linux-guest.js';
import { VhostUserDevice } from './support/vhost-user-device.js';

const MODULES = ['drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev', 'drivers/virtio/virtio_pci', 'drivers/block/virtio_blk'];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
${insmodLines(MODULES, 'VBLK')}
n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
echo "VBLK-SIZE $(cat /sys/block/vda/size)"
echo "VBLK-SERIAL $(cat /sys/block/vda/serial)"
mount -t ext4 /dev/vda /mnt && echo "VBLK-MOUNTED"
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

describe.runIf(fs.existsSync(FIXTURES_MANIFEST))('virtio-blk with the Linux virtio_blk driver (QEMU vhost-user)', () => {
  it('mounts the host-made ext4, reads, writes and trims; the qcow2 stays clean and holds the data', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vblk-linux-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { kernel, initrd } = buildGuest(dir, MODULES, INIT);

    // The disk: an ext4 made on the host with one file, as qcow2.
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'written by the host\n');
    const raw = path.join(dir, 'fs.raw');
    execFileSync('truncate', ['-s', '64M', raw]);
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', content, raw]);
    const image = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, image]);

    const opened = openImage(image, { readOnly: false });
    // Counts what reaches the image's discard, leaving the image itself to do the work.
    const disk = Object.assign(Object.create(opened) as typeof opened, {
      discards: 0,
      discard(offset: number, len: number) {
        disk.discards++;
        opened.discard(offset, len);
      },
    });
    const backend = new VhostUserDevice(path.join(dir, 'vu.sock'), dir, new VirtioBlk({ device: disk, serial: 'TSVIRT-LINUX-1', cache: 'writeback' }));
    cleanups.push(() => backend.close());
    const run = await runGuest({
      dir, kernel, initrd, backend, timeoutMs: 90_000,
      deviceArgs: ['-device', 'vhost-user-blk-pci,chardev=vu,num-queues=1,disable-legacy=on'],
    });
    disk.close();
    const failed = run.how !== 'hangup' || run.exit !== 0;
    expect({ how: run.how, exit: run.exit, errors: backend.stats.guestErrors, console: failed ? run.console : '', qemuErr: failed ? run.qemuErr : '' })
      .toEqual({ how: 'hangup', exit: 0, errors: [], console: '', qemuErr: '' });
    expect(run.console).not.toContain('INSMOD-FAILED');
    expect(run.line('VBLK-SIZE')).toBe(String((64 << 20) / 512));
    expect(run.line('VBLK-SERIAL')).toBe('TSVIRT-LINUX-1');
    expect(run.console).toContain('VBLK-MOUNTED');
    expect(run.line('VBLK-HELLO')).toBe('written by the host');
    expect(run.console).toContain('VBLK-UMOUNTED');
    expect(backend.stats.kicks).toBeGreaterThan(10);
    expect(backend.device.stats.writes).toBeGreaterThan(0);
    // ext4's FITRIM became DISCARD requests (virtio_blk sends them as multi-segment lists).
    expect(run.console).toContain('VBLK-TRIMMED');
    expect(disk.discards).toBeGreaterThan(0);

    // The host's verdict on what the guest wrote through the device.
    execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', image]);
    const back = path.join(dir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, back]);
    execFileSync('e2fsck', ['-fn', back], { stdio: 'ignore' });
    const out = path.join(dir, 'out.bin');
    execFileSync('debugfs', ['-R', `dump /out.bin ${out}`, back], { stdio: 'ignore' });
    expect(run.line('VBLK-SHA')?.split(/\s+/)[0]).toBe(createHash('sha256').update(fs.readFileSync(out)).digest('hex'));
    expect(fs.statSync(out).size).toBe(4 << 20);
  }, 180_000);
});
