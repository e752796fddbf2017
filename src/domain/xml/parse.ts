// Parses libvirt domain XML back into a Domain: tsvirt's own output (render → parse →
// render is the identity) and the subset of virt-install's output tsvirt models, for the
// later `tsvirt define`. Elements tsvirt does not model (controllers, channels, input,
// sound, video, memballoon, redirdev, pm, emulator, vmport) are skipped; constructs it
// cannot represent faithfully (non-file disks, other interface or character device types,
// another domain type, device elements it does not know) are the user's error. The
// document is untrusted: a DOCTYPE (entity declarations: billion laughs, external
// entities) and characters XML does not allow are refused before parsing, an element
// tsvirt reads once must appear once, and every value is checked before it becomes part
// of the Domain.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { TsvirtError } from '../../lib/errors.js';
import { parsePortForwardOptions, type PortForwardRule } from '../../vm/net/port-forward.js';
import { DISK_SERIAL_PATTERN } from '../options/disk.js';
import {
  DEFAULT_LIFECYCLE, DISK_CACHES, NIC_MODELS, BOOT_DEVICES, type BootDevice, type CharDevice, type ClockTimer,
  type Cpu, type Disk, type DiskBus, type DiskCache, type DiskDevice, type DiskFormat, type Domain, type Graphics,
  type LifecycleAction, type MachineType, type NetworkInterface, type NicModel, type Rng, type VirtType,
} from '../model.js';

type Node = Record<string, unknown>;

/** Elements that may repeat, by path (a disk's <serial> is text, a device <serial> repeats). */
const REPEATED = new Set([
  'domain', 'domain.os.boot', 'domain.clock.timer',
  ...['disk', 'interface', 'serial', 'console', 'graphics', 'rng', 'controller', 'channel', 'input', 'redirdev', 'video', 'sound'].map((d) => `domain.devices.${d}`),
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (_name, jpath) => REPEATED.has(String(jpath)),
});

/** Device elements tsvirt skips: what virt-install and virsh dumpxml add that changes nothing the VM core runs. */
const SKIPPED_DEVICES = new Set(['emulator', 'controller', 'channel', 'input', 'redirdev', 'video', 'sound', 'audio', 'memballoon']);
/** Device elements tsvirt models. */
const MODELED_DEVICES = new Set(['disk', 'interface', 'serial', 'console', 'graphics', 'rng']);

function bad(what: string): never {
  throw new TsvirtError(`domain XML: ${what}`, 'fix the XML or define the domain with tsvirt-install');
}

function node(v: unknown): Node {
  if (v === '' || v === undefined) return {};
  if (typeof v === 'string') return { '#text': v };
  return v as Node;
}
function textOf(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  const t = (v as Node)['#text'];
  return t === undefined ? '' : String(t);
}
function attr(n: Node, name: string): string | undefined {
  const v = n[`@_${name}`];
  return v === undefined ? undefined : String(v);
}
function list(v: unknown): Node[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(node);
}
/**
 * Children that tsvirt reads once. The parser turns a repeated element into an array,
 * which read as "missing" (two <name>s said "no <name>") or as its first value: either
 * way not what the document says.
 */
function once(n: Node, where: string, names: readonly string[]): void {
  for (const k of names) if (Array.isArray(n[k])) bad(`<${where}> has more than one <${k}>`);
}
function oneOfValue<T extends string>(what: string, v: string | undefined, allowed: readonly T[]): T {
  if (v === undefined || !(allowed as readonly string[]).includes(v)) bad(`${what} '${v ?? ''}' is not supported (${allowed.join(', ')})`);
  return v as T;
}
function positiveInt(what: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v.trim()) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) bad(`${what} '${v ?? ''}' is not a positive integer`);
  return Number(v);
}

/** libvirt memory units (formatdomain "Memory Allocation"); KiB by default. */
const UNIT_KIB: Readonly<Record<string, number>> = {
  b: 1 / 1024, bytes: 1 / 1024, k: 1, KiB: 1, KB: 1000 / 1024, M: 1024, MiB: 1024, MB: 1e6 / 1024, G: 1024 ** 2, GiB: 1024 ** 2, GB: 1e9 / 1024,
  T: 1024 ** 3, TiB: 1024 ** 3, TB: 1e12 / 1024, P: 1024 ** 4, PiB: 1024 ** 4, PB: 1e15 / 1024, E: 1024 ** 5, EiB: 1024 ** 5, EB: 1e18 / 1024,
};

function memory(what: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = node(v);
  const unit = attr(n, 'unit') ?? 'KiB';
  // Own keys only: unit="constructor" must not find Object's.
  const factor = Object.hasOwn(UNIT_KIB, unit) ? UNIT_KIB[unit] : undefined;
  if (factor === undefined) bad(`${what} unit '${unit}' is not supported`);
  const kib = positiveInt(what, textOf(v)) * factor;
  if (!Number.isInteger(kib)) bad(`${what} is not a whole number of KiB`);
  return kib;
}

function machineOf(m: string | undefined): MachineType {
  if (m === undefined || m === 'pc' || m.startsWith('pc-i440fx')) return 'pc';
  if (m === 'q35' || m.startsWith('pc-q35')) return 'q35';
  return bad(`machine '${m}' is not supported (q35, pc)`);
}

function parseDisk(n: Node): Disk {
  once(n, 'disk', ['driver', 'source', 'target', 'serial', 'readonly', 'shareable', 'boot']);
  if (attr(n, 'type') !== 'file') bad(`disk type '${attr(n, 'type') ?? ''}' is not supported (file)`);
  const device = oneOfValue<DiskDevice>('disk device', attr(n, 'device') ?? 'disk', ['disk', 'cdrom', 'floppy']);
  const driver = node(n.driver);
  const target = node(n.target);
  const dev = attr(target, 'dev');
  if (dev === undefined || !/^(vd|sd|hd|fd)[a-z]{1,3}$/.test(dev)) bad(`disk target dev '${dev ?? ''}' is not supported`);
  const bus = oneOfValue<DiskBus>('disk bus', attr(target, 'bus') ?? (dev.startsWith('vd') ? 'virtio' : dev.startsWith('hd') ? 'ide' : dev.startsWith('fd') ? 'fdc' : 'scsi'), ['virtio', 'sata', 'scsi', 'ide', 'fdc']);
  const format = attr(driver, 'type');
  const cache = attr(driver, 'cache');
  const discard = attr(driver, 'discard');
  const source = n.source === undefined ? undefined : attr(node(n.source), 'file');
  if (source !== undefined && !source.startsWith('/')) bad(`disk source '${source}' is not an absolute path`);
  const boot = list(n.boot)[0];
  const serial = textOf(n.serial);
  if (serial !== undefined && !DISK_SERIAL_PATTERN.test(serial)) bad(`disk serial '${serial}' is invalid`);
  const backingStore = parseBackingStore(n.backingStore);
  return {
    device,
    sourcePath: source,
    format: format === undefined ? undefined : oneOfValue<DiskFormat>('disk format', format, ['raw', 'qcow2']),
    bus,
    targetDev: dev,
    readonly: n.readonly !== undefined,
    shareable: n.shareable !== undefined,
    cache: cache === undefined ? undefined : oneOfValue<DiskCache>('disk cache', cache, DISK_CACHES),
    discardUnmap: discard === 'unmap',
    serial,
    bootOrder: boot === undefined ? undefined : positiveInt('disk boot order', attr(boot, 'order')),
    ...(backingStore ? { backingStore } : {}),
  };
}

/** A user-specified <backingStore> of one level; an empty one says "no backing file". */
function parseBackingStore(v: unknown): Disk['backingStore'] {
  if (v === undefined || v === '') return undefined;
  if (Array.isArray(v)) bad('a disk has more than one <backingStore>');
  const n = node(v);
  if (attr(n, 'type') !== 'file') bad(`backingStore type '${attr(n, 'type') ?? ''}' is not supported (file)`);
  if (n.backingStore !== undefined && n.backingStore !== '') bad('a <backingStore> chain deeper than one level is not supported yet');
  const path = n.source === undefined ? undefined : attr(node(n.source), 'file');
  if (path === undefined || !path.startsWith('/')) bad(`backingStore source '${path ?? ''}' is not an absolute path`);
  const format = oneOfValue<DiskFormat>('backingStore format', attr(node(n.format), 'type'), ['raw', 'qcow2']);
  return { path, format };
}

function parseInterface(n: Node): NetworkInterface {
  once(n, 'interface', ['source', 'mac', 'model', 'boot']);
  const type = oneOfValue<NetworkInterface['type']>('interface type', attr(n, 'type'), ['user', 'bridge', 'network']);
  const src = node(n.source);
  const source = type === 'bridge' ? attr(src, 'bridge') : type === 'network' ? attr(src, 'network') : undefined;
  if (type !== 'user' && source === undefined) bad(`interface of type ${type} has no source ${type}`);
  const mac = attr(node(n.mac), 'address')?.toLowerCase();
  if (mac === undefined || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) bad(`interface MAC '${mac ?? ''}' is missing or invalid`);
  const model = n.model === undefined ? 'virtio' : oneOfValue<NicModel>('interface model', attr(node(n.model), 'type'), NIC_MODELS);
  const boot = list(n.boot)[0];
  const portForwards = parsePortForwards(n);
  if (portForwards.length > 0 && type !== 'user') bad(`<portForward> on an interface of type ${type} (only user networking forwards ports)`);
  return {
    type, source, mac, model,
    bootOrder: boot === undefined ? undefined : positiveInt('interface boot order', attr(boot, 'order')),
    ...(portForwards.length > 0 ? { portForwards } : {}),
  };
}

/** <portForward proto address dev><range start end to exclude/></portForward>, checked by the --network grammar's own rules. */
function parsePortForwards(n: Node): PortForwardRule[] {
  const pairs: Array<[string, string]> = [];
  list(n.portForward).forEach((f, i) => {
    for (const key of ['proto', 'address', 'dev']) {
      const v = attr(f, key);
      if (v !== undefined) pairs.push([`portForward${i}.${key}`, v]);
    }
    list(f.range).forEach((r, j) => {
      for (const key of ['start', 'end', 'to', 'exclude']) {
        const v = attr(r, key);
        if (v !== undefined) pairs.push([`portForward${i}.range${j}.${key}`, v]);
      }
    });
  });
  try {
    return parsePortForwardOptions(pairs);
  } catch (err) {
    // The --network grammar's message, said about the XML.
    if (err instanceof TsvirtError) bad(`<portForward>: ${err.message.replace(/^--network /, '')}`);
    throw err;
  }
}

function parseChar(tag: string, n: Node): CharDevice {
  once(n, tag, ['source']);
  const type = oneOfValue<CharDevice['type']>(`${tag} type`, attr(n, 'type'), ['pty', 'file']);
  if (type === 'pty') return { type };
  const path = attr(node(n.source), 'path');
  if (path === undefined || !path.startsWith('/')) bad(`${tag} of type file needs an absolute source path`);
  return { type, path };
}

function lifecycle(v: unknown, fallback: LifecycleAction): LifecycleAction {
  const t = textOf(v);
  return t === undefined ? fallback : oneOfValue<LifecycleAction>('lifecycle action', t, ['destroy', 'restart', 'preserve', 'rename-restart']);
}

function parseTimer(n: Node): ClockTimer {
  const name = oneOfValue<ClockTimer['name']>('clock timer', attr(n, 'name'), ['rtc', 'pit', 'hpet']);
  const tick = attr(n, 'tickpolicy');
  const present = attr(n, 'present');
  return {
    name,
    ...(tick === undefined ? {} : { tickpolicy: oneOfValue<'catchup' | 'delay'>('timer tickpolicy', tick, ['catchup', 'delay']) }),
    ...(present === undefined ? {} : { present: present === 'yes' }),
  };
}

function parseCpu(v: unknown): Cpu | undefined {
  if (v === undefined) return undefined;
  const n = node(v);
  const mode = attr(n, 'mode');
  const topo = n.topology === undefined ? undefined : node(n.topology);
  const model = textOf(n.model);
  return {
    mode: mode === undefined ? (model !== undefined ? 'custom' : undefined) : oneOfValue<'host-passthrough' | 'host-model' | 'custom'>('cpu mode', mode, ['host-passthrough', 'host-model', 'custom']),
    ...(model === undefined ? {} : { model }),
    ...(topo === undefined ? {} : {
      topology: {
        sockets: positiveInt('cpu sockets', attr(topo, 'sockets')),
        dies: attr(topo, 'dies') === undefined ? 1 : positiveInt('cpu dies', attr(topo, 'dies')),
        cores: positiveInt('cpu cores', attr(topo, 'cores')),
        threads: positiveInt('cpu threads', attr(topo, 'threads')),
      },
    }),
  };
}

function parseDomainNode(d: Node): Domain {
  once(d, 'domain', ['name', 'uuid', 'memory', 'currentMemory', 'vcpu', 'os', 'features', 'clock', 'devices', 'cpu', 'metadata', 'on_poweroff', 'on_reboot', 'on_crash']);
  once(node(d.os), 'os', ['type', 'kernel', 'initrd', 'cmdline']);
  once(node(d.cpu), 'cpu', ['model', 'topology']);
  for (const tag of Object.keys(node(d.devices))) {
    // A device tsvirt neither models nor knows to be harmless (hostdev, filesystem, tpm...)
    // is refused by name: dropping it would store, and later run, another machine.
    if (tag.startsWith('@_') || tag === '#text' || MODELED_DEVICES.has(tag) || SKIPPED_DEVICES.has(tag)) continue;
    bad(`<devices> has <${tag}>, which tsvirt does not model; remove it`);
  }
  const type = oneOfValue<VirtType>('domain type', attr(d, 'type'), ['kvm', 'qemu']);
  const name = textOf(d.name);
  if (!name) bad('no <name>');
  const uuid = textOf(d.uuid);
  if (uuid === undefined || !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(uuid)) bad(`<uuid> '${uuid ?? ''}' is missing or invalid`);
  const meta = node(node(d.metadata)['libosinfo:libosinfo']);
  const osinfo = meta['libosinfo:os'] === undefined ? undefined : attr(node(meta['libosinfo:os']), 'id');
  const memoryKiB = memory('<memory>', d.memory) ?? bad('no <memory>');
  const currentMemoryKiB = memory('<currentMemory>', d.currentMemory) ?? memoryKiB;
  const vcpuNode = node(list(d.vcpu)[0] ?? d.vcpu);
  const vcpusMax = positiveInt('<vcpu>', textOf(d.vcpu));
  const vcpusCurrent = attr(vcpuNode, 'current') === undefined ? vcpusMax : positiveInt('<vcpu current>', attr(vcpuNode, 'current'));
  const os = node(d.os);
  const osType = node(os.type);
  if (textOf(os.type) !== 'hvm') bad(`os type '${textOf(os.type) ?? ''}' is not supported (hvm)`);
  const features = node(d.features);
  const clock = node(d.clock);
  const devices = node(d.devices);
  const rng: Rng[] = list(devices.rng).map((r) => {
    if (attr(r, 'model') !== 'virtio' || textOf(r.backend) !== '/dev/urandom') bad('only a virtio rng fed from /dev/urandom is supported');
    return { model: 'virtio', backendPath: '/dev/urandom' };
  });
  const graphics: Graphics[] = list(devices.graphics).map((g) => ({ type: oneOfValue<Graphics['type']>('graphics type', attr(g, 'type'), ['vnc', 'spice']) }));
  const kernel = textOf(os.kernel);
  const initrd = textOf(os.initrd);
  const cmdline = textOf(os.cmdline);
  return {
    type,
    name,
    uuid,
    ...(osinfo === undefined ? {} : { osinfo }),
    memoryKiB,
    currentMemoryKiB,
    vcpusMax,
    vcpusCurrent,
    cpu: parseCpu(d.cpu),
    os: {
      type: 'hvm',
      arch: oneOfValue('os arch', attr(osType, 'arch') ?? 'x86_64', ['x86_64', 'i686'] as const),
      machine: machineOf(attr(osType, 'machine')),
      ...(kernel === undefined ? {} : { kernel }),
      ...(initrd === undefined ? {} : { initrd }),
      ...(cmdline === undefined ? {} : { cmdline }),
      bootOrder: list(os.boot).map((b) => oneOfValue<BootDevice>('boot dev', attr(b, 'dev'), BOOT_DEVICES)),
    },
    features: { acpi: features.acpi !== undefined, apic: features.apic !== undefined, pae: features.pae !== undefined },
    clock: { offset: oneOfValue('clock offset', attr(clock, 'offset') ?? 'utc', ['utc', 'localtime'] as const), timers: list(clock.timer).map(parseTimer) },
    lifecycle: {
      onPoweroff: lifecycle(d.on_poweroff, DEFAULT_LIFECYCLE.onPoweroff),
      onReboot: lifecycle(d.on_reboot, DEFAULT_LIFECYCLE.onReboot),
      onCrash: lifecycle(d.on_crash, DEFAULT_LIFECYCLE.onCrash),
    },
    devices: {
      disks: list(devices.disk).map(parseDisk),
      interfaces: list(devices.interface).map(parseInterface),
      serials: list(devices.serial).map((s) => parseChar('serial', s)),
      consoles: list(devices.console).map((c) => parseChar('console', c)),
      graphics,
      rng,
    },
  };
}

/** Parses one or more concatenated <domain> documents (virt-install prints two for an install). */
export function parseDomainXmlDocuments(xml: string): Domain[] {
  const docs = xml.split(/(?<=<\/domain>)/).map((s) => s.trim()).filter((s) => s !== '');
  return docs.map((doc) => {
    // libvirt writes no DOCTYPE, and its entity declarations are what billion-laughs and
    // external-entity (file:///etc/shadow) documents are made of.
    if (/<!DOCTYPE/i.test(doc)) bad('a <!DOCTYPE> is not accepted (libvirt domain XML has none)');
    checkCharacters(doc);
    const valid = XMLValidator.validate(doc);
    if (valid !== true) bad(`not well-formed: ${valid.err.msg} (line ${valid.err.line})`);
    checkCharacterReferences(doc);
    let tree: Node;
    try {
      tree = parser.parse(doc) as Node;
    } catch (err) {
      // The parser's own limits (nesting depth among them) end here, named.
      bad(`not well-formed: ${(err as Error).message}`);
    }
    const domains = list(tree.domain);
    if (domains.length !== 1) bad('expected one <domain> root element');
    return parseDomainNode(domains[0]);
  });
}

/**
 * XML 1.0 §2.2 (Char): control characters other than tab, newline and carriage return, the
 * noncharacters U+FFFE/U+FFFF and unpaired surrogates are not XML; the parser would take
 * them into names and paths as they are.
 */
function checkCharacters(doc: string): void {
  const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(doc);
  if (m) {
    const line = doc.slice(0, m.index).split('\n').length;
    bad(`not well-formed: the character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} on line ${line} is not allowed in XML`);
  }
}

/**
 * XML 1.0 §2.2 (Char) and §4.1 (WFC: Legal Character): a character reference must name a
 * character XML allows. The parser would decode `&#0;` to nothing, so a name written
 * `a&#0;b` was stored as `ab`; such a document is not well-formed and is refused.
 */
function checkCharacterReferences(doc: string): void {
  for (const m of doc.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const code = m[1].startsWith('x') ? parseInt(m[1].slice(1), 16) : parseInt(m[1], 10);
    const legal = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
    if (!legal) bad(`not well-formed: the character reference ${m[0]} names a character XML does not allow`);
  }
}

export function parseDomainXml(xml: string): Domain {
  const docs = parseDomainXmlDocuments(xml);
  if (docs.length !== 1) bad(`expected one <domain> document, found ${docs.length}`);
  return docs[0];
}
