// State paths, the definition store and `define`'s checks, without running anything:
// virt-install's own XML (the reference fixtures) defines where the VM core can run it
// and is refused by name where it cannot; what is stored passes virt-xml-validate.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeError } from '../../src/lib/errors.js';
import { DefinitionStore } from '../../src/lifecycle/definition-store.js';
import { defineDomain, dumpDomainXml, listDomains, setDomainAutostart, undefineDomain } from '../../src/lifecycle/domains.js';
import { checkDomainName, ensurePrivateDir, lifecyclePaths } from '../../src/lifecycle/state-paths.js';
import { validateDefinition } from '../../src/domain/validate-definition.js';
import { parseDomainXml } from '../../src/domain/xml/parse.js';
import { guestXml, makeSandbox } from './helpers.js';

const box = makeSandbox('tsvirt-def-');
afterAll(() => box.cleanup());
const REFS = new URL('../fixtures/virt-install/refs/', import.meta.url);

/** The last document of a virt-install reference (the installed system's definition). */
function reference(file: string): string {
  const text = fs.readFileSync(new URL(file, REFS), 'utf8').replaceAll('@DIR@', box.dir);
  const docs = text.split(/(?<=<\/domain>)/).map((s) => s.trim()).filter((s) => s !== '');
  return docs[docs.length - 1];
}

/** The one line the CLI would print after ERROR (message; hint). */
function errorLine(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return describeError(err);
  }
  throw new Error('expected an error');
}

function validate(xml: string): void {
  const f = box.file(`validate-${process.hrtime.bigint()}.xml`);
  fs.writeFileSync(f, xml);
  const r = spawnSync('virt-xml-validate', [f, 'domain'], { encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
}

describe('state paths', () => {
  it('root uses /run/tsvirt and /var/lib/tsvirt/domains', () => {
    expect(lifecyclePaths({ uid: 0, env: { XDG_RUNTIME_DIR: '/run/user/0' } })).toEqual({ stateDir: '/run/tsvirt', domainsDir: '/var/lib/tsvirt/domains' });
  });
  it('others use XDG_RUNTIME_DIR and XDG_DATA_HOME (env-paths: ~/.local/share), or a private /tmp dir with a note', () => {
    expect(lifecyclePaths({ uid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000', XDG_DATA_HOME: '/home/u/.data' } }))
      .toEqual({ stateDir: '/run/user/1000/tsvirt', domainsDir: '/home/u/.data/tsvirt/domains' });
    const p = lifecyclePaths({ uid: 1000, env: {} });
    expect(p.stateDir).toBe('/tmp/tsvirt-1000');
    expect(p.note).toMatch(/XDG_RUNTIME_DIR is not set: runtime state is kept in \/tmp\/tsvirt-1000/);
    // env-paths reads the real environment for the home-based default.
    if (!process.env.XDG_DATA_HOME) expect(p.domainsDir).toBe(join(homedir(), '.local/share/tsvirt/domains'));
  });
  it('TSVIRT_STATE_DIR and TSVIRT_DOMAINS_DIR override both', () => {
    expect(lifecyclePaths({ uid: 0, env: { TSVIRT_STATE_DIR: '/s', TSVIRT_DOMAINS_DIR: '/d' } })).toEqual({ stateDir: '/s', domainsDir: '/d' });
  });
  it('a private directory is created 0700 and one owned by someone else is refused', () => {
    const mine = box.file('private');
    ensurePrivateDir(mine);
    expect(fs.statSync(mine).mode & 0o777).toBe(0o700);
    fs.chmodSync(mine, 0o755);
    ensurePrivateDir(mine);
    expect(fs.statSync(mine).mode & 0o777).toBe(0o700);
    const planted = box.file('planted');
    fs.mkdirSync(planted);
    fs.chownSync(planted, 4242, 4242); // the tests run as root in CI and here
    expect(() => ensurePrivateDir(planted)).toThrow(/is not a directory owned by you/);
    fs.symlinkSync(mine, box.file('link'));
    expect(() => ensurePrivateDir(box.file('link'))).toThrow(/is not a directory owned by you/);
  });
  it.each(['../etc', 'a/b', '', '.hidden', 'x'.repeat(65), 'sp ace', 'semi;colon'])('refuses the domain name %j', (name) => {
    expect(() => checkDomainName(name)).toThrow(/invalid domain name/);
  });
});

describe('definition store', () => {
  it('define, dumpxml (virt-xml-validate), list --all, redefine; name and uuid clashes refused', () => {
    const uuid = '11111111-2222-3333-4444-555555555555';
    expect(defineDomain(box.paths, guestXml({ name: 'web', uuid, kernel: box.kernel }))).toEqual({ name: 'web', replaced: false, running: false });
    const xml = dumpDomainXml(box.paths, 'web');
    expect(xml).toContain(`<kernel>${box.kernel}</kernel>`);
    validate(xml);
    expect(fs.statSync(join(box.paths.domainsDir, 'web.xml')).mode & 0o777).toBe(0o600);
    expect(defineDomain(box.paths, guestXml({ name: 'web', uuid, kernel: box.kernel, memoryMiB: 64 })).replaced).toBe(true);
    expect(() => defineDomain(box.paths, guestXml({ name: 'web', kernel: box.kernel })))
      .toThrow(/domain 'web' already exists with uuid 11111111-2222-3333-4444-555555555555/);
    expect(() => defineDomain(box.paths, guestXml({ name: 'web2', uuid, kernel: box.kernel })))
      .toThrow(/domain 'web' is already defined with uuid/);
    expect(listDomains(box.paths, { all: true })).toEqual([{ name: 'web', state: 'shut off', pid: undefined, vcpus: 1, memoryKiB: 65536, persistent: true, autostart: false }]);
    expect(listDomains(box.paths, { all: false })).toEqual([]);
  });

  it('autostart is a link in autostart/, undefine removes both', () => {
    setDomainAutostart(box.paths, 'web', true);
    expect(fs.readlinkSync(join(box.paths.domainsDir, 'autostart', 'web.xml'))).toBe('../web.xml');
    expect(new DefinitionStore(box.paths.domainsDir).autostartNames()).toEqual(['web']);
    expect(listDomains(box.paths, { all: true })[0].autostart).toBe(true);
    setDomainAutostart(box.paths, 'web', false);
    expect(new DefinitionStore(box.paths.domainsDir).autostartNames()).toEqual([]);
    setDomainAutostart(box.paths, 'web', true);
    expect(undefineDomain(box.paths, 'web')).toEqual({ removed: [], kept: [], stillRunning: false });
    expect(fs.readdirSync(box.paths.domainsDir)).toEqual(['autostart']);
    expect(fs.readdirSync(join(box.paths.domainsDir, 'autostart'))).toEqual([]);
    expect(() => undefineDomain(box.paths, 'web')).toThrow(/failed to get domain 'web'/);
    expect(() => setDomainAutostart(box.paths, 'web', true)).toThrow(/failed to get domain 'web'/);
    expect(() => dumpDomainXml(box.paths, 'web')).toThrow(/failed to get domain 'web'/);
  });

  it('refuses XML that is not well-formed, has a hostile name, or two documents', () => {
    expect(() => defineDomain(box.paths, '<domain type="kvm"><name>x</name>')).toThrow(/domain XML: not well-formed/);
    expect(() => defineDomain(box.paths, guestXml({ name: '../../etc/passwd', kernel: box.kernel }))).toThrow(/invalid domain name '\.\.\/\.\.\/etc\/passwd'/);
    expect(() => defineDomain(box.paths, reference('location-dir.xml') + reference('location-dir.xml'))).toThrow(/expected one <domain> document, found 2/);
  });
});

describe('define validates as libvirt would, before anything is stored (issue 15)', () => {
  const disk = (dev: string, file: string, extra = '') => `<disk type="file" device="disk"><driver name="qemu" type="qcow2"/><source file="${file}"/><target dev="${dev}" bus="virtio"/>${extra}</disk>`;
  const nic = (mac: string) => `<interface type="user"><mac address="${mac}"/><model type="virtio"/></interface>`;
  const base = (o: { extraDevices?: string; memoryMiB?: number; name?: string; kernel?: string } = {}) => guestXml({ name: o.name ?? 'hostile', kernel: o.kernel ?? box.kernel, memoryMiB: o.memoryMiB, extraDevices: o.extraDevices });

  it.each([
    ['two disks with the same target', base({ extraDevices: disk('vdb', '/srv/a.qcow2') + disk('vdb', '/srv/b.qcow2') }), /disk target vdb is used twice \(\/srv\/a\.qcow2 and \/srv\/b\.qcow2\)/],
    ['the same image twice', base({ extraDevices: disk('vdb', '/srv/a.qcow2') + disk('vdc', '/srv/a.qcow2') }), /image \/srv\/a\.qcow2 is used by disks vdb and vdc/],
    ['a disk at /dev/sda', base({ extraDevices: disk('vdb', '/dev/sda') }), /disk vdb: image \/dev\/sda is not an image file/],
    ['a disk at /proc/self/mem', base({ extraDevices: disk('vdb', '/proc/self/mem') }), /image \/proc\/self\/mem is not an image file/],
    ['a relative kernel', base({ kernel: '../vmlinuz' }), /kernel \.\.\/vmlinuz is not an absolute path/],
    ['two NICs with one MAC', base({ extraDevices: nic('52:54:00:00:00:01') + nic('52:54:00:00:00:01') }), /interfaces 1 and 2 have the same MAC address 52:54:00:00:00:01/],
    ['a multicast MAC', base({ extraDevices: nic('01:00:5e:00:00:01') }), /MAC address 01:00:5e:00:00:01 is a multicast address/],
    ['100,000 vCPUs', base().replace('<vcpu>1</vcpu>', '<vcpu>100000</vcpu>'), /100000 vCPUs, outside 1\.\.255/],
    ['more memory than the host', base({ memoryMiB: 1024 * 1024 * 1024 }), /memory of \d+ KiB is more than this host has/],
    ['a name with a NUL character reference', base({ name: 'a&#0;b' }), /the character reference &#0; names a character XML does not allow/],
    ['400 disks', base({ extraDevices: Array.from({ length: 400 }, (_, i) => disk(`vd${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`, `/srv/d${i}.qcow2`)).join('') }), /400 disks, more than the limit of 32/],
  ])('%s: one error, nothing stored', (_what, xml, want) => {
    expect(errorLine(() => defineDomain(box.paths, xml))).toMatch(want);
    expect(new DefinitionStore(box.paths.domainsDir).has('hostile')).toBe(false);
  });

  it('a definition larger than 1 MiB is refused before it is parsed', () => {
    const huge = base({ extraDevices: `<!-- ${'x'.repeat(2 * 1024 * 1024)} -->` });
    expect(errorLine(() => defineDomain(box.paths, huge))).toMatch(/the definition is \d+ bytes, more than the limit of 1048576/);
  });

  it('read-only or shareable disks may share an image', () => {
    const img = box.file('shared.qcow2');
    const xml = base({ name: 'sharing', extraDevices: disk('vdb', img, '<readonly/>') + disk('vdc', img, '<readonly/>') });
    expect(() => validateDefinition(parseDomainXml(xml), { memoryBytes: 2 ** 40 })).not.toThrow();
  });
});

describe('define of virt-install output (test/fixtures/virt-install/refs)', () => {
  it.each(['graphics-none.xml', 'location-dir.xml', 'location-url.xml', 'serial-file.xml', 'serial-pty-console.xml', 'quoted-extra.xml', 'location-short.xml'])(
    '%s: defined; dumpxml passes virt-xml-validate',
    (file) => {
      const r = defineDomain(box.paths, reference(file));
      const xml = dumpDomainXml(box.paths, r.name);
      validate(xml);
      undefineDomain(box.paths, r.name);
    },
  );

  it.each([
    ['import-basic.xml', /domain 'imp1': <graphics type="spice"> is not supported by the tsvirt VM core; remove <graphics> \(virt-install --graphics none\)/],
    ['graphics-vnc.xml', /<graphics type="vnc"> is not supported/],
  ])('%s: refused by name', (file, message) => {
    expect(errorLine(() => defineDomain(box.paths, reference(file)))).toMatch(message);
  });

  // The same documents without their <graphics>: the next thing the VM core cannot run.
  const noGraphics = (file: string) => reference(file).replace(/<graphics[\s\S]*?<\/graphics>|<graphics[^>]*\/>/g, '');
  it.each([
    ['import-basic.xml', undefined],
    ['net-bridge.xml', undefined],
    ['newdisk-backing.xml', undefined],
    ['cdrom-basic.xml', /domain 'cd1': <disk device="cdrom"> \(sda\) is not supported by the tsvirt VM core; use device="disk" on the virtio bus/],
    ['cdrom-short.xml', /firmware boot from cdrom is not supported/],
    ['pxe-boot.xml', /firmware boot from network is not supported/],
    ['floppy.xml', /<disk device="floppy"> \(fda\)/],
    ['import-ide.xml', /<target dev="hda" bus="ide"> is not supported by the tsvirt VM core; use bus="virtio"/],
    ['import-scsi.xml', /<target dev="sda" bus="scsi">/],
    ['net-models.xml', /<interface> <model type="e1000e"> \([0-9a-f:]+\) is not supported/],
    ['net-network.xml', /<interface type="network"> \(libvirt network 'default'\) is not supported/],
  ])('%s without graphics: %s', (file, message) => {
    if (message) {
      expect(errorLine(() => defineDomain(box.paths, noGraphics(file)))).toMatch(message);
      return;
    }
    const r = defineDomain(box.paths, noGraphics(file));
    validate(dumpDomainXml(box.paths, r.name));
    undefineDomain(box.paths, r.name);
  });
});
