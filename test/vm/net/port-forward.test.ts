// The --network portForward grammar (virt-install's shorthand and indexed libvirt form).

import { describe, expect, it } from 'vitest';
import { TsvirtError } from '../../../src/lib/errors.js';
import {
  expandPortForwards, isPortForwardKey, parsePortForwardOptions, parsePortForwardShorthand,
} from '../../../src/vm/net/port-forward.js';

describe('portForward shorthand', () => {
  it.each([
    ['2222:22', { proto: 'tcp', ranges: [{ start: 2222, to: 22 }] }],
    ['8080', { proto: 'tcp', ranges: [{ start: 8080 }] }],
    ['7000-7002/udp', { proto: 'udp', ranges: [{ start: 7000, end: 7002 }] }],
    ['127.0.0.1:2222:22', { proto: 'tcp', address: '127.0.0.1', ranges: [{ start: 2222, to: 22 }] }],
    ['0.0.0.0:5000-5009:80/TCP', { proto: 'tcp', address: '0.0.0.0', ranges: [{ start: 5000, end: 5009, to: 80 }] }],
  ])('%s', (text, rule) => {
    expect(parsePortForwardShorthand(text)).toEqual(rule);
  });

  it.each([
    ['', /not a port forward/],
    ['0:22', /not a port/],
    ['70000', /not a port/],
    ['22:x', /not a port forward/],
    ['5000-4000', /below its start/],
    ['2222:22/sctp', /neither tcp nor udp/],
    ['65530-65535:65534', /past 65535/],
    ['300.1.1.1:22', /not an IPv4 address/],
    ['::1:22', /IPv6/],
    ['[::1]:2222:22', /IPv6/],
  ])('refuses %j', (text, message) => {
    expect(() => parsePortForwardShorthand(text)).toThrow(TsvirtError);
    expect(() => parsePortForwardShorthand(text)).toThrow(message);
  });
});

describe('portForward option keys', () => {
  it('recognises its keys only', () => {
    expect(['portForward', 'portForward0', 'portForward1.range0.to', 'portForward2.proto'].every(isPortForwardKey)).toBe(true);
    expect(['model', 'portforward', 'port', 'mac'].some(isPortForwardKey)).toBe(false);
  });

  it('parses the indexed libvirt form and the shorthand together, ignoring other keys', () => {
    const rules = parsePortForwardOptions([
      ['model', 'virtio'],
      ['portForward1', '127.0.0.1:2222:22'],
      ['portForward0.proto', 'tcp'],
      ['portForward0.address', '127.0.0.2'],
      ['portForward0.range0.start', '8000'],
      ['portForward0.range0.end', '8004'],
      ['portForward0.range0.to', '80'],
      ['portForward0.range1.start', '8002'],
      ['portForward0.range1.exclude', 'yes'],
    ]);
    expect(rules).toEqual([
      { proto: 'tcp', address: '127.0.0.2', ranges: [{ start: 8000, end: 8004, to: 80 }, { start: 8002, exclude: true }] },
      { proto: 'tcp', address: '127.0.0.1', ranges: [{ start: 2222, to: 22 }] },
    ]);
    expect(expandPortForwards(rules)).toEqual([
      { proto: 'tcp', hostAddress: '127.0.0.2', hostPort: 8000, guestPort: 80 },
      { proto: 'tcp', hostAddress: '127.0.0.2', hostPort: 8001, guestPort: 81 },
      { proto: 'tcp', hostAddress: '127.0.0.2', hostPort: 8003, guestPort: 83 },
      { proto: 'tcp', hostAddress: '127.0.0.2', hostPort: 8004, guestPort: 84 },
      { proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
    ]);
  });

  it('defaults to tcp on 127.0.0.1 with the same guest port', () => {
    expect(expandPortForwards(parsePortForwardOptions([['portForward', '8080']]))).toEqual([
      { proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 8080 },
    ]);
  });

  it.each([
    [[['portForward0.range0.end', '5']], /start is required/],
    [[['portForward0.proto', 'tcp']], /no port range/],
    [[['portForward0', '22'], ['portForward0.proto', 'tcp']], /not both/],
    [[['portForward0.dev', 'eth0'], ['portForward0.range0.start', '1']], /interface is not supported/],
    [[['portForward0.range0.bogus', '1']], /unknown port forward key/],
    [[['portForward0.range0.start', '1'], ['portForward0.range0.exclude', 'maybe']], /expected yes or no/],
    [[['portForward0.range0.start', '1'], ['portForward0.range0.exclude', 'yes'], ['portForward0.range0.to', '5']], /excluded range has no 'to'/],
  ] as Array<[Array<[string, string]>, RegExp]>)('refuses %j', (pairs, message) => {
    expect(() => parsePortForwardOptions(pairs)).toThrow(message);
  });

  it('refuses duplicates and oversized sets', () => {
    expect(() => expandPortForwards(parsePortForwardOptions([['portForward0', '22'], ['portForward1', '22:23']]))).toThrow(/forwarded twice/);
    expect(() => expandPortForwards(parsePortForwardOptions([['portForward', '1000-3000']]))).toThrow(/more than 1024/);
  });
});
