// libvirt XML: a Domain using every field renders to XML that virt-xml-validate accepts
// and parses back to the same Domain; hostile or unsupported documents are refused with
// the user's error.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDomainXml, parseDomainXmlDocuments, renderDomainXml, type Domain } from '../../src/domain/index.js';
import { describeError } from '../../src/lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvirt-xml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FULL: Domain = {
  type: 'qemu',
  name: 'every-field & <more>',
  uuid: '3e3fce45-4f53-4fa7-bb32-11f34168b82b',
  osinfo: 'http://debian.org/debian/12',
  memoryKiB: 4194304,
  currentMemoryKiB: 2097152,
  vcpusMax: 8,
  vcpusCurrent: 4,
  cpu: { mode: 'custom', model: 'Haswell', topology: { sockets: 2, dies: 1, cores: 2, threads: 2 } },
  os: { type: 'hvm', arch: 'i686', machine: 'pc', kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img', cmdline: 'console=ttyS0,115200n8 ks="a b"', bootOrder: [] },
  features: { acpi: true, apic: false, pae: true },
  clock: { offset: 'localtime', timers: [{ name: 'rtc', tickpolicy: 'catchup' }, { name: 'hpet', present: false }] },
  lifecycle: { onPoweroff: 'preserve', onReboot: 'destroy', onCrash: 'restart' },
  devices: {
    disks: [
      { device: 'disk', sourcePath: '/img/a.qcow2', format: 'qcow2', bus: 'virtio', targetDev: 'vda', readonly: false, shareable: false, cache: 'none', discardUnmap: true, serial: 'SER 1', bootOrder: 1, backingStore: { path: '/img/base.qcow2', format: 'qcow2' } },
      { device: 'disk', sourcePath: '/img/b.raw', format: 'raw', bus: 'scsi', targetDev: 'sda', readonly: true, shareable: true, discardUnmap: false },
      { device: 'cdrom', bus: 'ide', targetDev: 'hda', readonly: true, shareable: false, discardUnmap: false },
      { device: 'floppy', sourcePath: '/img/f.img', bus: 'fdc', targetDev: 'fda', readonly: false, shareable: false, discardUnmap: false },
    ],
    interfaces: [
      { type: 'user', mac: '52:54:00:00:00:01', model: 'e1000e', bootOrder: 2 },
      { type: 'bridge', source: 'br0', mac: '52:54:00:00:00:02', model: 'rtl8139' },
      { type: 'network', source: 'default', mac: '52:54:00:00:00:03', model: 'virtio' },
    ],
    serials: [{ type: 'pty' }, { type: 'file', path: '/var/log/s.log' }],
    consoles: [{ type: 'file', path: '/var/log/c.log' }],
    graphics: [{ type: 'vnc' }, { type: 'spice' }],
    rng: [{ model: 'virtio', backendPath: '/dev/urandom' }],
  },
};

function validate(xml: string): void {
  const file = join(dir, 'd.xml');
  writeFileSync(file, xml);
  execFileSync('virt-xml-validate', [file, 'domain'], { stdio: 'pipe' });
}

function errorOf(xml: string): string {
  try {
    parseDomainXml(xml);
  } catch (err) {
    return describeError(err);
  }
  return 'no error';
}

const MINIMAL = (inner: string, type = 'kvm') => `<domain type="${type}"><name>x</name><uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid><memory>1024</memory><vcpu>1</vcpu><os><type arch="x86_64" machine="q35">hvm</type></os>${inner}</domain>`;

describe('domain XML', () => {
  it('renders every field, validates, and parses back to the same Domain', () => {
    const xml = renderDomainXml(FULL);
    validate(xml);
    expect(parseDomainXml(xml)).toEqual({ ...FULL, devices: { ...FULL.devices, disks: FULL.devices.disks.map((d) => ({ ...d })) } });
    expect(renderDomainXml(parseDomainXml(xml))).toBe(xml);
    expect(xml).toContain('<name>every-field &amp; &lt;more&gt;</name>');
    expect(xml).toContain('<controller type="scsi" model="virtio-scsi"/>');
  });

  it('reads memory units and libvirt defaults', () => {
    const d = parseDomainXml(MINIMAL('<devices/>').replace('<memory>1024</memory>', '<memory unit="MiB">512</memory>'));
    expect([d.memoryKiB, d.currentMemoryKiB, d.vcpusCurrent, d.lifecycle, d.os.machine]).toEqual([524288, 524288, 1, { onPoweroff: 'destroy', onReboot: 'restart', onCrash: 'destroy' }, 'q35']);
  });

  it('splits concatenated documents and refuses several where one is expected', () => {
    const one = MINIMAL('<devices/>');
    expect(parseDomainXmlDocuments(`${one}\n${one}\n`)).toHaveLength(2);
    expect(errorOf(`${one}${one}`)).toBe('domain XML: expected one <domain> document, found 2; fix the XML or define the domain with tsvirt-install');
  });

  it.each([
    ['<domain type="kvm"><name>x</name>', /not well-formed/],
    [MINIMAL('<devices/>', 'xen'), /domain type 'xen' is not supported/],
    [MINIMAL('<devices><disk type="block" device="disk"><source dev="/dev/sda"/><target dev="vda"/></disk></devices>'), /disk type 'block' is not supported/],
    [MINIMAL('<devices><disk type="file" device="disk"><source file="rel.img"/><target dev="vda" bus="virtio"/></disk></devices>'), /disk source 'rel.img' is not an absolute path/],
    [MINIMAL('<devices><disk type="file" device="disk"><source file="/a.img"/><target dev="../x" bus="virtio"/></disk></devices>'), /disk target dev '..\/x' is not supported/],
    [MINIMAL('<devices><disk type="file" device="disk"><source file="/a.img"/><backingStore type="file"><format type="qcow2"/><source file="b.img"/></backingStore><target dev="vda" bus="virtio"/></disk></devices>'), /backingStore source 'b.img' is not an absolute path/],
    [MINIMAL('<devices><disk type="file" device="disk"><source file="/a.img"/><backingStore type="file"><source file="/b.img"/></backingStore><target dev="vda" bus="virtio"/></disk></devices>'), /backingStore format '' is not supported/],
    [MINIMAL('<devices><disk type="file" device="disk"><source file="/a.img"/><backingStore type="file"><format type="qcow2"/><source file="/b.img"/><backingStore type="file"><format type="raw"/><source file="/c.img"/></backingStore></backingStore><target dev="vda" bus="virtio"/></disk></devices>'), /deeper than one level is not supported yet/],
    [MINIMAL('<devices><interface type="direct"><mac address="52:54:00:00:00:01"/></interface></devices>'), /interface type 'direct' is not supported/],
    [MINIMAL('<devices><interface type="user"><mac address="zz"/></interface></devices>'), /interface MAC 'zz' is missing or invalid/],
    [MINIMAL('<devices><serial type="tcp"/></devices>'), /serial type 'tcp' is not supported/],
    [MINIMAL('<devices/>').replace('<vcpu>1</vcpu>', '<vcpu>0</vcpu>'), /<vcpu> '0' is not a positive integer/],
    [MINIMAL('<devices/>').replace('<memory>1024</memory>', '<memory unit="furlong">1</memory>'), /<memory> unit 'furlong' is not supported/],
    [MINIMAL('<devices/>').replace('<memory>1024</memory>', '<memory>-5</memory>'), /<memory> '-5' is not a positive integer/],
    [MINIMAL('<devices/>').replace('hvm', 'xen'), /os type 'xen' is not supported/],
    [MINIMAL('<devices/>').replace('machine="q35"', 'machine="virt"'), /machine 'virt' is not supported/],
    [MINIMAL('<devices/>').replace('<name>x</name>', ''), /no <name>/],
    [MINIMAL('<devices><rng model="virtio"><backend model="random">/etc/shadow</backend></rng></devices>'), /only a virtio rng fed from \/dev\/urandom/],
  ])('refuses %s', (xml, message) => {
    expect(errorOf(xml)).toMatch(message);
  });
});
