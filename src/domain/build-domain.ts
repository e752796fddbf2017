// Turns the parsed command line into the Domain(s) of an install and the plan of what to
// create and fetch (STYLE.md §8): explicit options first, then the OS variant's defaults,
// then tool defaults (defaults.ts). Everything a user can get wrong is checked here, before
// anything touches the disk. The install-phase/final-phase split and boot orders follow
// virt-install (virtinst/install/installer.py: _build_boot_order, _get_postinstall_bootdev,
// on_reboot=destroy while installing; a cdrom install ejects its media afterwards).
import { dirname, isAbsolute, resolve } from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import {
  buildBootOrder, defaultClockTimers, defaultCpu, defaultDiskBus, defaultDiskFormat, defaultNetworkType,
  defaultNicModel, generateMac, installerRepoArgs,
} from './defaults.js';
import { assignTargets } from './device-names.js';
import { defaultDiskPath } from './disk-paths.js';
import {
  BYTES_PER_GIB, DEFAULT_LIFECYCLE, KIB_PER_MIB, type BootDevice, type CharDevice, type Cpu, type CpuTopology, type Disk,
  type DiskBus, type DiskDevice, type DiskFormat, type Domain, type MachineType, type NetworkInterface, type VirtType,
} from './model.js';
import type { InstallSpecs } from './options/install-options.js';
import { generateDomainName } from './generate-name.js';
import type { LocationSpec } from './options/location.js';
import { findOsVariant, findOsVariantById, GENERIC_VARIANT_ID, genericVariant, type OsVariant } from './os-variants.js';
import type { OsinfoDb } from './osinfo/index.js';

/** What src/install reports after resolving a --location tree (kernel/initrd as local files). */
export interface ResolvedBootMedia {
  readonly kernel: string;
  readonly initrd: string;
  /** Arguments the distro's installer needs (e.g. inst.repo=URL), appended after --extra-args. */
  readonly cmdlineArgs: readonly string[];
}

export interface BuildContext {
  readonly virtType: VirtType;
  readonly cwd: string;
  readonly imageDir: string;
  readonly bootDir: string;
  readonly fileExists: (path: string) => boolean;
  readonly isDirectory: (path: string) => boolean;
  /** The format of an existing image (for a backing store named without backing_format=). */
  readonly imageFormat: (path: string) => DiskFormat;
  readonly uuid: () => string;
  readonly random: (n: number) => Uint8Array;
  /** Bytes free for new files in a directory (or its nearest existing parent); undefined if unknown. */
  readonly freeBytes?: (dir: string) => number | undefined;
  /** Given by the integrator once src/install resolves trees; without it, tsvirt plans the fetch. */
  readonly resolveLocation?: (location: LocationSpec) => ResolvedBootMedia;
  /** Whether a domain of this name is defined (for the name virt-install derives without --name). */
  readonly domainExists?: (name: string) => boolean;
}

/** A disk image the install would create. */
export interface PlannedDisk {
  readonly path: string;
  readonly sizeGiB: number;
  readonly format: DiskFormat;
  /** false: preallocate (sparse=no). */
  readonly sparse: boolean;
  readonly backingStore?: string;
  readonly backingFormat?: DiskFormat;
}

export type InstallMethod = 'location' | 'cdrom' | 'pxe' | 'import' | 'boot';

/** The install media: what would be fetched or attached, as given and where it goes. */
export interface MediaPlan {
  readonly method: InstallMethod;
  readonly location?: LocationSpec;
  readonly cdrom?: string;
  /**
   * Kernel and initrd: where they come from (URL or path inside the tree; absent when the
   * tree's .treeinfo or layout names it, which src/install reads) and the local file booted.
   */
  readonly kernel?: { readonly from?: string; readonly to: string };
  readonly initrd?: { readonly from?: string; readonly to: string };
  readonly extraArgs?: string;
  readonly injectFiles: readonly string[];
}

export interface BuiltInstall {
  readonly variant: OsVariant;
  /** The install phase, when there is one (location, cdrom, pxe). */
  readonly installPhase?: Domain;
  /** The installed system (or the only document, for --import and --boot). */
  readonly finalPhase: Domain;
  readonly disksToCreate: readonly PlannedDisk[];
  readonly media: MediaPlan;
  readonly warnings: readonly string[];
  /** The variant defaults that filled a gap, as virt-install reports them ("Using fedora37 default --memory 2048"). */
  readonly defaultsUsed: readonly string[];
}

function chooseVariant(specs: InstallSpecs, db: OsinfoDb | undefined): OsVariant {
  const ov = specs.osVariant;
  // Resources are looked up for the guest's arch, as virt-install does.
  const arch = specs.arch ?? 'x86_64';
  if (!ov) {
    throw new TsvirtError(
      '--os-variant/--osinfo OS name is required, but no value was set or detected',
      'pick one with --osinfo NAME (see --osinfo list), or use --osinfo detect=on,require=off',
    );
  }
  if (ov.kind === 'named') return findOsVariant(ov.name, { arch, db });
  if (ov.kind === 'osinfo-uri') return findOsVariantById(ov.uri, { arch, db });
  if (ov.kind === 'detect') {
    // Detection from install media is src/install's; until it answers, tsvirt detects nothing.
    if (ov.require) {
      throw new TsvirtError('--os-variant/--osinfo OS name is required, but no value was set or detected', 'detecting the OS from the install media is not supported yet; give --osinfo NAME or require=off');
    }
    return genericVariant(arch);
  }
  throw new TsvirtError('--osinfo list prints the variants; it does not pick one', 'use --osinfo NAME');
}

function installMethod(specs: InstallSpecs): InstallMethod {
  const given: [string, boolean][] = [
    ['--location', specs.location !== undefined],
    ['--cdrom', specs.cdrom !== undefined],
    ['--pxe', specs.pxe],
    ['--import', specs.import],
  ];
  const chosen = given.filter(([, on]) => on).map(([n]) => n);
  if (chosen.length > 1) {
    throw new TsvirtError(`Only one install method can be used (${chosen.join(', ')} given)`, 'choose one of --location URL, --cdrom ISO, --pxe, --import');
  }
  if (chosen.length === 1) return chosen[0].slice(2) as InstallMethod;
  if (specs.boot && (specs.boot.kernel !== undefined || specs.boot.order.length > 0)) return 'boot';
  throw new TsvirtError('An install method must be specified', 'use --location URL, --cdrom ISO, --pxe, --import or --boot hd|cdrom|kernel=...');
}

/** Needs a default disk: no --disk given, and a method that installs onto one. */
function wantsDefaultDisk(specs: InstallSpecs, method: InstallMethod): boolean {
  return specs.disks.length === 0 && !specs.diskNone && method !== 'boot' && method !== 'import';
}

/**
 * virt-install requires --memory and --disk when the OS gives no default for them (an OS
 * osinfo-db has no resources for, or generic); like virt-install, both are reported at once.
 */
function checkRequiredOptions(specs: InstallSpecs, variant: OsVariant, method: InstallMethod): void {
  const missing = [
    ...(specs.memory === undefined && variant.memoryMiB === undefined ? ['--memory amount in MiB is required'] : []),
    ...(wantsDefaultDisk(specs, method) && variant.diskGiB === undefined ? ['--disk storage must be specified (override with --disk none)'] : []),
  ];
  if (missing.length > 0) {
    const what = missing.length > 1 ? 'memory or disk size' : missing[0].startsWith('--memory') ? 'memory' : 'disk size';
    throw new TsvirtError(missing.join('; '), `${variant.id} has no recommended ${what}${variant.osinfo ? ' in osinfo-db' : ''}`);
  }
}

function memoryKiB(specs: InstallSpecs, variant: OsVariant, warnings: string[]): { memoryKiB: number; currentMemoryKiB: number } {
  const m = specs.memory;
  const currentMiB = m?.currentMemoryMiB ?? m?.memoryMiB ?? (variant.memoryMiB as number);
  const maxMiB = m?.memoryMiB ?? currentMiB;
  const toKiB = (mib: number) => Math.round(mib * KIB_PER_MIB);
  if (toKiB(currentMiB) > toKiB(maxMiB)) {
    throw new TsvirtError(`--memory: currentMemory ${currentMiB} MiB is larger than memory ${maxMiB} MiB`, 'the boot memory must not exceed the maximum');
  }
  if (toKiB(currentMiB) < 1) throw new TsvirtError('--memory: memory must be at least 1 KiB', 'give memory in MiB');
  if (currentMiB < variant.minMemoryMiB) {
    warnings.push(`Requested memory ${currentMiB} MiB is less than the recommended ${variant.minMemoryMiB} MiB for OS ${variant.id}`);
  }
  return { memoryKiB: toKiB(maxMiB), currentMemoryKiB: toKiB(currentMiB) };
}

function vcpuLayout(specs: InstallSpecs, variant: OsVariant): { max: number; current: number; topology?: CpuTopology } {
  const v = specs.vcpus ?? {};
  const topoGiven = v.sockets !== undefined || v.dies !== undefined || v.cores !== undefined || v.threads !== undefined;
  if (!topoGiven) {
    const max = v.maxvcpus ?? v.vcpus ?? variant.vcpus;
    const current = v.vcpus ?? max;
    if (current > max) throw new TsvirtError(`--vcpus: ${current} vCPUs is more than maxvcpus=${max}`, 'raise maxvcpus or lower the count');
    return { max, current };
  }
  const dies = v.dies ?? 1;
  const cores = v.cores ?? 1;
  const threads = v.threads ?? 1;
  const wanted = v.maxvcpus ?? v.vcpus;
  const sockets = v.sockets ?? (wanted !== undefined ? Math.max(1, Math.floor(wanted / (dies * cores * threads))) : 1);
  const product = sockets * dies * cores * threads;
  const max = v.maxvcpus ?? product;
  if (product !== max) {
    throw new TsvirtError(`--vcpus: topology ${sockets} sockets x ${dies} dies x ${cores} cores x ${threads} threads = ${product} does not match ${max} vCPUs`, 'make sockets*dies*cores*threads equal the (max) vCPU count');
  }
  const current = v.vcpus ?? max;
  if (current > max) throw new TsvirtError(`--vcpus: ${current} vCPUs is more than the topology's ${max}`, 'raise the topology or lower the count');
  return { max, current, topology: { sockets, dies, cores, threads } };
}

interface DiskDraft {
  readonly device: DiskDevice;
  readonly sourcePath?: string;
  readonly format?: DiskFormat;
  readonly bus: DiskBus;
  readonly targetDev?: string;
  readonly readonly: boolean;
  readonly shareable: boolean;
  readonly cache?: Disk['cache'];
  readonly discardUnmap: boolean;
  readonly serial?: string;
  readonly bootOrder?: number;
  readonly backingStore?: Disk['backingStore'];
}

function planDisks(specs: InstallSpecs, variant: OsVariant, machine: MachineType, method: InstallMethod, ctx: BuildContext, name: string): { drafts: DiskDraft[]; create: PlannedDisk[] } {
  if (specs.diskNone && specs.disks.length > 0) throw new TsvirtError('--disk none cannot be combined with other --disk options', 'drop --disk none or the other disks');
  const diskSpecs = [...specs.disks];
  if (method === 'import' && diskSpecs.length === 0) {
    throw new TsvirtError('--import requires at least one --disk', 'give the existing image with --disk PATH');
  }
  // virt-install adds a disk of the variant's recommended size when none is asked for.
  if (diskSpecs.length === 0 && !specs.diskNone && method !== 'boot') diskSpecs.push({ sizeGiB: variant.diskGiB as number });
  const drafts: DiskDraft[] = [];
  const create: PlannedDisk[] = [];
  const claimed = new Set<string>();
  const taken = (p: string) => claimed.has(p) || ctx.fileExists(p);
  for (const d of diskSpecs) {
    const device = d.device ?? 'disk';
    const bus = d.bus ?? defaultDiskBus(device, variant, machine);
    if (device === 'floppy' && bus !== 'fdc') throw new TsvirtError(`--disk: a floppy goes on the fdc bus, not ${bus}`, 'drop bus= for floppies');
    if (device !== 'floppy' && bus === 'fdc') throw new TsvirtError(`--disk: only floppies go on the fdc bus`, 'use device=floppy or another bus');
    if (d.backingFormat !== undefined && d.backingStore === undefined) throw new TsvirtError('--disk: backing_format= needs backing_store=', 'add backing_store=PATH');
    let path = d.path === undefined ? undefined : isAbsolute(d.path) ? d.path : resolve(ctx.cwd, d.path);
    const backingStore = d.backingStore === undefined ? undefined : isAbsolute(d.backingStore) ? d.backingStore : resolve(ctx.cwd, d.backingStore);
    let format = d.format;
    let discardUnmap = false;
    let backing: Disk['backingStore'];
    if (path === undefined && d.sizeGiB === undefined && device !== 'disk') {
      // An empty cdrom or floppy drive (virt-install's `--disk device=cdrom,bus=scsi`).
      drafts.push({ device, bus, targetDev: d.targetDev, readonly: d.readonly ?? device === 'cdrom', shareable: d.shareable ?? false, cache: d.cache, discardUnmap, serial: d.serial, bootOrder: d.bootOrder });
      continue;
    }
    if (path === undefined || !ctx.fileExists(path)) {
      if (d.sizeGiB === undefined) {
        if (path === undefined) throw new TsvirtError('--disk: neither a path nor size= given', 'give --disk PATH for an existing image or --disk size=GiB for a new one');
        if (method === 'import') throw new TsvirtError(`--import: disk image '${path}' does not exist`, 'check the path, or give size= to create a new image');
        throw new TsvirtError(`--disk ${path}: the file does not exist and no size= was given`, 'give size=GiB to create it');
      }
      if (device !== 'disk') throw new TsvirtError(`--disk: a ${device} cannot be created (size= given for ${path ?? 'a new image'})`, 'give an existing image file');
      if (backingStore !== undefined && !ctx.fileExists(backingStore)) throw new TsvirtError(`--disk: backing store '${backingStore}' does not exist`, 'check the backing_store path');
      format ??= defaultDiskFormat();
      if (backingStore !== undefined && format !== 'qcow2') throw new TsvirtError('--disk: only qcow2 images can have a backing store', 'use format=qcow2');
      path ??= defaultDiskPath(name, format, ctx.imageDir, taken);
      create.push({ path, sizeGiB: d.sizeGiB, format, sparse: d.sparse ?? true, backingStore, backingFormat: d.backingFormat });
      if (backingStore !== undefined) backing = { path: backingStore, format: d.backingFormat ?? ctx.imageFormat(backingStore) };
      discardUnmap = true;
    } else if (ctx.isDirectory(path)) {
      throw new TsvirtError(`--disk ${path}: is a directory`, 'give an image file');
    }
    if (claimed.has(path)) throw new TsvirtError(`--disk ${path}: the same image is given twice`, 'give each disk its own image');
    claimed.add(path);
    drafts.push({
      device, sourcePath: path, format, bus, targetDev: d.targetDev,
      readonly: d.readonly ?? device === 'cdrom', shareable: d.shareable ?? false,
      cache: d.cache, discardUnmap, serial: d.serial, bootOrder: d.bootOrder,
      ...(backing ? { backingStore: backing } : {}),
    });
  }
  return { drafts, create };
}

/**
 * --check disk_size: the images must fit where they go. As libvirt's storage pools judge
 * it: preallocated images that do not fit are an error, sparse ones a warning (they only
 * fail once the guest fills them).
 */
function checkDiskSpace(create: readonly PlannedDisk[], ctx: BuildContext, warnings: string[]): void {
  if (!ctx.freeBytes) return;
  const byDir = new Map<string, PlannedDisk[]>();
  for (const d of create) byDir.set(dirname(d.path), [...(byDir.get(dirname(d.path)) ?? []), d]);
  for (const [dir, disks] of byDir) {
    const free = ctx.freeBytes(dir);
    if (free === undefined) continue;
    const mib = (bytes: number) => Math.floor(bytes / 2 ** 20);
    const preallocated = disks.filter((d) => !d.sparse).reduce((n, d) => n + d.sizeGiB * BYTES_PER_GIB, 0);
    const total = disks.reduce((n, d) => n + d.sizeGiB * BYTES_PER_GIB, 0);
    if (preallocated > free) {
      throw new TsvirtError(`There is not enough free space in ${dir} to create the disk images (${mib(preallocated)} M requested allocation > ${mib(free)} M available)`, 'free space, choose smaller or sparse images, or use --check disk_size=off');
    }
    if (total > free) {
      warnings.push(`The requested disk capacity will exceed the available space in ${dir} when the images are fully allocated (${mib(total)} M requested capacity > ${mib(free)} M available)`);
    }
  }
}

function planInterfaces(specs: InstallSpecs, variant: OsVariant, machine: MachineType, random: (n: number) => Uint8Array): NetworkInterface[] {
  if (specs.networkNone && specs.networks.length > 0) throw new TsvirtError('--network none cannot be combined with other --network options', 'drop --network none or the other networks');
  if (specs.networkNone) return [];
  const nets = specs.networks.length > 0 ? specs.networks : [{ type: defaultNetworkType() } as const];
  const macs = new Set<string>();
  return nets.map((n) => {
    const mac = n.mac ?? generateMac(random);
    if (macs.has(mac)) throw new TsvirtError(`--network: MAC address ${mac} is used twice`, 'give each interface its own mac=');
    macs.add(mac);
    return { type: n.type, source: n.source, mac, model: n.model ?? defaultNicModel(variant, machine), bootOrder: n.bootOrder, ...(n.portForwards ? { portForwards: n.portForwards } : {}) };
  });
}

function checkLocalFile(option: string, path: string, ctx: BuildContext): string {
  const abs = isAbsolute(path) ? path : resolve(ctx.cwd, path);
  if (!ctx.fileExists(abs)) throw new TsvirtError(`${option} ${path}: file not found`, 'check the path');
  if (ctx.isDirectory(abs)) throw new TsvirtError(`${option} ${path}: is a directory`, 'give a file');
  return abs;
}

/** Linux x86 COMMAND_LINE_SIZE (arch/x86/include/uapi/asm/setup.h): 2048 bytes with the NUL. */
export const COMMAND_LINE_SIZE = 2048;

function checkCmdlineLength(option: string, cmdline: string): void {
  const bytes = Buffer.byteLength(cmdline);
  if (bytes >= COMMAND_LINE_SIZE) {
    throw new TsvirtError(`${option}: the kernel command line is ${bytes} bytes, more than the ${COMMAND_LINE_SIZE - 1} Linux accepts`, 'shorten the kernel arguments');
  }
}

function joinTreePath(location: LocationSpec, rel: string, ctx: BuildContext): string {
  if (location.isUrl) return new URL(rel, location.location.endsWith('/') ? location.location : `${location.location}/`).href;
  return resolve(ctx.cwd, location.location, rel);
}

function planMedia(specs: InstallSpecs, method: InstallMethod, variant: OsVariant, ctx: BuildContext, name: string): { media: MediaPlan; cmdline?: string } {
  const extraArgs = specs.extraArgs.length > 0 ? specs.extraArgs.join(' ') : undefined;
  if (specs.initrdInject.length > 0 && method !== 'location') throw new TsvirtError('--initrd-inject works only with --location', 'install from a tree with --location');
  if (extraArgs !== undefined && method !== 'location') throw new TsvirtError('--extra-args works only with --location', 'use --boot kernel_args= to boot a kernel with arguments');
  const injectFiles = specs.initrdInject.map((f) => checkLocalFile('--initrd-inject', f, ctx));
  if (method === 'cdrom') return { media: { method, cdrom: checkLocalFile('--cdrom', specs.cdrom as string, ctx), injectFiles } };
  if (method !== 'location') return { media: { method, injectFiles } };
  const location = specs.location as LocationSpec;
  if (!location.isUrl) {
    const dir = resolve(ctx.cwd, location.location);
    if (!ctx.isDirectory(dir)) throw new TsvirtError(`--location ${location.location}: no such directory`, 'give a URL or an existing install tree directory');
    // A local tree is resolved as far as the overrides go: the files they name must exist.
    for (const [key, rel] of [['kernel', location.kernel], ['initrd', location.initrd]] as const) {
      if (rel !== undefined && !ctx.fileExists(joinTreePath(location, rel, ctx))) {
        throw new TsvirtError(`--location ${key}=${rel}: no such file in the tree ${dir}`, `give the ${key}'s path relative to the tree`);
      }
    }
  }
  let kernel: { from?: string; to: string };
  let initrd: { from?: string; to: string };
  let args: readonly string[];
  if (ctx.resolveLocation) {
    const r = ctx.resolveLocation(location);
    kernel = { from: location.kernel ? joinTreePath(location, location.kernel, ctx) : undefined, to: r.kernel };
    initrd = { from: location.initrd ? joinTreePath(location, location.initrd, ctx) : undefined, to: r.initrd };
    args = r.cmdlineArgs;
  } else {
    // The tree's own layout (.treeinfo) decides the paths when no override is given; the
    // install layer resolves it. The boot files land in the boot directory either way.
    kernel = { from: location.kernel ? joinTreePath(location, location.kernel, ctx) : undefined, to: resolve(ctx.bootDir, `${name}-vmlinuz`) };
    initrd = { from: location.initrd ? joinTreePath(location, location.initrd, ctx) : undefined, to: resolve(ctx.bootDir, `${name}-initrd.img`) };
    args = installerRepoArgs(variant.kernelUrlArg, location.location, location.isUrl);
  }
  const cmdline = [extraArgs, ...args].filter((a) => a !== undefined && a !== '').join(' ');
  checkCmdlineLength('--extra-args', cmdline);
  return { media: { method, location, kernel, initrd, extraArgs, injectFiles }, cmdline: cmdline === '' ? undefined : cmdline };
}

/** Drops undefined fields, so absent and unset read the same way to later layers. */
function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function disksFromDrafts(drafts: readonly DiskDraft[]): Disk[] {
  const targets = assignTargets(drafts);
  return drafts.map((d, i) => ({ ...d, targetDev: targets[i] }));
}

/** virt-install's post-install boot device (installer.py _get_postinstall_bootdev). */
function postInstallBootDevice(method: InstallMethod, disks: readonly Disk[]): BootDevice {
  const installDev: BootDevice | undefined = method === 'cdrom' ? 'cdrom' : method === 'pxe' ? 'network' : undefined;
  if (installDev) return disks.some((d) => d.device === 'disk') ? 'hd' : installDev;
  const first = disks[0]?.device;
  return first === 'cdrom' ? 'cdrom' : first === 'floppy' ? 'fd' : 'hd';
}

/** `db` defaults to the process's osinfo-db (src/domain/osinfo), loaded on first use. */
export function buildInstall(specs: InstallSpecs, ctx: BuildContext, db?: OsinfoDb): BuiltInstall {
  const variant = chooseVariant(specs, db);
  // Without --name, virt-install names the guest after its OS (fedora37, fedora37-2 ...).
  const name = specs.name ?? generateDomainName(variant.id, {
    arch: specs.arch ?? variant.arch, hostArch: 'x86_64', taken: (n) => ctx.domainExists?.(n) ?? false,
  });
  const method = installMethod(specs);
  checkRequiredOptions(specs, variant, method);
  const warnings: string[] = [];
  if (variant.id === GENERIC_VARIANT_ID) warnings.push(`Using --osinfo ${variant.id}, VM performance may suffer. Specify an accurate OS for optimal results.`);
  const memory = memoryKiB(specs, variant, warnings);
  const vcpus = vcpuLayout(specs, variant);
  const machine = specs.machine ?? variant.machine;
  const arch = specs.arch ?? variant.arch;
  const { drafts, create } = planDisks(specs, variant, machine, method, ctx, name);
  if (specs.check.disk_size) checkDiskSpace(create, ctx, warnings);
  const interfaces = planInterfaces(specs, variant, machine, ctx.random);
  const { media, cmdline } = planMedia(specs, method, variant, ctx, name);

  // A cdrom install attaches the ISO as the last disk; afterwards the drive stays, empty.
  const installDrafts = method === 'cdrom'
    ? [...drafts, { device: 'cdrom' as const, sourcePath: media.cdrom, bus: defaultDiskBus('cdrom', variant, machine), readonly: true, shareable: false, discardUnmap: false }]
    : drafts;
  const installDisks = disksFromDrafts(installDrafts);
  const finalDisks = method === 'cdrom'
    ? installDisks.map((d, i) => (i === installDisks.length - 1 ? { ...d, sourcePath: undefined } : d))
    : installDisks;

  const cpuBase: Cpu | undefined = specs.cpu ? { mode: specs.cpu.mode, model: specs.cpu.model } : defaultCpu(ctx.virtType);
  const cpu: Cpu | undefined = vcpus.topology ? { ...cpuBase, topology: vcpus.topology } : cpuBase;
  const consoles: CharDevice[] = specs.consoles.length === 0 && specs.serials.length === 0 ? [{ type: 'pty' }] : specs.consoles;
  const deviceBootOrder = installDisks.some((d) => d.bootOrder !== undefined) || interfaces.some((n) => n.bootOrder !== undefined);
  const hasDisk = installDisks.some((d) => d.device === 'disk');
  const bootKernel = specs.boot?.kernel !== undefined;
  if (specs.boot?.kernelArgs !== undefined) checkCmdlineLength('--boot kernel_args=', specs.boot.kernelArgs);
  if (bootKernel && method === 'location') throw new TsvirtError('--boot kernel= cannot be combined with --location', 'the install tree provides the kernel; drop --boot kernel=');

  let finalOrder: BootDevice[] = [];
  if (!deviceBootOrder && !bootKernel) {
    finalOrder = specs.boot && specs.boot.order.length > 0 ? [...specs.boot.order] : buildBootOrder(postInstallBootDevice(method, finalDisks), hasDisk);
  }
  const base: Domain = {
    type: ctx.virtType,
    name,
    uuid: specs.uuid ?? ctx.uuid(),
    osinfo: variant.osinfo,
    ...memory,
    vcpusMax: vcpus.max,
    vcpusCurrent: vcpus.current,
    cpu,
    os: {
      type: 'hvm', arch, machine, bootOrder: finalOrder,
      ...(bootKernel ? definedOnly({
        kernel: checkLocalFile('--boot kernel=', specs.boot?.kernel as string, ctx),
        initrd: specs.boot?.initrd === undefined ? undefined : checkLocalFile('--boot initrd=', specs.boot.initrd, ctx),
        cmdline: specs.boot?.kernelArgs || undefined,
      }) : {}),
    },
    features: {
      acpi: specs.features?.acpi ?? true,
      apic: specs.features?.apic ?? true,
      // PAE is what lets a 32-bit guest use more than 4 GiB; virt-install turns it on for i686.
      pae: specs.features?.pae ?? arch === 'i686',
    },
    clock: { offset: specs.clockOffset ?? 'utc', timers: defaultClockTimers() },
    lifecycle: { ...DEFAULT_LIFECYCLE, ...specs.events },
    devices: {
      disks: finalDisks,
      interfaces,
      serials: specs.serials,
      consoles,
      graphics: specs.graphics === undefined || specs.graphics === 'none' ? [] : [{ type: specs.graphics }],
      rng: [{ model: 'virtio', backendPath: '/dev/urandom' }],
    },
  };
  if (!bootKernel && specs.boot && (specs.boot.initrd !== undefined || specs.boot.kernelArgs !== undefined)) {
    throw new TsvirtError('--boot initrd= and kernel_args= need kernel=', 'add kernel=PATH to --boot');
  }

  let installPhase: Domain | undefined;
  if (method === 'location' || method === 'cdrom' || method === 'pxe') {
    const installOrder: BootDevice[] = method === 'location' || deviceBootOrder ? [] : buildBootOrder(method === 'cdrom' ? 'cdrom' : 'network', hasDisk);
    installPhase = {
      ...base,
      os: {
        type: 'hvm', arch, machine, bootOrder: installOrder,
        ...(method === 'location' ? definedOnly({ kernel: media.kernel?.to, initrd: media.initrd?.to, cmdline }) : {}),
      },
      // The installer's reboot ends the install phase (virt-install sets on_reboot=destroy).
      lifecycle: { ...base.lifecycle, onReboot: 'destroy' },
      devices: { ...base.devices, disks: installDisks },
    };
  }
  const defaultsUsed = [
    ...(specs.memory === undefined ? [`Using ${variant.id} default --memory ${variant.memoryMiB}`] : []),
    ...(wantsDefaultDisk(specs, method) ? [`Using ${variant.id} default --disk size=${variant.diskGiB}`] : []),
  ];
  return { variant, installPhase, finalPhase: base, disksToCreate: create, media, warnings, defaultsUsed };
}
