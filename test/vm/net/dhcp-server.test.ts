// The DHCP server's answers message by message (RFC 2131 §4.3), and the host resolver
// lookup the DNS relay starts from.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DHCP_FIXED_BYTES, DHCP_FLAG_BROADCAST, DHCP_MAGIC_COOKIE, DHCP_OPT_LEASE_TIME, DHCP_OPT_MESSAGE_TYPE, DHCPACK, DHCPDECLINE,
  DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPREQUEST, DhcpServer, parseDhcp,
} from '../../../src/vm/net/dhcp-server.js';
import { hostDnsUpstream } from '../../../src/vm/net/host-resolver.js';
import { writeU16, writeU32 } from '../../../src/vm/net/ipv4.js';

const GUEST = 0x0a00020f;
const SERVER = 0x0a000202;
const server = new DhcpServer({ guestAddr: GUEST, serverAddr: SERVER, routerAddr: SERVER, dnsAddr: 0x0a000203, netmask: 0xffffff00, leaseSeconds: 3600 });

function message(type: number, opts: { flags?: number; ciaddr?: number; options?: number[] } = {}): Uint8Array {
  const m = new Uint8Array(300);
  m.set([1, 1, 6], 0);
  writeU32(m, 4, 0xdeadbeef);
  writeU16(m, 10, opts.flags ?? 0);
  writeU32(m, 12, opts.ciaddr ?? 0);
  m.set([0x52, 0x54, 0, 1, 2, 3], 28);
  writeU32(m, DHCP_FIXED_BYTES, DHCP_MAGIC_COOKIE);
  m.set([DHCP_OPT_MESSAGE_TYPE, 1, type, ...(opts.options ?? []), 255], DHCP_FIXED_BYTES + 4);
  return m;
}

function answer(payload: Uint8Array) {
  const r = server.handle(payload);
  if (typeof r === 'string') throw new Error(r);
  const msg = parseDhcp(r.payload);
  if (typeof msg === 'string') throw new Error(msg);
  return { ...r, msg, yiaddr: new DataView(r.payload.buffer).getUint32(16) };
}

describe('DHCP server', () => {
  it('offers and acknowledges the guest address, unicast unless the client asks for broadcast', () => {
    const offer = answer(message(DHCPDISCOVER));
    expect(offer).toMatchObject({ messageType: DHCPOFFER, yiaddr: GUEST, dstAddr: GUEST, broadcast: false });
    expect(offer.msg.xid).toBe(0xdeadbeef);
    expect(Array.from(offer.msg.options.get(DHCP_OPT_LEASE_TIME)!)).toEqual([0, 0, 0x0e, 0x10]);
    expect(answer(message(DHCPDISCOVER, { flags: DHCP_FLAG_BROADCAST }))).toMatchObject({ dstAddr: 0xffffffff, broadcast: true });
    const ack = answer(message(DHCPREQUEST, { options: [50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2] }));
    expect(ack).toMatchObject({ messageType: DHCPACK, yiaddr: GUEST });
    // Renewing (ciaddr set, no requested-IP option) is answered to the client's address.
    expect(answer(message(DHCPREQUEST, { ciaddr: GUEST }))).toMatchObject({ messageType: DHCPACK, dstAddr: GUEST, broadcast: false });
  });

  it('NAKs another address, ignores requests for another server, answers INFORM without a lease', () => {
    expect(answer(message(DHCPREQUEST, { options: [50, 4, 10, 0, 2, 99] }))).toMatchObject({ messageType: DHCPNAK, yiaddr: 0, broadcast: true });
    expect(server.handle(message(DHCPREQUEST, { options: [50, 4, 10, 0, 2, 15, 54, 4, 192, 168, 1, 1] }))).toBe('dhcp-request-for-other-server');
    const inform = answer(message(DHCPINFORM, { ciaddr: GUEST }));
    expect(inform).toMatchObject({ messageType: DHCPACK, yiaddr: 0, dstAddr: GUEST });
    expect(inform.msg.options.has(DHCP_OPT_LEASE_TIME)).toBe(false);
    expect(server.handle(message(DHCPDECLINE))).toBe('dhcp-no-reply-needed');
  });

  it('rejects malformed messages', () => {
    expect(server.handle(new Uint8Array(100))).toBe('dhcp-truncated');
    const noCookie = message(DHCPDISCOVER);
    noCookie[DHCP_FIXED_BYTES] = 0;
    expect(server.handle(noCookie)).toBe('dhcp-no-magic-cookie');
    const overrun = message(DHCPDISCOVER).subarray(0, DHCP_FIXED_BYTES + 10);
    overrun.set([12, 200], DHCP_FIXED_BYTES + 7);
    expect(server.handle(overrun)).toBe('dhcp-option-truncated');
    const reply = message(DHCPDISCOVER);
    reply[0] = 2;
    expect(server.handle(reply)).toBe('dhcp-not-request');
  });
});

describe('host resolver', () => {
  it('takes the first IPv4 nameserver of resolv.conf', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-resolv-'));
    try {
      const f = join(dir, 'resolv.conf');
      writeFileSync(f, '# comment\nsearch example\nnameserver fe80::1\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n');
      expect(hostDnsUpstream(f)).toEqual({ address: '192.0.2.53', port: 53 });
      writeFileSync(f, 'nameserver ::1\n');
      expect(hostDnsUpstream(f)).toBeNull();
      expect(hostDnsUpstream(join(dir, 'missing'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
