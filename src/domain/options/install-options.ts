// The tsvirt-install command line: virt-install's options, their groups (as virt-install
// --help groups them), aliases and arity, and the argv walk that turns them into typed
// InstallSpecs. Options with suboptions delegate to their table (one file per option).
// Argument forms accepted: `--opt value`, `--opt=value`, short `-n value`; an option with
// an optional value (--print-xml [step]) takes the next word only if it is not an option.
// Long options may be abbreviated to any unique prefix, as argparse (and so virt-install)
// allows: `--nograph`, `--os-var`. The hidden back-compat options virt-install still takes
// (--nographics, --vnc, --file/-s/--nonsparse, --nodisks, --nonetworks, --mac, --bridge,
// --os-type, --noacpi/--noapic, --cpuset, --print-step, --uuid, -c ...) are collected as
// written and turned into their modern form afterwards, in virt-install's words
// (virtinstall.py's convert_old_* steps), so they reach the same checks.
// Left out: virt-install options tsvirt does not model (--connect, --controller, --tpm ...):
// they are rejected as unrecognized.
import { TsvirtError } from '../../lib/errors.js';
import { defaultNetworkType } from '../defaults.js';
import type { Arch, CharDevice, MachineType, VirtType } from '../model.js';
import { parseBoot, BOOT, type BootSpec } from './boot.js';
import { CONSOLE, parseCharDevice, SERIAL } from './char-device.js';
import { ALL_CHECKS_ON, CHECK, parseCheck, type CheckSpec } from './check.js';
import { CPU, parseCpu, type CpuSpec } from './cpu.js';
import { DISK, parseDisk, type DiskSpec } from './disk.js';
import { GRAPHICS, parseGraphics } from './graphics.js';
import { CLOCK, EVENTS, FEATURES, parseClock, parseEvents, parseFeatures, type EventsSpec, type FeaturesSpec } from './guest-config.js';
import { LOCATION, parseLocation, type LocationSpec } from './location.js';
import { MEMORY, parseMemory, type MemorySpec } from './memory.js';
import { macAddress, NETWORK, parseNetwork, type NetworkSpec } from './network.js';
import { NOT_YET_OPTIONS } from './not-yet-options.js';
import { OS_VARIANT, parseOsVariant, type OsVariantSpec } from './os-variant.js';
import type { SubOptionTable } from './suboptions.js';
import { parseVcpus, VCPUS, type VcpusSpec } from './vcpus.js';

/** Everything the command line said, typed; nothing defaulted yet. */
export interface InstallSpecs {
  name?: string;
  memory?: MemorySpec;
  vcpus?: VcpusSpec;
  cpu?: CpuSpec;
  disks: DiskSpec[];
  diskNone: boolean;
  networks: NetworkSpec[];
  networkNone: boolean;
  location?: LocationSpec;
  cdrom?: string;
  import: boolean;
  pxe: boolean;
  boot?: BootSpec;
  extraArgs: string[];
  initrdInject: string[];
  osVariant?: OsVariantSpec;
  graphics?: 'none' | 'vnc' | 'spice';
  serials: CharDevice[];
  consoles: CharDevice[];
  noautoconsole: boolean;
  /** Minutes to wait for the install; negative waits forever (virt-install --wait). */
  waitMinutes?: number;
  noreboot: boolean;
  transient: boolean;
  autostart: boolean;
  /** --print-xml: 'all' documents, or the 1-based install step. */
  printXml?: 'all' | 1 | 2;
  dryRun: boolean;
  check: CheckSpec;
  virtType?: VirtType;
  arch?: Arch;
  machine?: MachineType;
  events?: EventsSpec;
  features?: FeaturesSpec;
  clockOffset?: 'utc' | 'localtime';
  debug: boolean;
  quiet: boolean;
  force: boolean;
  help: boolean;
  version: boolean;
  /** --uuid (hidden in virt-install): the domain's UUID instead of a generated one. */
  uuid?: string;
  /** Warnings the options themselves give (a deprecated option). */
  optionWarnings: string[];
}

/** virt-install's hidden back-compat options, as written; see convertLegacyOptions. */
interface LegacyOptions {
  files: string[];
  fileSizes: number[];
  nonsparse: boolean;
  nodisks: boolean;
  nonetworks: boolean;
  bridges: string[];
  macs: string[];
  vnc: boolean;
  vncport?: string;
  vnclisten?: string;
  keymap?: string;
  sdl: boolean;
  nographics: boolean;
  noacpi: boolean;
  noapic: boolean;
  cpuset?: string;
  osType?: string;
  cdromShort?: string;
  printStep?: string;
}

export type OptionGroup =
  | 'General Options'
  | 'Installation Method Options'
  | 'OS options'
  | 'Device Options'
  | 'Guest Configuration Options'
  | 'Virtualization Platform Options'
  | 'Miscellaneous Options';

export const OPTION_GROUPS: readonly OptionGroup[] = [
  'General Options',
  'Installation Method Options',
  'OS options',
  'Device Options',
  'Guest Configuration Options',
  'Virtualization Platform Options',
  'Miscellaneous Options',
];

export interface OptionDef {
  /** Long name first, then aliases. */
  readonly names: readonly string[];
  readonly arg: 'none' | 'required' | 'optional';
  readonly metavar?: string;
  readonly group: OptionGroup | 'options';
  readonly help: string;
  readonly table?: SubOptionTable<never>;
  /** Hidden from --help (virt-install's argparse.SUPPRESS back-compat options). */
  readonly hidden?: boolean;
  readonly apply: (specs: InstallSpecs, value: string | undefined, legacy: LegacyOptions) => void;
}

function legacyOption(names: string[], arg: 'none' | 'required', apply: (l: LegacyOptions, v: string) => void): OptionDef {
  return { names, arg, group: 'options', help: '', hidden: true, apply: (_s, v, l) => apply(l, v ?? '') };
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function tableOf<S>(t: SubOptionTable<S>): SubOptionTable<never> {
  return t as unknown as SubOptionTable<never>;
}

function nonEmpty(option: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new TsvirtError(`${option}: expected a value`, `give ${option} VALUE`);
  return value;
}

/** libvirt domain names: no '/', no control characters, not empty (virDomainDefParse). */
function domainName(value: string | undefined): string {
  const name = nonEmpty('--name', value);
  if (name.includes('/') || /[\x00-\x1f\x7f]/.test(name) || name.length > 200) {
    throw new TsvirtError(`--name ${JSON.stringify(name)}: invalid domain name`, "use letters, digits and - _ . (no '/')");
  }
  return name;
}

export const INSTALL_OPTIONS: readonly OptionDef[] = [
  { names: ['--help', '-h'], arg: 'none', group: 'options', help: 'show this help message and exit', apply: (s) => { s.help = true; } },
  { names: ['--version'], arg: 'none', group: 'options', help: "show program's version number and exit", apply: (s) => { s.version = true; } },

  { names: ['--name', '-n'], arg: 'required', metavar: 'NAME', group: 'General Options', help: 'Name of the guest instance', apply: (s, v) => { s.name = domainName(v); } },
  { names: ['--memory', '--ram', '-r'], arg: 'required', metavar: 'MEMORY', group: 'General Options', help: MEMORY.summary, table: tableOf(MEMORY), apply: (s, v) => { s.memory = parseMemory(nonEmpty('--memory', v)); } },
  { names: ['--vcpus'], arg: 'required', metavar: 'VCPUS', group: 'General Options', help: VCPUS.summary, table: tableOf(VCPUS), apply: (s, v) => { s.vcpus = parseVcpus(nonEmpty('--vcpus', v)); } },
  { names: ['--cpu'], arg: 'required', metavar: 'CPU', group: 'General Options', help: CPU.summary, table: tableOf(CPU), apply: (s, v) => { s.cpu = parseCpu(nonEmpty('--cpu', v)); } },

  { names: ['--cdrom', '-c'], arg: 'required', metavar: 'CDROM', group: 'Installation Method Options', help: 'CD-ROM installation media (an ISO file)', apply: (s, v) => { s.cdrom = nonEmpty('--cdrom', v); } },
  { names: ['--location', '-l'], arg: 'required', metavar: 'LOCATION', group: 'Installation Method Options', help: LOCATION.summary, table: tableOf(LOCATION), apply: (s, v) => { s.location = parseLocation(nonEmpty('--location', v)); } },
  { names: ['--pxe'], arg: 'none', group: 'Installation Method Options', help: 'Boot from the network using the PXE protocol', apply: (s) => { s.pxe = true; } },
  { names: ['--import'], arg: 'none', group: 'Installation Method Options', help: 'Build guest around an existing disk image', apply: (s) => { s.import = true; } },
  { names: ['--extra-args', '-x'], arg: 'required', metavar: 'EXTRA_ARGS', group: 'Installation Method Options', help: 'Additional arguments to pass to the install kernel booted from --location', apply: (s, v) => { s.extraArgs.push(v ?? ''); } },
  { names: ['--initrd-inject'], arg: 'required', metavar: 'INITRD_INJECT', group: 'Installation Method Options', help: 'Add given file to root of initrd from --location', apply: (s, v) => { s.initrdInject.push(nonEmpty('--initrd-inject', v)); } },
  { names: ['--boot'], arg: 'required', metavar: 'BOOT', group: 'Installation Method Options', help: BOOT.summary, table: tableOf(BOOT), apply: (s, v) => { s.boot = parseBoot(nonEmpty('--boot', v)); } },

  { names: ['--os-variant', '--osinfo'], arg: 'required', metavar: 'OS_VARIANT', group: 'OS options', help: OS_VARIANT.summary, table: tableOf(OS_VARIANT), apply: (s, v) => { s.osVariant = parseOsVariant(nonEmpty('--os-variant', v)); } },

  {
    names: ['--disk'], arg: 'required', metavar: 'DISK', group: 'Device Options', help: DISK.summary, table: tableOf(DISK),
    apply: (s, v) => {
      const d = parseDisk(nonEmpty('--disk', v));
      if (d === 'none') s.diskNone = true;
      else s.disks.push(d);
    },
  },
  {
    names: ['--network', '-w'], arg: 'required', metavar: 'NETWORK', group: 'Device Options', help: NETWORK.summary, table: tableOf(NETWORK),
    apply: (s, v) => {
      // virt-install still reads the old `bridge:NAME` / `network:NAME` spellings.
      const n = parseNetwork(nonEmpty('--network', v).replace(/^(bridge|network):/, '$1='));
      if (n === 'none') s.networkNone = true;
      else s.networks.push(n);
    },
  },
  { names: ['--graphics'], arg: 'required', metavar: 'GRAPHICS', group: 'Device Options', help: GRAPHICS.summary, table: tableOf(GRAPHICS), apply: (s, v) => { s.graphics = parseGraphics(nonEmpty('--graphics', v)); } },
  { names: ['--serial'], arg: 'required', metavar: 'SERIAL', group: 'Device Options', help: SERIAL.summary, table: tableOf(SERIAL), apply: (s, v) => { s.serials.push(parseCharDevice(SERIAL, nonEmpty('--serial', v))); } },
  { names: ['--console'], arg: 'required', metavar: 'CONSOLE', group: 'Device Options', help: CONSOLE.summary, table: tableOf(CONSOLE), apply: (s, v) => { s.consoles.push(parseCharDevice(CONSOLE, nonEmpty('--console', v))); } },

  { names: ['--events'], arg: 'required', metavar: 'EVENTS', group: 'Guest Configuration Options', help: EVENTS.summary, table: tableOf(EVENTS), apply: (s, v) => { s.events = { ...s.events, ...definedOnly(parseEvents(nonEmpty('--events', v))) }; } },
  { names: ['--features'], arg: 'required', metavar: 'FEATURES', group: 'Guest Configuration Options', help: FEATURES.summary, table: tableOf(FEATURES), apply: (s, v) => { s.features = { ...s.features, ...definedOnly(parseFeatures(nonEmpty('--features', v))) }; } },
  { names: ['--clock'], arg: 'required', metavar: 'CLOCK', group: 'Guest Configuration Options', help: CLOCK.summary, table: tableOf(CLOCK), apply: (s, v) => { s.clockOffset = parseClock(nonEmpty('--clock', v)) ?? s.clockOffset; } },

  {
    names: ['--virt-type'], arg: 'required', metavar: 'VIRT_TYPE', group: 'Virtualization Platform Options', help: 'Hypervisor name to use: kvm or qemu (default: kvm when /dev/kvm is usable)',
    apply: (s, v) => {
      if (v !== 'kvm' && v !== 'qemu') throw new TsvirtError(`--virt-type ${v ?? ''}: unknown virtualization type`, 'use kvm or qemu');
      s.virtType = v;
    },
  },

  {
    names: ['--arch'], arg: 'required', metavar: 'ARCH', group: 'Virtualization Platform Options', help: 'The CPU architecture to simulate: x86_64 (default) or i686',
    apply: (s, v) => {
      if (v !== 'x86_64' && v !== 'i686') throw new TsvirtError(`--arch ${v ?? ''}: unsupported architecture`, 'use x86_64 or i686');
      s.arch = v;
    },
  },
  {
    names: ['--machine'], arg: 'required', metavar: 'MACHINE', group: 'Virtualization Platform Options', help: 'The machine type to emulate: q35 (PCIe, ICH9) or pc (i440FX)',
    apply: (s, v) => {
      if (v !== 'q35' && v !== 'pc') throw new TsvirtError(`--machine ${v ?? ''}: unsupported machine type`, 'use q35 or pc');
      s.machine = v;
    },
  },

  { names: ['--autostart'], arg: 'none', group: 'Miscellaneous Options', help: 'Have domain autostart on host boot up.', apply: (s) => { s.autostart = true; } },
  { names: ['--transient'], arg: 'none', group: 'Miscellaneous Options', help: 'Create a transient domain.', apply: (s) => { s.transient = true; } },
  {
    names: ['--wait'], arg: 'required', metavar: 'WAIT', group: 'Miscellaneous Options', help: 'Minutes to wait for install to complete (-1 waits forever).',
    apply: (s, v) => {
      if (v === undefined || !/^-?\d+$/.test(v)) throw new TsvirtError(`--wait ${v ?? ''}: not a whole number of minutes`, 'give --wait MINUTES, or -1 to wait forever');
      s.waitMinutes = Number(v);
    },
  },
  { names: ['--noautoconsole'], arg: 'none', group: 'Miscellaneous Options', help: "Don't automatically try to connect to the guest console", apply: (s) => { s.noautoconsole = true; } },
  { names: ['--noreboot'], arg: 'none', group: 'Miscellaneous Options', help: "Don't boot guest after completing install.", apply: (s) => { s.noreboot = true; } },
  {
    names: ['--print-xml'], arg: 'optional', metavar: '[XMLONLY]', group: 'Miscellaneous Options', help: 'Print the generated domain XML rather than create the guest (optionally only install step 1 or 2).',
    apply: (s, v) => {
      if (v === undefined || v === 'all') s.printXml = 'all';
      else if (v === '1' || v === '2') s.printXml = Number(v) as 1 | 2;
      else throw new TsvirtError(`--print-xml ${v}: unknown install step`, 'use --print-xml, --print-xml 1 or --print-xml 2');
    },
  },
  { names: ['--dry-run'], arg: 'none', group: 'Miscellaneous Options', help: 'Run through install process, but do not create devices or define the guest.', apply: (s) => { s.dryRun = true; } },
  { names: ['--check'], arg: 'required', metavar: 'CHECK', group: 'Miscellaneous Options', help: CHECK.summary, table: tableOf(CHECK), apply: (s, v) => { s.check = parseCheck(nonEmpty('--check', v), s.check); } },
  { names: ['--quiet', '-q'], arg: 'none', group: 'Miscellaneous Options', help: 'Suppress non-error output', apply: (s) => { s.quiet = true; } },
  { names: ['--debug', '-d'], arg: 'none', group: 'Miscellaneous Options', help: 'Print debugging information', apply: (s) => { s.debug = true; } },
  { names: ['--force'], arg: 'none', group: 'Miscellaneous Options', help: 'Answer yes to every question (e.g. to reuse a disk in use).', apply: (s) => { s.force = true; } },

  // virt-install's hidden back-compat options (see convertLegacyOptions).
  {
    names: ['--uuid', '-u'], arg: 'required', group: 'options', help: '', hidden: true,
    apply: (s, v) => {
      if (v === undefined || !UUID_RE.test(v)) throw new TsvirtError(`--uuid ${v ?? ''}: not a valid UUID`, 'write it as 8-4-4-4-12 hex digits');
      const hex = v.replace(/-/g, '').toLowerCase();
      s.uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  },
  legacyOption(['-c'], 'required', (l, v) => { l.cdromShort = v; }),
  legacyOption(['--file', '-f'], 'required', (l, v) => { l.files.push(v); }),
  legacyOption(['--file-size', '-s'], 'required', (l, v) => {
    if (!/^\d+(\.\d+)?$/.test(v)) throw new TsvirtError(`argument -s/--file-size: invalid float value: '${v}'`, 'give the size in GiB');
    l.fileSizes.push(Number(v));
  }),
  legacyOption(['--nonsparse'], 'none', (l) => { l.nonsparse = true; }),
  legacyOption(['--nodisks'], 'none', (l) => { l.nodisks = true; }),
  legacyOption(['--nonetworks'], 'none', (l) => { l.nonetworks = true; }),
  legacyOption(['--bridge', '-b'], 'required', (l, v) => { l.bridges.push(v); }),
  legacyOption(['--mac', '-m'], 'required', (l, v) => { l.macs.push(v); }),
  legacyOption(['--vnc'], 'none', (l) => { l.vnc = true; }),
  legacyOption(['--vncport'], 'required', (l, v) => {
    if (!/^-?\d+$/.test(v)) throw new TsvirtError(`argument --vncport: invalid int value: '${v}'`, 'give a port number');
    l.vncport = v;
  }),
  legacyOption(['--vnclisten'], 'required', (l, v) => { l.vnclisten = v; }),
  legacyOption(['--keymap', '-k'], 'required', (l, v) => { l.keymap = v; }),
  legacyOption(['--sdl'], 'none', (l) => { l.sdl = true; }),
  legacyOption(['--nographics'], 'none', (l) => { l.nographics = true; }),
  legacyOption(['--noacpi'], 'none', (l) => { l.noacpi = true; }),
  legacyOption(['--noapic'], 'none', (l) => { l.noapic = true; }),
  legacyOption(['--cpuset'], 'required', (l, v) => { l.cpuset = v; }),
  legacyOption(['--os-type'], 'required', (l, v) => { l.osType = v; }),
  legacyOption(['--print-step'], 'required', (l, v) => { l.printStep = v; }),
  // Accepted and ignored by virt-install too: KVM is used when it is there.
  legacyOption(['--accelerate'], 'none', () => {}),
  legacyOption(['--check-cpu'], 'none', () => {}),
];

function emptySpecs(): InstallSpecs {
  return {
    disks: [], diskNone: false, networks: [], networkNone: false, import: false, pxe: false,
    extraArgs: [], initrdInject: [], serials: [], consoles: [], noautoconsole: false, noreboot: false,
    transient: false, autostart: false, dryRun: false, check: ALL_CHECKS_ON, debug: false, quiet: false,
    force: false, help: false, version: false, optionWarnings: [],
  };
}

function emptyLegacy(): LegacyOptions {
  return {
    files: [], fileSizes: [], nonsparse: false, nodisks: false, nonetworks: false, bridges: [], macs: [],
    vnc: false, sdl: false, nographics: false, noacpi: false, noapic: false,
  };
}

/**
 * The hidden back-compat options in their modern form, with virt-install's errors for
 * mixing them with the modern ones (virtinstall.py, convert_old_*).
 */
function convertLegacyOptions(s: InstallSpecs, l: LegacyOptions, graphicsGiven: boolean, disksGiven: boolean, networksGiven: boolean): void {
  if (l.printStep !== undefined) INSTALL_OPTIONS.find((o) => o.names[0] === '--print-xml')!.apply(s, l.printStep, l);
  if (l.cdromShort !== undefined) {
    if (s.cdrom !== undefined) throw new TsvirtError('Cannot use -c and --cdrom at the same time', 'use --cdrom alone');
    if (l.cdromShort.includes('://')) throw new TsvirtError('-c specified with what looks like a libvirt URI. Did you mean to use --connect? If not, use --cdrom instead', 'use --cdrom MEDIA');
    s.cdrom = l.cdromShort;
  }
  // Networks.
  if (l.nonetworks) s.networkNone = true;
  if (l.bridges.length > 0 && networksGiven) throw new TsvirtError('Cannot use --bridge and --network at the same time', 'use --network bridge=NAME');
  const nets: Array<NetworkSpec | 'none'> = l.bridges.length > 0 ? l.bridges.map((b) => parseNetwork(`bridge=${b}`)) : [...s.networks];
  if (l.macs.length > 0 || l.bridges.length > 0) {
    const count = Math.max(nets.length, l.macs.length, 1);
    const out: NetworkSpec[] = [];
    for (let i = 0; i < count; i++) {
      // A plain --mac implies the default network (virt-install: "default").
      const base = nets[i] ?? { type: defaultNetworkType() };
      if (base === 'none') continue;
      out.push(l.macs[i] !== undefined ? { ...base, mac: macAddress(l.macs[i], `--mac ${l.macs[i]}`) } : base);
    }
    s.networks = out;
  }
  // Graphics.
  const oldStyle = l.vnc || l.sdl || l.keymap !== undefined || l.vncport !== undefined || l.vnclisten !== undefined;
  if (graphicsGiven && oldStyle) throw new TsvirtError('Cannot mix --graphics and old style graphical options', 'use --graphics alone');
  if ([l.vnc, l.nographics, l.sdl, graphicsGiven].filter(Boolean).length > 1) throw new TsvirtError("Can't specify more than one of VNC, SDL, --graphics or --nographics", 'keep one of them');
  // Their modern forms are not in tsvirt's --graphics grammar yet: say so by their own name.
  for (const [given, name, modern] of [[l.vncport, '--vncport', 'port='], [l.vnclisten, '--vnclisten', 'listen='], [l.keymap, '--keymap', 'keymap='], [l.sdl || undefined, '--sdl', 'sdl']] as const) {
    if (given !== undefined) throw new TsvirtError(`${name} (--graphics ${modern}) is not supported by tsvirt-install yet`, 'use --graphics vnc or --graphics none');
  }
  if (!graphicsGiven && (l.vnc || l.sdl || l.nographics)) {
    let opt = l.vnc ? 'vnc' : l.sdl ? 'sdl' : 'none';
    if (l.vnclisten !== undefined) opt += `,listen=${l.vnclisten}`;
    if (l.vncport !== undefined) opt += `,port=${l.vncport}`;
    if (l.keymap !== undefined) opt += `,keymap=${l.keymap}`;
    s.graphics = parseGraphics(opt);
  }
  // Disks.
  if (l.nodisks && (l.files.length > 0 || disksGiven || l.fileSizes.length > 0)) throw new TsvirtError('Cannot specify storage and use --nodisks', 'drop --nodisks or the storage options');
  if ((l.files.length > 0 || l.fileSizes.length > 0 || l.nonsparse) && disksGiven) {
    throw new TsvirtError('Cannot mix --file, --nonsparse, or --file-size with --disk options. Use --disk PATH[,size=SIZE][,sparse=yes|no]', 'use --disk');
  }
  if (!disksGiven) {
    if (l.nodisks) s.diskNone = true;
    const count = Math.max(l.files.length, l.fileSizes.length);
    for (let i = 0; i < count; i++) {
      const parts = [l.files[i] !== undefined ? `path=${l.files[i]}` : undefined, l.fileSizes[i] !== undefined ? `size=${l.fileSizes[i]}` : undefined, l.nonsparse ? 'sparse=no' : undefined];
      const d = parseDisk(parts.filter((p) => p !== undefined).join(','));
      if (d !== 'none') s.disks.push(d);
    }
  }
  // Guest configuration.
  if (s.features === undefined && (l.noacpi || l.noapic)) {
    s.features = { ...(l.noacpi ? { acpi: false } : {}), ...(l.noapic ? { apic: false } : {}) };
  }
  if (l.cpuset !== undefined) {
    throw new TsvirtError(`--cpuset (--vcpus cpuset=) is not supported by tsvirt-install yet`, 'drop --cpuset; tsvirt does not pin vCPUs');
  }
  if (l.osType !== undefined) s.optionWarnings.push('--os-type is deprecated and does nothing. Please stop using it.');
}

function notYet(name: string): never {
  throw new TsvirtError(`${name}: this virt-install option is not supported by tsvirt-install yet`, 'see tsvirt-install --help for the options it takes');
}

/**
 * An exact option name, or the one long option `name` is a unique prefix of (argparse's
 * rule), judged among all of virt-install's options so the same prefixes are ambiguous.
 */
function lookupOption(name: string): OptionDef | undefined {
  const exact = BY_NAME.get(name);
  if (exact) return exact;
  if (NOT_YET_OPTIONS.includes(name)) notYet(name);
  if (!name.startsWith('--') || name.length < 3) return undefined;
  const matches = [...BY_NAME.keys(), ...NOT_YET_OPTIONS].filter((n) => n.startsWith('--') && n.startsWith(name));
  const targets = new Set<OptionDef | string>(matches.map((n) => BY_NAME.get(n) ?? n));
  if (targets.size > 1) throw new TsvirtError(`ambiguous option: ${name} could match ${matches.join(', ')}`, 'write the option out in full');
  const [only] = targets;
  if (typeof only === 'string') notYet(only);
  return only;
}

const BY_NAME = new Map<string, OptionDef>(INSTALL_OPTIONS.flatMap((o) => o.names.map((n) => [n, o] as const)));

/** Walks argv (without the program name) and parses every option into InstallSpecs. */
export function parseInstallArgv(argv: readonly string[]): InstallSpecs {
  const specs = emptySpecs();
  const legacy = emptyLegacy();
  const seen = new Set<string>();
  const unrecognized: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    let name = word;
    let inline: string | undefined;
    if (word.startsWith('--') && word.includes('=')) {
      name = word.slice(0, word.indexOf('='));
      inline = word.slice(word.indexOf('=') + 1);
    }
    const def = lookupOption(name);
    if (!def) {
      unrecognized.push(word);
      continue;
    }
    let value = inline;
    if (def.arg === 'none' && inline !== undefined) throw new TsvirtError(`${name}: takes no value`, `write ${name} alone`);
    if (def.arg === 'required' && value === undefined) {
      if (i + 1 >= argv.length) throw new TsvirtError(`argument ${def.names.join('/')}: expected one argument`, `give ${name} ${def.metavar ?? 'VALUE'}`);
      value = argv[++i];
    }
    if (def.arg === 'optional' && value === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('-')) value = argv[++i];
    // Every value ends up in XML, a kernel command line or a path: control characters
    // (XML 1.0 forbids most; newlines would split a cmdline) are refused up front.
    if (value !== undefined && /[\x00-\x1f\x7f]/.test(value)) {
      throw new TsvirtError(`${name}: the value contains control characters`, 'remove newlines, tabs and other control characters');
    }
    def.apply(specs, value, legacy);
    seen.add(def.names[0]);
  }
  if (unrecognized.length > 0) {
    throw new TsvirtError(`unrecognized arguments: ${unrecognized.join(' ')}`, 'see tsvirt-install --help');
  }
  convertLegacyOptions(specs, legacy, seen.has('--graphics'), seen.has('--disk'), seen.has('--network'));
  return specs;
}
