// The OS variants tsvirt-install knows (--os-variant / --osinfo): every OS in libosinfo's
// osinfo-db (src/domain/osinfo) plus the `generic` variant virt-install adds itself, each
// with the defaults virt-install 4.1 derives from the database for a guest of that OS on
// an x86 KVM host:
//  - memory, vCPUs and disk size from the recommended resources for the guest's arch
//    (else the arch-independent entry), or twice the minimum when only a minimum is
//    known (virtinst osdict.py _OsResources, virtinstall.py set_cli_defaults); an OS with
//    neither leaves --memory and --disk to the user, as virt-install requires them then;
//  - virtio disks iff the OS supports virtio-block (legacy or 1.0), else SATA on q35 and
//    IDE on i440FX (devices/disk.py _default_bus);
//  - a virtio NIC iff it supports virtio-net, else e1000e on q35, else the first of
//    e1000, rtl8139, ne2k_pci, pcnet the OS supports, else e1000 (devices/interface.py);
//  - q35 iff the OS supports the q35 chipset and, when it has virtio-net, virtio 1.0 too
//    (osdict.py supports_chipset_q35, guest.py _set_default_machine); else i440FX (pc).
// Names resolve as virt-install's: `generic` or any short id of any OS; full ids (http://...)
// by findOsVariantById. Unknown names get virt-install's error, with close matches as the hint.
// Left out: detecting the OS from install media (the tree/ISO rules are in the records),
// EOL flags, firmware (UEFI) needs and the devices tsvirt does not model (virtio-serial,
// -rng, -gpu, USB 3), which virt-install also picks from the database.
import { TsvirtError } from '../lib/errors.js';
import { defaultDiskBus, defaultNicModel } from './defaults.js';
import type { Arch, DiskBus, MachineType, NicModel } from './model.js';
import {
  ancestry, defaultOsinfoDb, kernelUrlArgument, minimumResource, recommendedResource, resolvedResources, supportedDevices,
  type DeviceRecord, type OsinfoDb, type OsRecord,
} from './osinfo/index.js';

export interface OsVariant {
  /** virt-install's name for the OS: its first short id (`generic` for the generic variant). */
  readonly id: string;
  /** The OS's other short ids, all accepted as names. */
  readonly aliases: readonly string[];
  /** libosinfo's <name> ("Fedora Linux 37"). */
  readonly name: string;
  /** The install layer's distro family: fedora, rhel (and its rebuilds), debian, ubuntu, alpine, else libosinfo's distro or family. */
  readonly family: string;
  /** libosinfo's full id, recorded in the domain's <metadata>; absent for generic. */
  readonly osinfo?: string;
  readonly distro?: string;
  readonly version?: string;
  /** Below this, virt-install warns; 0 when the database gives no minimum. */
  readonly minMemoryMiB: number;
  /** The default memory; absent when the database recommends none (then --memory is required). */
  readonly memoryMiB?: number;
  readonly vcpus: number;
  /** The size of the disk created when no --disk is given; absent when the database has none. */
  readonly diskGiB?: number;
  /** The disk bus and NIC model on this variant's default machine (defaults.ts recomputes them for another). */
  readonly diskBus: DiskBus;
  readonly nicModel: NicModel;
  readonly machine: MachineType;
  readonly arch: Arch;
  readonly virtioDisk: boolean;
  readonly virtioNet: boolean;
  /** The NIC model on i440FX when the OS has no virtio-net driver. */
  readonly legacyNicModel: NicModel;
  /** The kernel argument that points the OS's installer at a network tree (inst.repo, method, install). */
  readonly kernelUrlArg?: string;
}

/** The variant virt-install adds to libosinfo's list (and uses when detection finds nothing and require=off). */
export const GENERIC_VARIANT_ID = 'generic';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

// libosinfo device ids (osinfo-db device/): virtio legacy and 1.0 PCI ids, QEMU's q35 chipset.
const VIRTIO_BLOCK = ['http://pcisig.com/pci/1af4/1001', 'http://pcisig.com/pci/1af4/1042'];
const VIRTIO_NET = ['http://pcisig.com/pci/1af4/1000', 'http://pcisig.com/pci/1af4/1041'];
const VIRTIO1_NET = 'http://pcisig.com/pci/1af4/1041';
const Q35_CHIPSET = 'http://qemu.org/chipset/x86/q35';
/** virt-install's preference among the NICs an OS without virtio-net supports on i440FX. */
const LEGACY_NIC_PREFERENCE = ['e1000', 'rtl8139', 'ne2k_pci', 'pcnet'] as const;

/** Distros whose installers tsvirt's install layer tells apart; rebuilds map to what they rebuild. */
const INSTALL_FAMILIES: Readonly<Record<string, string>> = {
  fedora: 'fedora', rhel: 'rhel', centos: 'rhel', debian: 'debian', ubuntu: 'ubuntu', alpinelinux: 'alpine',
};

function installFamily(db: OsinfoDb, os: OsRecord): string {
  // An OS without a distro (libosinfo's generic linux20xx entries) stays generic even
  // though it derives from a real distro's release.
  if (!os.distro) return os.family ?? 'unknown';
  const known = ancestry(db, os).find((o) => o.distro !== undefined && INSTALL_FAMILIES[o.distro] !== undefined);
  return known ? INSTALL_FAMILIES[known.distro as string] : os.distro;
}

/** The NIC model virt-install picks for an OS without virtio-net on i440FX, within tsvirt's models. */
function legacyNic(devices: readonly DeviceRecord[]): NicModel {
  const names = new Set(devices.filter((d) => d.class?.startsWith('net')).map((d) => d.name));
  const pick = LEGACY_NIC_PREFERENCE.find((m) => names.has(m));
  // ne2k_pci and pcnet (preferred by FreeBSD 6-7 and OpenBSD 4.9-5.3, which lack e1000 and
  // rtl8139 in osinfo-db) are not NIC models tsvirt's Domain has; those guests get
  // virt-install's own last resort, e1000.
  return pick === 'e1000' || pick === 'rtl8139' ? pick : 'e1000';
}

/**
 * virt-install asks for `--disk size=N`, N the whole GiB below the recommendation. Below
 * 1 GiB (CirrOS, FreeDOS, Void Linux) that is size=0, which virt-install 4.1 then rejects
 * ("Device type 'disk' requires a path"); tsvirt creates 1 GiB instead.
 */
function defaultDiskGiB(storageBytes: number): number {
  return Math.max(1, Math.floor(storageBytes / GIB));
}

function variantOf(db: OsinfoDb, os: OsRecord, arch: Arch): OsVariant {
  const devices = supportedDevices(db, os);
  const has = (ids: readonly string[]) => devices.some((d) => ids.includes(d.id));
  const virtioDisk = has(VIRTIO_BLOCK);
  const virtioNet = has(VIRTIO_NET);
  const q35 = !(virtioNet && !has([VIRTIO1_NET])) && has([Q35_CHIPSET]);
  const machine: MachineType = q35 ? 'q35' : 'pc';
  const res = resolvedResources(db, os);
  const ram = recommendedResource(res, 'ram', arch);
  const storage = recommendedResource(res, 'storage', arch);
  const legacyNicModel = legacyNic(devices);
  const kernelUrlArg = kernelUrlArgumentFor(db, os);
  const [id, ...aliases] = [...new Set(os.shortIds)];
  return {
    id: id ?? os.id,
    aliases,
    name: os.name ?? id ?? os.id,
    family: installFamily(db, os),
    osinfo: os.id,
    ...(os.distro ? { distro: os.distro } : {}),
    ...(os.version ? { version: os.version } : {}),
    minMemoryMiB: (minimumResource(res, 'ram', arch) ?? 0) / MIB,
    ...(ram !== undefined ? { memoryMiB: ram / MIB } : {}),
    vcpus: recommendedResource(res, 'nCpus', arch) ?? 1,
    ...(storage !== undefined ? { diskGiB: defaultDiskGiB(storage) } : {}),
    diskBus: defaultDiskBus('disk', { virtioDisk }, machine),
    nicModel: defaultNicModel({ virtioNet, legacyNicModel }, machine),
    machine,
    arch,
    virtioDisk,
    virtioNet,
    legacyNicModel,
    ...(kernelUrlArg ? { kernelUrlArg } : {}),
  };
}

/** virt-install's get_kernel_url_arg: the database's, else SUSE's and Red Hat's installers' own. */
function kernelUrlArgumentFor(db: OsinfoDb, os: OsRecord): string | undefined {
  const arg = kernelUrlArgument(db, os);
  if (arg) return arg;
  if (['caasp', 'sle', 'sled', 'sles', 'opensuse'].includes(os.distro ?? '')) return 'install';
  return ['centos', 'rhel', 'fedora'].includes(os.distro ?? '') ? 'inst.repo' : undefined;
}

/** virt-install's generic OS: no resources, no devices, so i440FX, IDE and e1000. */
export function genericVariant(arch: Arch = 'x86_64'): OsVariant {
  return {
    id: GENERIC_VARIANT_ID, aliases: [], name: 'Generic or unknown OS. Usage is not recommended.', family: 'unknown',
    minMemoryMiB: 0, vcpus: 1, diskBus: 'ide', nicModel: 'e1000', machine: 'pc', arch,
    virtioDisk: false, virtioNet: false, legacyNicModel: 'e1000',
  };
}

export interface OsLookupOptions {
  readonly arch?: Arch;
  readonly db?: OsinfoDb;
}

/** Edit distance, for "did you mean" suggestions. */
function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** Every accepted name: each OS's short ids and `generic`. */
function allNames(db: OsinfoDb): { name: string }[] {
  return [{ name: GENERIC_VARIANT_ID }, ...db.oses.flatMap((os) => os.shortIds.map((name) => ({ name })))];
}

export function suggestOsVariants(name: string, db: OsinfoDb = defaultOsinfoDb(), max = 3): string[] {
  const lower = name.toLowerCase();
  return allNames(db)
    // A name that starts with what was typed (rhel6 -> rhel6.0), or the reverse, comes first.
    .map((c) => ({ name: c.name, d: c.name.startsWith(lower) || lower.startsWith(c.name) ? 0.5 : levenshtein(lower, c.name) }))
    .filter((c) => c.d <= Math.max(2, Math.floor(lower.length / 3)))
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .map((c) => c.name)
    .filter((n, i, all) => all.indexOf(n) === i)
    .slice(0, max);
}

/** An OS by libosinfo full id (--osinfo id=URI), as virt-install's lookup_os_by_full_id. */
export function findOsVariantById(uri: string, opts: OsLookupOptions = {}): OsVariant {
  const db = opts.db ?? defaultOsinfoDb();
  const os = db.os(uri);
  if (!os) throw new TsvirtError(`Unknown libosinfo ID '${uri}'`, 'give a short id from `--osinfo list`, or the full id of an OS in osinfo-db');
  return variantOf(db, os, opts.arch ?? 'x86_64');
}

/** An OS by name, as virt-install's lookup_os: `generic` or any short id of any OS. */
export function findOsVariant(name: string, opts: OsLookupOptions = {}): OsVariant {
  const arch = opts.arch ?? 'x86_64';
  if (name === GENERIC_VARIANT_ID) return genericVariant(arch);
  const db = opts.db ?? defaultOsinfoDb();
  const os = db.osByShortId(name);
  if (os) return variantOf(db, os, arch);
  const close = suggestOsVariants(name, db);
  // virt-install's message (without its closing full stop: tsvirt adds the hint after "; ").
  throw new TsvirtError(`Unknown OS name '${name}'. See \`--osinfo list\` for valid values`, close.length > 0 ? `did you mean ${close.join(', ')}?` : undefined);
}

/**
 * virt-install's sort of `--osinfo list`: by name, case-insensitively, with runs of digits
 * compared as numbers in descending order (fedora37 before fedora9 before fedora-rawhide).
 */
function listKey(name: string): (string | number)[] {
  return name.split(/(\d+)/).map((part, i) => (i % 2 === 1 ? -Number(part) : part.toLowerCase()));
}

function compareKeys(a: (string | number)[], b: (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

/** The `--osinfo list` text virt-install prints: each OS's sorted short ids, then where to learn more. */
export function formatOsVariantList(db: OsinfoDb = defaultOsinfoDb()): string {
  const entries = [...db.oses.map((os) => ({ name: os.shortIds[0] ?? os.id, names: [...new Set(os.shortIds)].sort() })), { name: GENERIC_VARIANT_ID, names: [GENERIC_VARIANT_ID] }];
  const keyed = entries.map((e) => ({ ...e, key: listKey(e.name) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  return [...keyed.map((e) => e.names.join(', ')), '', 'You can see additional information with:', '', '  osinfo-query os', ''].join('\n');
}
