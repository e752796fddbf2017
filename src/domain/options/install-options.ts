// The tsvirt-install command line: virt-install's options, their groups (as virt-install
// --help groups them), aliases and arity, and the argv walk that turns them into typed
// InstallSpecs. Options with suboptions delegate to their table (one file per option).
// Argument forms accepted: `--opt value`, `--opt=value`, short `-n value`; an option with
// an optional value (--print-xml [step]) takes the next word only if it is not an option.
// Left out: virt-install options tsvirt does not model (--connect, --controller, --tpm ...):
// they are rejected as unrecognized.
import { TsvirtError } from '../../lib/errors.js';
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
import { NETWORK, parseNetwork, type NetworkSpec } from './network.js';
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
  readonly apply: (specs: InstallSpecs, value: string | undefined) => void;
}

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
      const n = parseNetwork(nonEmpty('--network', v));
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
];

function emptySpecs(): InstallSpecs {
  return {
    disks: [], diskNone: false, networks: [], networkNone: false, import: false, pxe: false,
    extraArgs: [], initrdInject: [], serials: [], consoles: [], noautoconsole: false, noreboot: false,
    transient: false, autostart: false, dryRun: false, check: ALL_CHECKS_ON, debug: false, quiet: false,
    force: false, help: false, version: false,
  };
}

const BY_NAME = new Map<string, OptionDef>(INSTALL_OPTIONS.flatMap((o) => o.names.map((n) => [n, o] as const)));

/** Walks argv (without the program name) and parses every option into InstallSpecs. */
export function parseInstallArgv(argv: readonly string[]): InstallSpecs {
  const specs = emptySpecs();
  const unrecognized: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    let name = word;
    let inline: string | undefined;
    if (word.startsWith('--') && word.includes('=')) {
      name = word.slice(0, word.indexOf('='));
      inline = word.slice(word.indexOf('=') + 1);
    }
    const def = BY_NAME.get(name);
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
    def.apply(specs, value);
  }
  if (unrecognized.length > 0) {
    throw new TsvirtError(`unrecognized arguments: ${unrecognized.join(' ')}`, 'see tsvirt-install --help');
  }
  return specs;
}
