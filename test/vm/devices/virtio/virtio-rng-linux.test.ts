// virtio-rng under Linux's virtio-rng driver (hw_random), before tsvirt's CPU can boot a
// kernel: QEMU (TCG) with vhost-user-rng-pci, the ring served by this repository's
// Virtqueue and VirtioRng (support/vhost-user-device.ts). The guest selects the device as
// its hardware RNG and reads from /dev/hwrng.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtioRng } from '../../../../src/vm/devices/virtio/virtio-rng.js';
import { buildGuest, FIXTURES_MANIFEST, insmodLines, runGuest } from './support/linux-guest.js';
import { VhostUserDevice } from './support/vhost-user-device.js';

const MODULES = ['drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev', 'drivers/virtio/virtio_pci', 'drivers/char/hw_random/virtio-rng'];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
${insmodLines(MODULES, 'VRNG')}
sleep 1
echo "VRNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current)"
dd if=/dev/hwrng of=/tmp/r bs=4096 count=16 2>/dev/null
echo "VRNG-BYTES $(wc -c < /tmp/r)"
echo "VRNG-DISTINCT $(hexdump -v -e '1/1 "%02x\\n"' /tmp/r | sort -u | wc -l)"
echo "VRNG-DONE"
poweroff -f
`;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe.runIf(fs.existsSync(FIXTURES_MANIFEST))('virtio-rng with the Linux virtio-rng driver (QEMU vhost-user)', () => {
  it('becomes the guest hardware RNG and /dev/hwrng reads host randomness', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vrng-linux-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { kernel, initrd } = buildGuest(dir, MODULES, INIT);
    const backend = new VhostUserDevice(path.join(dir, 'vu.sock'), dir, new VirtioRng());
    cleanups.push(() => backend.close());
    const run = await runGuest({ dir, kernel, initrd, backend, timeoutMs: 90_000, deviceArgs: ['-device', 'vhost-user-rng-pci,chardev=vu'] });
    const failed = run.how !== 'hangup' || run.exit !== 0;
    expect({ how: run.how, exit: run.exit, errors: backend.stats.guestErrors, console: failed ? run.console : '', qemuErr: failed ? run.qemuErr : '' })
      .toEqual({ how: 'hangup', exit: 0, errors: [], console: '', qemuErr: '' });
    expect(run.console).not.toContain('INSMOD-FAILED');
    expect(run.line('VRNG-CURRENT')).toMatch(/^virtio_rng\.\d+$/);
    expect(run.line('VRNG-BYTES')).toBe('65536');
    expect(Number(run.line('VRNG-DISTINCT'))).toBe(256); // every byte value shows up in 64 KiB of random data
    expect(backend.device.bytesServed).toBeGreaterThanOrEqual(65536);
  }, 180_000);
});
