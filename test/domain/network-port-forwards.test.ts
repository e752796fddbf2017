// --network user,portForward...: the passt-style keys travel from the command line into the
// Domain, out as libvirt XML (<backend type="passt"/> and <portForward>, accepted by
// virt-xml-validate), back in from XML, and into the GuestNic the VM core's factory hands
// to openNetBackend as (host address, host port) -> guest port pairs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { split } from 'shlex';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDomainXml, planFromArgv, renderDomainXml } from '../../src/domain/index.js';
import { parseNetwork } from '../../src/domain/options/network.js';
import { machineConfigFor } from '../../src/install/guest-machine.js';
import { guestNics } from '../../src/lifecycle/domain-guest.js';
import { makeScratch } from './reference-fixtures.js';
import { errorOf } from '../support/error-text.js';

const scratch = makeScratch();
const dir = mkdtempSync(join(tmpdir(), 'tsvirt-pfwd-'));
afterAll(() => {
  scratch.cleanup();
  rmSync(dir, { recursive: true, force: true });
});
const env = { cwd: scratch.root, uid: 1000, home: scratch.root, host: { kvmDeviceUsable: false, cpuinfo: '' } };
const plan = (network: string) =>
  planFromArgv(split(scratch.substitute(`--name a --memory 1024 --import --disk @DIR@/disk.qcow2 --osinfo fedora37 --network '${network}'`)), env);


describe('--network portForward keys', () => {
  it('the shorthand and the indexed form become rules, in index order, beside the other keys', () => {
    expect(parseNetwork('user,model=virtio,portForward1=0.0.0.0:8000-8001:80/udp,portForward0=2222:22,mac=52:54:00:00:00:0a')).toEqual({
      type: 'user', source: undefined, model: 'virtio', mac: '52:54:00:00:00:0a', bootOrder: undefined,
      portForwards: [
        { proto: 'tcp', ranges: [{ start: 2222, to: 22 }] },
        { proto: 'udp', address: '0.0.0.0', ranges: [{ start: 8000, end: 8001, to: 80 }] },
      ],
    });
    expect(parseNetwork('user,portForward0.proto=tcp,portForward0.address=127.0.0.1,portForward0.range0.start=5000,portForward0.range0.end=5003,portForward0.range0.to=6000,portForward0.range1.start=5001,portForward0.range1.exclude=yes').valueOf()).toMatchObject({
      portForwards: [{ proto: 'tcp', address: '127.0.0.1', ranges: [{ start: 5000, end: 5003, to: 6000 }, { start: 5001, exclude: true }] }],
    });
    // Quoted values of the other keys survive the split.
    expect(parseNetwork("type='user',portForward=2222:22,model=\"virtio\"")).toMatchObject({ type: 'user', model: 'virtio' });
    expect(parseNetwork('user')).toEqual({ type: 'user', source: undefined, model: undefined, mac: undefined, bootOrder: undefined });
  });

  it.each([
    ['bridge=br0,portForward=2222:22', '--network bridge=br0,portForward=2222:22: portForward needs user networking'],
    ['user,portForward=22:x', '--network portForward=22:x: not a port forward'],
    ['user,portForward0.range0.start=99999', "--network portForward0.range0.start=99999: '99999' is not a port (1-65535)"],
    ['user,portForward0.dev=eth0,portForward0.range0.start=1', '--network portForward0.dev=eth0: binding a port forward to an interface is not supported yet'],
    ['user,portForwad=1', "Unknown --network options: 'portForwad'"],
  ])('%s is refused', (text, error) => {
    expect(errorOf(() => parseNetwork(text)).split('\n')[0]).toMatch(new RegExp(`^${error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('reaches the Domain, the XML (valid for libvirt) and back, and the GuestNic as expanded forwards', () => {
    const domain = plan('user,portForward=2222:22,portForward1.proto=udp,portForward1.range0.start=5353,portForward1.range0.end=5354').domain;
    expect(domain.devices.interfaces[0].portForwards).toEqual([
      { proto: 'tcp', ranges: [{ start: 2222, to: 22 }] },
      { proto: 'udp', ranges: [{ start: 5353, end: 5354 }] },
    ]);
    const xml = renderDomainXml(domain);
    expect(xml).toContain([
      '      <backend type="passt"/>',
      '      <portForward proto="tcp" address="127.0.0.1">',
      '        <range start="2222" to="22"/>',
      '      </portForward>',
      '      <portForward proto="udp" address="127.0.0.1">',
      '        <range start="5353" end="5354"/>',
      '      </portForward>',
    ].join('\n'));
    const file = join(dir, 'd.xml');
    writeFileSync(file, xml);
    execFileSync('virt-xml-validate', [file, 'domain'], { stdio: 'pipe' });

    const back = parseDomainXml(xml);
    // The listen address is explicit in the XML (libvirt's passt would otherwise use every address).
    expect(back.devices.interfaces[0].portForwards).toEqual([
      { proto: 'tcp', address: '127.0.0.1', ranges: [{ start: 2222, to: 22 }] },
      { proto: 'udp', address: '127.0.0.1', ranges: [{ start: 5353, end: 5354 }] },
    ]);
    const expected = [
      { proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
      { proto: 'udp', hostAddress: '127.0.0.1', hostPort: 5353, guestPort: 5353 },
      { proto: 'udp', hostAddress: '127.0.0.1', hostPort: 5354, guestPort: 5354 },
    ];
    for (const d of [domain, back]) {
      const nics = guestNics(d);
      expect(nics[0].network).toEqual({ type: 'user', portForwards: expected });
      // What the worker's virtioNetFromBackend receives (and passes to openNetBackend).
      const config = machineConfigFor({ memoryBytes: 1 << 26, vcpus: 1, kernel: '/k', cmdline: '', disks: [], nics, rng: false, onReboot: 'destroy' });
      expect(config.pciDevices?.find((p) => p.exportName === 'virtioNetFromBackend')?.options).toEqual({ mac: nics[0].mac, network: { type: 'user', portForwards: expected } });
    }
  });

  it('a NIC without forwards renders no <backend> and maps to an empty forward list', () => {
    const domain = plan('user').domain;
    expect(renderDomainXml(domain)).not.toContain('portForward');
    expect(renderDomainXml(domain)).not.toContain('<backend type="passt"');
    expect(guestNics(domain)[0].network).toEqual({ type: 'user', portForwards: [] });
  });

  it('hostile XML forwards are refused with the user error', () => {
    const xml = renderDomainXml(plan('user,portForward=2222:22').domain);
    expect(errorOf(() => parseDomainXml(xml.replace('start="2222"', 'start="70000"'))).split('\n')[0]).toContain("'70000' is not a port");
    expect(errorOf(() => parseDomainXml(xml.replace('proto="tcp"', 'proto="sctp"'))).split('\n')[0]).toContain("protocol 'sctp' is neither tcp nor udp");
    expect(errorOf(() => parseDomainXml(xml.replace('<range start="2222" to="22"/>', '')))).toContain('no port range');
  });
});
