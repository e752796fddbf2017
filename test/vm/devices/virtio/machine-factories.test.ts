// The worker-side factories: plain options in, an opened (and locked) image or network
// backend owned by the device, released by close().

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsvirtError } from '../../../../src/lib/errors.js';
import { openImage } from '../../../../src/storage/open-image.js';
import { virtioBlkFromImage, virtioNetFromBackend, virtioRngFromHost } from '../../../../src/vm/devices/virtio/machine-factories.js';
import type { UserNetBackend } from '../../../../src/vm/net/user-net.js';
import { VirtioGuestDriver } from './support/guest-driver.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvirt-vfact-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function platform() {
  const p = VirtioGuestDriver.platform();
  return { p, platform: { bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi } };
}

describe('virtio machine factories', () => {
  it('virtioBlkFromImage opens and locks the image; close() releases it', () => {
    const image = path.join(dir, 'd.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '4M']);
    const { p, platform: pl } = platform();
    const fn = virtioBlkFromImage(pl, { path: image, serial: 'SER1', cache: 'none' });
    const drv = new VirtioGuestDriver(fn, p.bus, p.ram);
    expect(drv.config(0, 4)).toBe(8192);
    // A second writer is refused by the storage layer's lock while the guest has the disk.
    expect(() => openImage(image, { readOnly: false })).toThrow(TsvirtError);
    fn.close();
    expect(fn.barAddress).toBeNull();
    openImage(image, { readOnly: false }).close();
  });

  it('refuses a missing image and an unknown cache mode as user errors', () => {
    const { platform: pl } = platform();
    expect(() => virtioBlkFromImage(pl, { path: path.join(dir, 'nope.raw') })).toThrow(/does not exist/);
    const image = path.join(dir, 'd.raw');
    fs.writeFileSync(image, new Uint8Array(4096));
    expect(() => virtioBlkFromImage(pl, { path: image, cache: 'sometimes' as never })).toThrow(/unknown disk cache mode/);
    openImage(image, { readOnly: false }).close(); // nothing left locked
  });

  it('virtioNetFromBackend opens the user NAT with its port forwards; close() stops listening', async () => {
    const { p, platform: pl } = platform();
    const fn = await virtioNetFromBackend(pl, {
      mac: '52:54:00:ab:cd:ef',
      network: { type: 'user', portForwards: [{ proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 0, guestPort: 80 }] },
    });
    const drv = new VirtioGuestDriver(fn, p.bus, p.ram);
    expect([0, 1, 2, 3, 4, 5].map((i) => drv.config(i, 1))).toEqual([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    const nat = fn.device.backend as UserNetBackend;
    const port = nat.portForwards[0].boundPort;
    const connects = (): Promise<boolean> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    expect(await connects()).toBe(true);
    fn.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await connects()).toBe(false);
  });

  it('refuses malformed and multicast MACs before opening anything', async () => {
    const { platform: pl } = platform();
    await expect(virtioNetFromBackend(pl, { mac: '52:54:00:zz:00:01', network: { type: 'user' } })).rejects.toThrow(/bad MAC address/);
    await expect(virtioNetFromBackend(pl, { mac: '01:00:5e:00:00:01', network: { type: 'user' } })).rejects.toThrow(/multicast/);
  });

  it('virtioRngFromHost needs nothing but the platform', () => {
    const { platform: pl } = platform();
    expect(virtioRngFromHost(pl).configRead(2, 2)).toBe(0x1044);
  });
});
