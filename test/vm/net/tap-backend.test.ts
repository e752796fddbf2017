// The bridge=BR backend in a network namespace the test creates: a bridge br0 with a veth
// pair whose far end (veth1, 192.168.77.1) is a real Linux host. The test guest behind the
// tap ARPs and pings it. Needs root (CI runs as root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsvirtError } from '../../../src/lib/errors.js';
import { TapBackend } from '../../../src/vm/net/tap-backend.js';
import { createTestNetns, ip, withoutNetAdmin, type TestNetns } from './support/netns.js';
import { TestGuest } from './support/test-guest.js';

const isRoot = process.getuid?.() === 0;
const VETH1_ADDR = 0xc0a84d01; // 192.168.77.1
const GUEST_ADDR = 0xc0a84d02; // 192.168.77.2

describe.skipIf(!isRoot)(isRoot ? 'TAP backend on a bridge' : 'TAP backend on a bridge (skipped: creating namespaces and taps needs root)', () => {
  let ns: TestNetns;
  beforeAll(() => {
    ns = createTestNetns();
  });
  afterAll(() => ns?.remove());

  it('attaches a tap to the bridge and carries ARP and ping to a host on the bridge', async () => {
    const tap = ns.inside(() => TapBackend.open({ bridge: 'br0' }));
    try {
      expect(ip('-n', ns.name, '-o', 'link', 'show', 'master', 'br0')).toContain(tap.ifname);
      expect(ip('-n', ns.name, '-o', 'link', 'show', tap.ifname)).toMatch(/[<,]UP[,>]/);
      const guest = new TestGuest(tap);
      guest.addr = GUEST_ADDR;
      guest.gatewayMac = await guest.arp(VETH1_ADDR);
      const veth1Mac = ip('-n', ns.peer, '-o', 'link', 'show', 'veth1').match(/link\/ether ([0-9a-f:]{17})/)![1];
      expect(Buffer.from(guest.gatewayMac).toString('hex').match(/../g)!.join(':')).toBe(veth1Mac);
      for (let seq = 1; seq <= 5; seq++) await guest.ping(VETH1_ADDR, seq, Buffer.from(`ping ${seq}`));
      expect(Buffer.from(guest.echoData.get(5)!).toString()).toBe('ping 5');
    } finally {
      tap.close();
    }
    // The tap goes away with its fd (closed once the waiting poll returns).
    for (let i = 0; i < 100 && ip('-n', ns.name, '-o', 'link', 'show').includes('tsvtap'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(ip('-n', ns.name, '-o', 'link', 'show')).not.toContain('tsvtap');
  });

  it('refuses a missing bridge and a device that is not a bridge', () => {
    expect(() => ns.inside(() => TapBackend.open({ bridge: 'nosuchbr0' }))).toThrow(/there is no interface named 'nosuchbr0'/);
    expect(() => ns.inside(() => TapBackend.open({ bridge: 'veth0' }))).toThrow(/'veth0' is not a bridge/);
    expect(() => ns.inside(() => TapBackend.open({ bridge: 'a/b' }))).toThrow(TsvirtError);
    // Nothing half-created is left behind.
    expect(ip('-n', ns.name, '-o', 'link', 'show')).not.toContain('tsvtap');
  });

  it('says CAP_NET_ADMIN is needed when it is missing', () => {
    let err: unknown;
    ns.inside(() => withoutNetAdmin(() => {
      try {
        TapBackend.open({ bridge: 'br0' }).close();
      } catch (e) {
        err = e;
      }
    }));
    expect(err).toBeInstanceOf(TsvirtError);
    expect((err as TsvirtError).message).toMatch(/needs CAP_NET_ADMIN/);
    expect((err as TsvirtError).hint).toMatch(/--network user/);
  });
});
