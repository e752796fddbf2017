// virtio-net end to end at device level: a test IP stack (the one the user-NAT tests use)
// behind a virtio_net-style driver (support/virtio-link.ts), through the virtio-pci
// transport and the virtio-net device, into the real user-mode NAT and out to real
// servers on 127.0.0.1. DHCP, ARP, ping and a 10 MiB HTTP fetch with mergeable buffers and
// receive checksums verified by the device (GUEST_CSUM).

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtioNet } from '../../../../src/vm/devices/virtio/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../../src/vm/devices/virtio/virtio-device.js';
import { VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS } from '../../../../src/vm/devices/virtio/virtio-net.js';
import { USER_NET_GATEWAY, USER_NET_GATEWAY_MAC, USER_NET_GUEST, UserNetBackend } from '../../../../src/vm/net/user-net.js';
import { bigBody, startHttpServer } from '../../net/support/loopback-servers.js';
import { GUEST_MAC, TestGuest } from '../../net/support/test-guest.js';
import { GuestRam, VirtioGuestDriver } from './support/guest-driver.js';
import { VirtioLink } from './support/virtio-link.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bootNic() {
  const nat = await UserNetBackend.open({ dnsUpstream: null });
  cleanups.push(() => nat.close());
  const p = VirtioGuestDriver.platform(new GuestRam(8 << 20));
  const fn = createVirtioNet({ bus: p.bus, mem: p.ram.mem, irq: p.irq, msi: p.msi, backend: nat, mac: GUEST_MAC });
  const drv = new VirtioGuestDriver(fn, p.bus, p.ram, { msix: true });
  drv.start(2, VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_GUEST_CSUM);
  const mac = Uint8Array.from([0, 1, 2, 3, 4, 5].map((i) => drv.config(i, 1)));
  const link = new VirtioLink(drv, p.msi);
  const guest = new TestGuest(link, mac);
  return { nat, fn, link, guest };
}

describe('virtio-net with the user-mode NAT', () => {
  it('gets a DHCP lease, resolves the gateway and pings it', async () => {
    const { guest, fn } = await bootNic();
    const lease = await guest.dhcp();
    expect(lease.addr).toBe(USER_NET_GUEST);
    expect([...(await guest.arp(USER_NET_GATEWAY))]).toEqual([...USER_NET_GATEWAY_MAC]);
    guest.gatewayMac = USER_NET_GATEWAY_MAC;
    await guest.ping(USER_NET_GATEWAY, 1, Buffer.from('virtio ping'));
    expect(guest.violations).toEqual([]);
    expect(fn.needsReset).toBe(false);
    expect(fn.device.stats.rxDropped).toBe(0);
  });

  it('fetches a 10 MiB body from an HTTP server on 127.0.0.1 through 10.0.2.2 intact', async () => {
    const body = bigBody(10 * 1024 * 1024);
    const srv = await startHttpServer(body);
    cleanups.push(() => srv.close());
    const { guest, fn, link } = await bootNic();
    await guest.dhcp();
    guest.gatewayMac = await guest.arp(USER_NET_GATEWAY);
    const s = guest.connect(USER_NET_GATEWAY, srv.port);
    await s.until(() => s.state === 'established' || s.reset, 'connect');
    s.write(Buffer.from('GET /big HTTP/1.1\r\nHost: 10.0.2.2\r\nConnection: close\r\n\r\n'));
    await s.until(() => s.finReceived || s.reset, 'response', 60_000);
    const all = s.body();
    const got = all.subarray(all.indexOf('\r\n\r\n') + 4);
    expect(got.length).toBe(body.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(srv.sha256);
    expect(guest.violations).toEqual([]);
    expect(fn.needsReset).toBe(false);
    expect(fn.faults).toMatchObject({ guest: 0, memory: 0, internal: 0 });
    expect(fn.device.stats.rxFrames).toBeGreaterThan(7000);
    expect(link.framesIn).toBe(fn.device.stats.rxFrames);
    // Every TCP segment the NAT sent verified on the host and was marked DATA_VALID.
    expect(fn.device.stats.rxChecksumVerified).toBeGreaterThan(7000);
  });
});
