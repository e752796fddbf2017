// Hostile domain definitions (issue 15): each through the real `tsvirt define FILE`, in its
// own definition store that already holds one domain. Every one must end with exactly one
// `ERROR` line naming what is wrong, exit status 1, no stack frame, in bounded memory and
// time, and leave the store as it was (the existing domain's file unchanged, nothing
// added); a valid definition still defines afterwards. libvirt's own checks are the
// reference (virsh define refuses the same documents), plus what the tsvirt VM core
// cannot run.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDomain } from '../../src/lifecycle/domains.js';
import { errorLines, runMeasured, STACK_FRAME, type MeasuredRun } from '../support/measured-cli.js';
import { makeSandbox } from './helpers.js';

const box = makeSandbox('tsvirt-hdef-');
const RUN_DEADLINE_MS = 60_000;
const CONCURRENCY = 2;
/** `define` reads at most 1 MiB; node and oclif take the rest. */
const RSS_LIMIT_KIB = 256 * 1024;
const KEEPER_UUID = '0f0f0f0f-1111-2222-3333-444444444444';
const KEEPER = 'keeper';

interface DomainParts {
  name?: string;
  uuid?: string;
  type?: string;
  memory?: string;
  vcpu?: string;
  os?: string;
  devices?: string;
  /** More children of <domain>. */
  extra?: string;
  /** Before <domain> (XML declaration, DOCTYPE). */
  prolog?: string;
}

/** A definition the VM core runs: direct kernel boot, a serial console. */
function domainXml(p: DomainParts = {}): string {
  return `${p.prolog ?? ''}<domain type="${p.type ?? 'qemu'}">
  <name>${p.name ?? 'hostile'}</name>
  <uuid>${p.uuid ?? randomUUID()}</uuid>
  ${p.memory ?? '<memory unit="MiB">32</memory>'}
  ${p.vcpu ?? '<vcpu>1</vcpu>'}
  <os>
    ${p.os ?? `<type arch="x86_64" machine="q35">hvm</type>\n    <kernel>${box.kernel}</kernel>`}
  </os>${p.extra ?? ''}
  <devices>
    <console type="pty"/>${p.devices ?? ''}
  </devices>
</domain>
`;
}

const disk = (dev: string, file: string, extra = '') =>
  `<disk type="file" device="disk"><driver name="qemu" type="qcow2"/><source file="${file}"/><target dev="${dev}" bus="virtio"/>${extra}</disk>`;
const nic = (mac: string) => `<interface type="user"><mac address="${mac}"/><model type="virtio"/></interface>`;
const devName = (i: number) => `vd${String.fromCharCode(97 + Math.floor(i / 676) % 26)}${String.fromCharCode(97 + Math.floor(i / 26) % 26)}${String.fromCharCode(97 + (i % 26))}`;
const laughs = `<?xml version="1.0"?>
<!DOCTYPE domain [
  <!ENTITY lol "lol">
  ${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('\n  ')}
]>
`;

interface HostileDefinition {
  name: string;
  /** The file's bytes, or a path to give `define` instead of a file of ours. */
  content: string | Buffer | { path: () => string };
  error: RegExp;
}

const HOSTILE: HostileDefinition[] = [
  { name: 'two disks with one target', content: domainXml({ devices: disk('vdb', '/srv/a.qcow2') + disk('vdb', '/srv/b.qcow2') }), error: /disk target vdb is used twice/ },
  { name: 'one writable image behind two disks', content: domainXml({ devices: disk('vdb', '/srv/a.qcow2') + disk('vdc', '/srv/a.qcow2') }), error: /image \/srv\/a\.qcow2 is used by disks vdb and vdc/ },
  { name: 'a multicast MAC', content: domainXml({ devices: nic('01:00:5e:00:00:01') }), error: /MAC address 01:00:5e:00:00:01 is a multicast address/ },
  { name: 'the broadcast MAC', content: domainXml({ devices: nic('ff:ff:ff:ff:ff:ff') }), error: /ff:ff:ff:ff:ff:ff is a multicast address/ },
  { name: 'two NICs with one MAC', content: domainXml({ devices: nic('52:54:00:00:00:01') + nic('52:54:00:00:00:01') }), error: /interfaces 1 and 2 have the same MAC address/ },
  { name: 'a MAC that is not hex', content: domainXml({ devices: nic('52:54:00:zz:00:01') }), error: /interface MAC '52:54:00:zz:00:01' is missing or invalid/ },
  { name: 'an all-zero MAC', content: domainXml({ devices: nic('00:00:00:00:00:00') }), error: /MAC address 00:00:00:00:00:00 is all zeros/ },
  { name: '0 vCPUs', content: domainXml({ vcpu: '<vcpu>0</vcpu>' }), error: /<vcpu> '0' is not a positive integer/ },
  { name: '100,000 vCPUs', content: domainXml({ vcpu: '<vcpu>100000</vcpu>' }), error: /100000 vCPUs, outside 1\.\.255/ },
  { name: 'more vCPUs online than the maximum', content: domainXml({ vcpu: '<vcpu current="8">2</vcpu>' }), error: /8 vCPUs online, but the maximum is 2/ },
  { name: 'a vCPU count of 10^22', content: domainXml({ vcpu: '<vcpu>9999999999999999999999</vcpu>' }), error: /<vcpu> '9999999999999999999999' is not a positive integer/ },
  { name: '1.5 vCPUs', content: domainXml({ vcpu: '<vcpu>1.5</vcpu>' }), error: /<vcpu> '1\.5' is not a positive integer/ },
  { name: 'a cpu topology of 0 sockets', content: domainXml({ extra: '\n  <cpu mode="host-model"><topology sockets="0" cores="1" threads="1"/></cpu>' }), error: /cpu sockets '0' is not a positive integer/ },
  { name: 'memory beyond the host (1 PiB)', content: domainXml({ memory: '<memory unit="TiB">1024</memory>' }), error: /memory of 1099511627776 KiB is more than this host has/ },
  { name: 'memory of 16 EiB', content: domainXml({ memory: '<memory unit="EiB">16</memory>' }), error: /memory of \d+ KiB is more than this host has/ },
  { name: 'memory beyond the host (2^40 MiB)', content: domainXml({ memory: `<memory unit="MiB">${2 ** 40}</memory>` }), error: /memory of \d+ KiB is more than this host has/ },
  { name: 'memory of 0', content: domainXml({ memory: '<memory>0</memory>' }), error: /<memory> '0' is not a positive integer/ },
  { name: 'negative memory', content: domainXml({ memory: '<memory unit="MiB">-32</memory>' }), error: /<memory> '-32' is not a positive integer/ },
  { name: 'memory in hex', content: domainXml({ memory: '<memory>0x8000</memory>' }), error: /<memory> '0x8000' is not a positive integer/ },
  { name: 'a memory unit that is not one (parsecs)', content: domainXml({ memory: '<memory unit="parsecs">32</memory>' }), error: /<memory> unit 'parsecs' is not supported/ },
  { name: 'a memory unit named like an object property', content: domainXml({ memory: '<memory unit="constructor">32</memory>' }), error: /<memory> unit 'constructor' is not supported/ },
  { name: 'memory in bytes that is no whole KiB', content: domainXml({ memory: '<memory unit="b">33554433</memory>' }), error: /<memory> is not a whole number of KiB/ },
  { name: 'currentMemory above memory', content: domainXml({ memory: '<memory unit="MiB">32</memory><currentMemory unit="MiB">64</currentMemory>' }), error: /<currentMemory> 65536 KiB is more than <memory> 32768 KiB/ },
  { name: 'two <memory> elements', content: domainXml({ memory: '<memory unit="MiB">32</memory><memory unit="MiB">64</memory>' }), error: /<domain> has more than one <memory>/ },
  { name: 'a disk at /dev/sda', content: domainXml({ devices: disk('vdb', '/dev/sda') }), error: /disk vdb: image \/dev\/sda is not an image file/ },
  { name: 'a disk at /proc/self/mem', content: domainXml({ devices: disk('vdb', '/proc/self/mem') }), error: /image \/proc\/self\/mem is not an image file/ },
  { name: 'a disk under /sys', content: domainXml({ devices: disk('vdb', '/sys/firmware/efi/efivars/x') }), error: /is not an image file/ },
  { name: 'a relative disk path', content: domainXml({ devices: disk('vdb', 'images/a.qcow2') }), error: /disk source 'images\/a\.qcow2' is not an absolute path/ },
  { name: 'a disk path climbing with ..', content: domainXml({ devices: disk('vdb', '/srv/../dev/sda') }), error: /"\/srv\/\.\.\/dev\/sda" is not a plain absolute path/ },
  { name: 'a backing store at /dev/sda', content: domainXml({ devices: disk('vdb', '/srv/a.qcow2', '<backingStore type="file"><format type="raw"/><source file="/dev/sda"/></backingStore>') }), error: /backing store \/dev\/sda is not an image file/ },
  { name: 'a disk with two <source>s', content: domainXml({ devices: disk('vdb', '/srv/a.qcow2', '<source file="/dev/sda"/>') }), error: /<disk> has more than one <source>/ },
  { name: 'a block device disk', content: domainXml({ devices: '<disk type="block" device="disk"><source dev="/dev/sda"/><target dev="vdb" bus="virtio"/></disk>' }), error: /disk type 'block' is not supported/ },
  { name: 'a disk target that is no device name', content: domainXml({ devices: disk('vdzzzz', '/srv/a.qcow2') }), error: /disk target dev 'vdzzzz' is not supported/ },
  { name: '400 disks', content: domainXml({ devices: Array.from({ length: 400 }, (_, i) => disk(devName(i), `/srv/d${i}.qcow2`)).join('') }), error: /400 disks, more than the limit of 32/ },
  { name: '400,000 disks (60 MB)', content: domainXml({ devices: Array.from({ length: 400_000 }, (_, i) => disk(devName(i), `/srv/d${i}.qcow2`)).join('') }), error: /the definition is \d+ bytes, more than the limit of 1048576/ },
  { name: '33 NICs', content: domainXml({ devices: Array.from({ length: 33 }, (_, i) => nic(`52:54:00:00:01:${i.toString(16).padStart(2, '0')}`)).join('') }), error: /33 interfaces, more than the limit of 32/ },
  { name: 'a relative kernel', content: domainXml({ os: '<type arch="x86_64" machine="q35">hvm</type><kernel>../vmlinuz</kernel>' }), error: /kernel \.\.\/vmlinuz is not an absolute path/ },
  { name: 'a kernel climbing to /etc/shadow', content: domainXml({ os: '<type arch="x86_64" machine="q35">hvm</type><kernel>/boot/../../etc/shadow</kernel>' }), error: /kernel "\/boot\/\.\.\/\.\.\/etc\/shadow" is not a plain absolute path/ },
  { name: 'an initrd at /proc/kcore', content: domainXml({ os: `<type arch="x86_64" machine="q35">hvm</type><kernel>${box.kernel}</kernel><initrd>/proc/kcore</initrd>` }), error: /initrd \/proc\/kcore is not an image file/ },
  { name: 'two <kernel>s', content: domainXml({ os: `<type arch="x86_64" machine="q35">hvm</type><kernel>${box.kernel}</kernel><kernel>/etc/shadow</kernel>` }), error: /<os> has more than one <kernel>/ },
  { name: 'a raw control character in the name', content: domainXml({ name: 'a\x01b' }), error: /the character U\+0001 on line 2 is not allowed in XML/ },
  { name: 'a raw NUL in the kernel path', content: domainXml({ os: '<type arch="x86_64" machine="q35">hvm</type><kernel>/srv/k\0/etc/shadow</kernel>' }), error: /the character U\+0000 on line \d+ is not allowed in XML/ },
  { name: 'a name a&#0;b', content: domainXml({ name: 'a&#0;b' }), error: /the character reference &#0; names a character XML does not allow/ },
  { name: 'a name with an escape character reference', content: domainXml({ name: 'a&#x1b;[2Jb' }), error: /the character reference &#x1b; names a character XML does not allow/ },
  { name: 'a lone surrogate reference', content: domainXml({ name: 'a&#xD800;b' }), error: /the character reference &#xD800; names a character XML does not allow/ },
  { name: 'a name ../../etc/passwd', content: domainXml({ name: '../../etc/passwd' }), error: /invalid domain name '\.\.\/\.\.\/etc\/passwd'/ },
  { name: 'a name of 65 characters', content: domainXml({ name: 'n'.repeat(65) }), error: /invalid domain name 'n{65}'/ },
  { name: 'an empty name', content: domainXml({ name: '' }), error: /no <name>/ },
  { name: 'two <name>s', content: domainXml({ name: 'first</name><name>second' }), error: /<domain> has more than one <name>/ },
  { name: 'invalid UTF-8 in a disk path', content: Buffer.from(domainXml({ devices: disk('vdb', '/srv/\xff\xfe.qcow2') }), 'latin1'), error: /is not valid UTF-8/ },
  { name: 'billion laughs', content: domainXml({ prolog: laughs, name: '&lol9;' }), error: /a <!DOCTYPE> is not accepted/ },
  { name: 'an external entity (file:///etc/hostname)', content: domainXml({ prolog: '<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n', name: '&xxe;' }), error: /a <!DOCTYPE> is not accepted/ },
  { name: 'an entity naming /proc/self/mem for the kernel', content: domainXml({ prolog: '<!DOCTYPE domain [<!ENTITY k "/proc/self/mem">]>\n', os: '<type arch="x86_64" machine="q35">hvm</type><kernel>&k;</kernel>' }), error: /a <!DOCTYPE> is not accepted/ },
  { name: 'a DOCTYPE with an external DTD', content: domainXml({ prolog: '<!DOCTYPE domain SYSTEM "http://127.0.0.1:1/domain.dtd">\n' }), error: /a <!DOCTYPE> is not accepted/ },
  { name: 'a 50 MB definition', content: domainXml({ extra: `\n  <!-- ${'x'.repeat(50 * 1024 * 1024)} -->` }), error: /the definition is \d+ bytes, more than the limit of 1048576/ },
  { name: '100,000 nested elements', content: domainXml({ devices: `${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}` }), error: /not well-formed/ },
  { name: 'a __proto__ element (prototype pollution)', content: domainXml({ devices: '<__proto__><polluted>yes</polluted></__proto__>' }), error: /not well-formed: .*"__proto__" is a reserved JavaScript keyword/ },
  { name: 'an unknown device element', content: domainXml({ devices: '<frobnicator/>' }), error: /<devices> has <frobnicator>, which tsvirt does not model/ },
  { name: 'a host device (PCI passthrough)', content: domainXml({ devices: '<hostdev mode="subsystem" type="pci"><source><address domain="0" bus="0" slot="2" function="0"/></source></hostdev>' }), error: /<devices> has <hostdev>/ },
  { name: 'a host directory share of /', content: domainXml({ devices: '<filesystem type="mount"><source dir="/"/><target dir="host"/></filesystem>' }), error: /<devices> has <filesystem>/ },
  { name: 'domain type xen', content: domainXml({ type: 'xen' }), error: /domain type 'xen' is not supported/ },
  { name: 'os type exe (a container)', content: domainXml({ os: '<type>exe</type><init>/bin/sh</init>' }), error: /os type 'exe' is not supported/ },
  { name: 'arch aarch64', content: domainXml({ os: `<type arch="aarch64" machine="virt">hvm</type><kernel>${box.kernel}</kernel>` }), error: /os arch 'aarch64' is not supported/ },
  { name: 'an interface of type direct (macvtap)', content: domainXml({ devices: '<interface type="direct"><source dev="eth0" mode="bridge"/><mac address="52:54:00:00:00:09"/></interface>' }), error: /interface type 'direct' is not supported/ },
  { name: 'a serial port on TCP', content: domainXml({ devices: '<serial type="tcp"><source mode="bind" host="0.0.0.0" service="23"/></serial>' }), error: /serial type 'tcp' is not supported/ },
  { name: 'a serial log at a relative path', content: domainXml({ devices: '<serial type="file"><source path="log/serial.txt"/></serial>' }), error: /serial of type file needs an absolute source path/ },
  { name: 'an rng fed from /dev/mem', content: domainXml({ devices: '<rng model="virtio"><backend model="random">/dev/mem</backend></rng>' }), error: /only a virtio rng fed from \/dev\/urandom is supported/ },
  { name: 'VNC graphics', content: domainXml({ devices: '<graphics type="vnc" port="-1"/>' }), error: /<graphics type="vnc"> is not supported by the tsvirt VM core/ },
  { name: 'an invalid uuid', content: domainXml({ uuid: 'not-a-uuid' }), error: /<uuid> 'not-a-uuid' is missing or invalid/ },
  { name: "the existing domain's name with another uuid", content: domainXml({ name: KEEPER }), error: /domain 'keeper' already exists with uuid 0f0f0f0f-1111-2222-3333-444444444444/ },
  { name: "the existing domain's uuid under another name", content: domainXml({ uuid: KEEPER_UUID }), error: /domain 'keeper' is already defined with uuid/ },
  { name: 'two <domain> documents', content: domainXml() + domainXml(), error: /expected one <domain> document, found 2/ },
  { name: 'not well-formed', content: '<domain type="qemu"><name>x</name>', error: /domain XML: not well-formed/ },
  { name: 'a <network> document', content: '<network><name>default</name><forward mode="nat"/></network>', error: /expected one <domain> root element/ },
  { name: 'a FIFO instead of a file', content: { path: () => fifo() }, error: /is not a regular file/ },
  { name: '/dev/zero instead of a file', content: { path: () => '/dev/zero' }, error: /\/dev\/zero is not a regular file/ },
];

function fifo(): string {
  const path = box.file('definition.fifo');
  if (!fs.existsSync(path)) execFileSync('mkfifo', [path]);
  return path;
}

// --- each case in its own store, seeded with the keeper -------------------------------

const seed = box.file('seed');
let keeperXml = '';
beforeAll(() => {
  defineDomain({ stateDir: join(seed, 'run'), domainsDir: join(seed, 'domains') }, domainXml({ name: KEEPER, uuid: KEEPER_UUID }));
  keeperXml = fs.readFileSync(join(seed, 'domains', `${KEEPER}.xml`), 'utf8');
});

interface CaseDirs {
  dir: string;
  domainsDir: string;
  env: NodeJS.ProcessEnv;
}

let n = 0;
function caseDirs(): CaseDirs {
  const dir = box.file(`case-${++n}`);
  const domainsDir = join(dir, 'domains');
  fs.mkdirSync(domainsDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(join(domainsDir, `${KEEPER}.xml`), keeperXml, { mode: 0o600 });
  return { dir, domainsDir, env: { ...box.env, TSVIRT_DOMAINS_DIR: domainsDir, TSVIRT_STATE_DIR: join(dir, 'run'), TSVIRT_DEBUG: '' } };
}

/** The store holds the keeper, unchanged, and nothing else. */
function storeUnchanged(domainsDir: string): boolean {
  const entries = fs.readdirSync(domainsDir);
  return entries.length === 1 && entries[0] === `${KEEPER}.xml` && fs.readFileSync(join(domainsDir, entries[0]), 'utf8') === keeperXml;
}

const tsvirt = (args: string[], c: CaseDirs): Promise<MeasuredRun> => runMeasured('tsvirt', args, { env: c.env, cwd: c.dir, deadlineMs: RUN_DEADLINE_MS });

let active = 0;
const queue: Array<() => void> = [];
async function limited<T>(f: () => Promise<T>): Promise<T> {
  if (active >= CONCURRENCY) await new Promise<void>((r) => queue.push(r));
  active++;
  try {
    return await f();
  } finally {
    active--;
    queue.shift()?.();
  }
}

type Verdict = 'clean error' | 'accepted' | 'hang' | 'stack trace';
const results: Array<{ name: string; verdict: Verdict; expected: Verdict; maxRssKiB?: number; stored: boolean; line: string }> = [];

function verdictOf(r: MeasuredRun): Verdict {
  if (r.hung) return 'hang';
  if (STACK_FRAME.test(r.stderr) || STACK_FRAME.test(r.stdout) || r.status === null) return 'stack trace';
  if (r.status === 0 && errorLines(r.stderr).length === 0) return 'accepted';
  return errorLines(r.stderr).length === 1 && r.status === 1 ? 'clean error' : 'stack trace';
}

afterAll(() => {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  console.log([
    'hostile domain definitions through tsvirt define (issue 15)',
    `  tried ${results.length} | clean error ${count('clean error')} | accepted (expected) ${results.filter((r) => r.verdict === 'accepted' && r.expected === 'accepted').length} | accepted (hostile) ${results.filter((r) => r.verdict === 'accepted' && r.expected !== 'accepted').length} | hang ${count('hang')} | stack trace ${count('stack trace')} | hostile ones that changed the store ${results.filter((r) => r.stored && r.expected !== 'accepted').length}`,
    `  max RSS ${(Math.max(0, ...results.map((r) => r.maxRssKiB ?? 0)) / 1024).toFixed(0)} MiB (one define process)`,
    ...results.filter((r) => r.verdict !== r.expected || (r.stored && r.expected !== 'accepted')).map((r) => `  ! ${r.name}: ${r.verdict}${r.stored ? ', stored something' : ''}; ${r.line}`),
  ].join('\n'));
  box.cleanup();
});

describe('tsvirt define refuses hostile definitions and stores nothing', () => {
  it.concurrent.each(HOSTILE.map((h) => [h.name, h] as const))('%s', async (_name, h) => {
    const c = caseDirs();
    let file: string;
    if (typeof h.content === 'object' && !Buffer.isBuffer(h.content)) {
      file = h.content.path();
    } else {
      file = join(c.dir, 'definition.xml');
      fs.writeFileSync(file, h.content);
    }
    const r = await limited(() => tsvirt(['define', file], c));
    const verdict = verdictOf(r);
    const stored = !storeUnchanged(c.domainsDir);
    const line = errorLines(r.stderr)[0] ?? `exit ${r.status}: ${r.stderr.slice(0, 300)}${r.stdout.slice(0, 300)}`;
    results.push({ name: h.name, verdict, expected: 'clean error', maxRssKiB: r.maxRssKiB, stored, line: line.slice(0, 500) });
    const what = `${h.name}: ${verdict}; ${line.slice(0, 2000)}`;
    expect(verdict, what).toBe('clean error');
    expect(errorLines(r.stderr), what).toHaveLength(1);
    expect(line, what).toMatch(h.error);
    expect(r.stdout, what).toBe('');
    expect(stored, `${h.name}: the store changed`).toBe(false);
    expect(r.maxRssKiB, 'peak RSS measured').toBeDefined();
    expect(r.maxRssKiB!, `${h.name}: peak RSS ${r.maxRssKiB} KiB`).toBeLessThan(RSS_LIMIT_KIB);
  }, RUN_DEADLINE_MS * Math.ceil(HOSTILE.length / CONCURRENCY) + 30_000);
});

describe('after all that', () => {
  it('list --all shows only the existing domain, and a valid definition still defines', async () => {
    const c = caseDirs();
    const before = await tsvirt(['list', '--all'], c);
    expect(before.status, before.stderr).toBe(0);
    expect(before.stdout.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual(['keeper shut off']);
    const file = join(c.dir, 'fine.xml');
    fs.writeFileSync(file, domainXml({ name: 'fine', devices: disk('vda', box.file('fine.qcow2')) + nic('52:54:00:12:34:56') }));
    const defined = await tsvirt(['define', file], c);
    expect(defined.stderr).toBe('');
    expect(defined.stdout).toBe(`Domain 'fine' defined from ${file}\n`);
    const after = await tsvirt(['list', '--all'], c);
    expect(after.stdout.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0]).sort()).toEqual(['fine', 'keeper']);
    results.push({ name: 'a valid definition', verdict: defined.status === 0 ? 'accepted' : verdictOf(defined), expected: 'accepted', maxRssKiB: defined.maxRssKiB, stored: true, line: '' });
  }, 3 * RUN_DEADLINE_MS);

  it('the suite is as large as issue 15 asks', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
  });
});
