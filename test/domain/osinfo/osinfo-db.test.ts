// The osinfo-db reader on small hand-written databases: libosinfo's location order and
// overrides, relations (devices, resources, kernel-url-argument), the JSON cache and when
// it is rebuilt, and the one error a missing or damaged database gives. The real
// database's answers are compared with virt-install's in ../os-variants.test.ts.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOsVariant, formatOsVariantList } from '../../../src/domain/os-variants.js';
import { defaultOsinfoLocations, loadOsinfo, type OsinfoLocations } from '../../../src/domain/osinfo/osinfo-db.js';
import { kernelUrlArgument, resolvedResources, supportedDevices } from '../../../src/domain/osinfo/os-facts.js';
import { errorOf } from '../../support/error-text.js';

let root: string;
let locations: OsinfoLocations;
let cacheFile: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tsvirt-osinfo-'));
  locations = { system: join(root, 'share'), local: join(root, 'etc'), user: join(root, 'user') };
  cacheFile = join(root, 'cache', 'osinfo-db.json');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `<?xml version="1.0"?>\n<libosinfo version="0.0.1">\n${body}\n</libosinfo>\n`);
}

const GIB = 2 ** 30;
const PARENT = `<os id="http://example.org/distro/1">
  <short-id>distro1</short-id><short-id>distroone</short-id>
  <name>Distro 1</name><name xml:lang="de">Distro Eins</name>
  <version>1</version><vendor>Example</vendor><family>linux</family><distro>fedora</distro>
  <kernel-url-argument>inst.repo</kernel-url-argument>
  <devices>
    <device id="http://pcisig.com/pci/1af4/1001"/>
    <device id="http://pcisig.com/pci/1af4/1000"/>
    <device id="http://pcisig.com/pci/8086/100e"/>
  </devices>
  <resources arch="all">
    <minimum><n-cpus>1</n-cpus><ram>${GIB}</ram><storage>${4 * GIB}</storage></minimum>
    <recommended><ram>${2 * GIB}</ram><storage>${10 * GIB}</storage></recommended>
  </resources>
  <resources arch="i686"><minimum><ram>${GIB / 2}</ram></minimum></resources>
  <tree arch="x86_64"><treeinfo><family>Distro</family><version>1</version><arch>x86_64</arch></treeinfo></tree>
  <media arch="x86_64"><iso><volume-id>Distro-1-x86_64</volume-id><system-id>LINUX</system-id></iso><kernel>boot/vmlinuz</kernel></media>
</os>`;
const CHILD = `<os id="http://example.org/distro/2">
  <short-id>distro2</short-id><name>Distro 2</name><distro>fedora</distro>
  <derives-from id="http://example.org/distro/1"/>
  <devices>
    <device id="http://pcisig.com/pci/1af4/1041"/>
    <device id="http://qemu.org/chipset/x86/q35"/>
    <device id="http://pcisig.com/pci/8086/100e" supported="false"/>
  </devices>
  <resources arch="all" inherit="true"/>
</os>`;
const DEVICES = `<device id="http://pcisig.com/pci/8086/100e"><name>e1000</name><class>net</class></device>
<device id="http://pcisig.com/pci/1af4/1000"><name>virtio-net</name><class>net</class></device>`;

function systemDb(): void {
  writeFileSync(join(mkdirOf(locations.system), 'VERSION'), '20990101\n');
  put(join(locations.system, 'device', 'pci.xml'), DEVICES);
  put(join(locations.system, 'os', 'example.org', 'distro-1.xml'), PARENT);
  put(join(locations.system, 'os', 'example.org', 'distro-2.xml'), CHILD);
}

function mkdirOf(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}


describe('osinfo-db reader', () => {
  it('reads OSes and devices, keeping the untranslated names and every short id', () => {
    systemDb();
    const { db, fromCache } = loadOsinfo({ locations, cacheFile: null });
    expect(fromCache).toBe(false);
    expect(db.version).toBe('20990101');
    const os = db.osByShortId('distroone');
    expect(os).toMatchObject({ id: 'http://example.org/distro/1', shortIds: ['distro1', 'distroone'], name: 'Distro 1', vendor: 'Example', family: 'linux' });
    expect(os?.trees).toEqual([{ arch: 'x86_64', family: 'Distro', version: '1', treeArch: 'x86_64' }]);
    expect(os?.media).toEqual([{ arch: 'x86_64', volumeId: 'Distro-1-x86_64', systemId: 'LINUX', kernel: 'boot/vmlinuz' }]);
    expect(db.device('http://pcisig.com/pci/8086/100e')).toEqual({ id: 'http://pcisig.com/pci/8086/100e', name: 'e1000', class: 'net' });
  });

  it('inherits devices through derives-from, hiding one marked supported="false"', () => {
    systemDb();
    const { db } = loadOsinfo({ locations, cacheFile: null });
    const child = db.os('http://example.org/distro/2');
    expect(child && supportedDevices(db, child).map((d) => d.id).sort()).toEqual([
      'http://pcisig.com/pci/1af4/1000', 'http://pcisig.com/pci/1af4/1001', 'http://pcisig.com/pci/1af4/1041', 'http://qemu.org/chipset/x86/q35',
    ]);
    // inherit="true" for arch "all" takes the parent's "all" entry only, not its i686 one.
    expect(child && resolvedResources(db, child).map((r) => [r.arch, r.recommended?.ram])).toEqual([['all', 2 * GIB]]);
    expect(child && kernelUrlArgument(db, child)).toBe('inst.repo');
  });

  it("derives virt-install's defaults from them", () => {
    systemDb();
    const { db } = loadOsinfo({ locations, cacheFile: null });
    expect(findOsVariant('distro2', { db })).toMatchObject({
      id: 'distro2', memoryMiB: 2048, minMemoryMiB: 1024, vcpus: 2, diskGiB: 10, diskBus: 'virtio', nicModel: 'virtio', machine: 'q35', family: 'fedora',
    });
    // The parent has virtio-net but not virtio 1.0: i440FX. For i686 its own minimum counts,
    // while the recommendation comes from "all" before any doubling of a minimum.
    expect(findOsVariant('distro1', { db, arch: 'i686' })).toMatchObject({ machine: 'pc', memoryMiB: 2048, minMemoryMiB: 512, vcpus: 2 });
    expect(findOsVariant('distro1', { db })).toMatchObject({ nicModel: 'virtio', legacyNicModel: 'e1000', kernelUrlArg: 'inst.repo' });
    expect(formatOsVariantList(db).split('\n').slice(0, 3)).toEqual(['distro2', 'distro1, distroone', 'generic']);
  });

  it('lets /etc/osinfo replace a system file and the user directory add to an OS', () => {
    systemDb();
    put(join(locations.local, 'os', 'example.org', 'distro-2.xml'), CHILD.replace('<name>Distro 2</name>', '<name>Distro Two</name>'));
    put(join(locations.user, 'os', 'mine.xml'), `<os id="http://example.org/distro/1"><short-id>mydistro</short-id>
      <resources arch="all"><recommended><ram>${4 * GIB}</ram></recommended></resources></os>`);
    const { db } = loadOsinfo({ locations, cacheFile: null });
    expect(db.os('http://example.org/distro/2')?.name).toBe('Distro Two');
    expect(findOsVariant('mydistro', { db })).toMatchObject({ id: 'distro1', aliases: ['distroone', 'mydistro'], memoryMiB: 4096 });
  });

  it('follows $OSINFO_SYSTEM_DIR, $OSINFO_LOCAL_DIR and the user config dir as libosinfo does', () => {
    expect(defaultOsinfoLocations({ OSINFO_SYSTEM_DIR: '/s', XDG_CONFIG_HOME: '/home/u/.config' })).toEqual({ system: '/s', local: '/etc/osinfo', user: '/home/u/.config/osinfo' });
    expect(defaultOsinfoLocations({ OSINFO_LOCAL_DIR: '/l', OSINFO_USER_DIR: '/u' })).toMatchObject({ system: '/usr/share/osinfo', local: '/l', user: '/u' });
  });

  it('tolerates relations that loop or name unknown OSes', () => {
    put(join(locations.system, 'os', 'loop.xml'), `<os id="http://x/a"><short-id>a</short-id><derives-from id="http://x/b"/><clones id="http://x/missing"/>
      <resources arch="all" inherit="true"/></os>
      <os id="http://x/b"><short-id>b</short-id><derives-from id="http://x/a"/><resources arch="all" inherit="true"/></os>`);
    const { db } = loadOsinfo({ locations, cacheFile: null });
    const a = findOsVariant('a', { db });
    expect([a.memoryMiB, a.diskGiB, a.machine]).toEqual([undefined, undefined, 'pc']);
  });

  it('names the Debian package when the database is missing or damaged', () => {
    expect(errorOf(() => loadOsinfo({ locations, cacheFile: null }))).toBe(
      `libosinfo's OS database is missing: no directory ${locations.system}; install the Debian package osinfo-db (apt-get install osinfo-db), or point OSINFO_SYSTEM_DIR at an osinfo-db directory`);
    mkdirSync(join(locations.system, 'os'), { recursive: true });
    expect(errorOf(() => loadOsinfo({ locations, cacheFile: null }))).toMatch(/^libosinfo's OS database is missing: no OS definitions .*; install the Debian package osinfo-db/);
    systemDb();
    writeFileSync(join(locations.system, 'os', 'example.org', 'distro-2.xml'), '<?xml version="1.0"?>\n<libosinfo>\n<os id="x"><short-id>x</short');
    expect(errorOf(() => loadOsinfo({ locations, cacheFile: null }))).toMatch(
      /^libosinfo's OS database is damaged: .*distro-2\.xml: not well-formed XML .*; reinstall the Debian package osinfo-db \(apt-get install --reinstall osinfo-db\)$/);
  });

  it('says which of the user\'s files is damaged', () => {
    systemDb();
    put(join(locations.user, 'os', 'bad.xml'), '<os id="http://x/y"><resources arch="all"><minimum><ram>lots</ram></minimum></resources></os>');
    expect(errorOf(() => loadOsinfo({ locations, cacheFile: null }))).toBe(
      `libosinfo data file is damaged: ${join(locations.user, 'os', 'bad.xml')}: <ram> 'lots' is not a whole number; fix or remove the file`);
  });
});

describe('osinfo-db cache', () => {
  it('is written on first use and read afterwards', () => {
    systemDb();
    expect(loadOsinfo({ locations, cacheFile }).fromCache).toBe(false);
    const again = loadOsinfo({ locations, cacheFile });
    expect(again.fromCache).toBe(true);
    expect(findOsVariant('distro2', { db: again.db }).memoryMiB).toBe(2048);
  });

  it('is rebuilt when a file is added, replaced or edited, or VERSION changes', () => {
    systemDb();
    loadOsinfo({ locations, cacheFile });
    put(join(locations.system, 'os', 'example.org', 'distro-3.xml'), '<os id="http://example.org/distro/3"><short-id>distro3</short-id></os>');
    const added = loadOsinfo({ locations, cacheFile });
    expect([added.fromCache, added.db.osByShortId('distro3')?.id]).toEqual([false, 'http://example.org/distro/3']);

    // An in-place edit under /etc or the user's directory (same name, new mtime).
    put(join(locations.user, 'os', 'u.xml'), '<os id="http://u/1"><short-id>u1</short-id></os>');
    loadOsinfo({ locations, cacheFile });
    put(join(locations.user, 'os', 'u.xml'), '<os id="http://u/1"><short-id>u2</short-id></os>');
    utimesSync(join(locations.user, 'os', 'u.xml'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const edited = loadOsinfo({ locations, cacheFile });
    expect([edited.fromCache, edited.db.osByShortId('u2')?.id]).toEqual([false, 'http://u/1']);

    writeFileSync(join(locations.system, 'VERSION'), '20990102\n');
    expect(loadOsinfo({ locations, cacheFile }).fromCache).toBe(false);
    expect(loadOsinfo({ locations, cacheFile }).fromCache).toBe(true);
  });

  it('is rebuilt when it is damaged or not a cache', () => {
    systemDb();
    loadOsinfo({ locations, cacheFile });
    for (const junk of ['{"format":1,"key":', '[]', '{"format":1}', 'null']) {
      writeFileSync(cacheFile, junk);
      expect(loadOsinfo({ locations, cacheFile }).fromCache, junk).toBe(false);
      expect(loadOsinfo({ locations, cacheFile }).fromCache, junk).toBe(true);
    }
  });

  it('is skipped, not an error, when it cannot be written', () => {
    systemDb();
    writeFileSync(join(root, 'file'), 'not a directory');
    const r = loadOsinfo({ locations, cacheFile: join(root, 'file', 'osinfo-db.json') });
    expect([r.fromCache, r.db.oses.length]).toEqual([false, 2]);
  });
});
