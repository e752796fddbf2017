// Builds the InstallPlan from a validated kickstart and the disks the Domain creates.
// Storage follows anaconda's kickstart semantics for plain partitions (ignoredisk,
// clearpart --disklabel, part --ondisk/--size/--grow/--maxsize/--recommended, autopart
// and reqpart as plain layouts); passwords given in plaintext are hashed with SHA-512
// crypt here so no plaintext reaches the guest. Anything tsvirt's installer cannot do
// (LVM, RAID, btrfs, encryption, existing partitions, non-network sources) is a
// TsvirtError now, before any disk is created, as is a layout that does not fit.
import { randomBytes } from 'node:crypto';
import { TsvirtError } from '../../lib/errors.js';
import { parseChecksum } from '../fetch/checksum.js';
import { allCommands, lastCommand, type Kickstart, type KsCommand } from '../kickstart/model.js';
import {
  INSTALL_PLAN_VERSION, type InstallPlan, type PartitionTableType, type PlannedDisk, type PlannedNetwork,
  type PlannedSource, type PlannedUser,
} from './install-plan.js';
import { type DiskInfo, layoutDisk, MBR_MAX_DISK_BYTES, MIB, type PartitionRequest } from './partition-layout.js';
import { randomSalt, sha512Crypt } from './sha512-crypt.js';

export interface PlanDisk {
  /** Guest device name, e.g. vda. */
  readonly target: string;
  readonly sizeBytes: number;
}

export interface PlanOptions {
  /** Guest memory, for swap --recommended / --hibernation sizes. */
  readonly memoryMiB?: number;
  readonly firmware?: 'bios' | 'efi';
  /** Force a partition table type on every disk. */
  readonly partitionTable?: PartitionTableType;
  /** Randomness for password salts (tests pass a fixed source). */
  readonly random?: (n: number) => Uint8Array;
  /** Used when the kickstart names no installation source (e.g. a tsvirt tree's liveimg). */
  readonly defaultSource?: PlannedSource;
}

const SUPPORTED_FSTYPES = ['ext2', 'ext3', 'ext4', 'xfs', 'vfat', 'efi', 'swap', 'biosboot'];
const BOOTABLE_FSTYPES = ['ext2', 'ext3', 'ext4'];
const DEFAULT_FSTYPE = 'ext4';
const AUTOPART_BOOT_MIB = 1024;
const AUTOPART_ROOT_MIN_MIB = 1024;
const REQPART_EFI_MIB = 600;

function where(c: KsCommand): string {
  return `${c.at.file}:${c.at.line}`;
}

function notSupported(c: KsCommand, what: string): TsvirtError {
  return new TsvirtError(`${where(c)}: ${what} is not supported yet by tsvirt's installer`, 'use plain partitions (part) or autopart --type=plain');
}

/** anaconda's recommended swap for a given RAM size (Fedora installation guide table). */
export function recommendedSwapMiB(memoryMiB: number): number {
  if (memoryMiB < 2048) return 2 * memoryMiB;
  if (memoryMiB < 8192) return memoryMiB;
  if (memoryMiB < 65536) return Math.floor(memoryMiB / 2);
  return 4096;
}

function diskName(name: string): string {
  return name.replace(/^\/dev\//, '');
}

function checkDisks(disks: readonly PlanDisk[]): void {
  if (disks.length === 0) throw new TsvirtError('the install has no disk to install to', 'add --disk');
  const seen = new Set<string>();
  for (const d of disks) {
    if (!/^[a-z][a-z0-9]*$/.test(d.target)) throw new TsvirtError(`bad disk target name '${d.target}'`);
    if (seen.has(d.target)) throw new TsvirtError(`disk target ${d.target} is given twice`);
    seen.add(d.target);
    if (!Number.isSafeInteger(d.sizeBytes) || d.sizeBytes <= 0) throw new TsvirtError(`disk ${d.target} has a bad size ${d.sizeBytes}`);
  }
}

function tableType(disk: PlanDisk, ks: Kickstart, opts: PlanOptions): PartitionTableType {
  const clearpart = lastCommand(ks, 'clearpart');
  const asked = opts.partitionTable ?? (clearpart?.options.disklabel as PartitionTableType | undefined);
  if (asked === 'msdos' && disk.sizeBytes > MBR_MAX_DISK_BYTES) {
    throw new TsvirtError(`an MBR partition table cannot address all of ${disk.target} (${disk.sizeBytes} bytes > 2 TiB)`, 'use clearpart --disklabel=gpt');
  }
  if (asked) return asked;
  // anaconda picks GPT for disks MBR cannot address and for UEFI machines.
  return disk.sizeBytes > MBR_MAX_DISK_BYTES || opts.firmware === 'efi' ? 'gpt' : 'msdos';
}

function usableDisks(ks: Kickstart, disks: readonly PlanDisk[]): PlanDisk[] {
  const ignore = lastCommand(ks, 'ignoredisk');
  const names = disks.map((d) => d.target);
  const check = (list: readonly string[]) => {
    for (const n of list) if (!names.includes(diskName(n))) throw new TsvirtError(`${where(ignore!)}: ignoredisk names ${n}, but the guest's disks are ${names.join(', ')}`);
  };
  let usable = [...disks];
  const only = ignore?.options['only-use'] as readonly string[] | undefined;
  if (only) {
    check(only);
    usable = usable.filter((d) => only.map(diskName).includes(d.target));
  }
  const skip = ignore?.options.drives as readonly string[] | undefined;
  if (skip) {
    check(skip);
    usable = usable.filter((d) => !skip.map(diskName).includes(d.target));
  }
  if (usable.length === 0) throw new TsvirtError(`${where(ignore!)}: ignoredisk leaves no disk to install to`);
  return usable;
}

function partitionRequests(ks: Kickstart, usable: PlanDisk[], tables: Map<string, PartitionTableType>, opts: PlanOptions, notes: string[]): PartitionRequest[] {
  for (const name of ['logvol', 'volgroup', 'raid', 'btrfs']) {
    const c = lastCommand(ks, name);
    if (c) throw notSupported(c, name);
  }
  const memoryMiB = opts.memoryMiB ?? 1024;
  const first = usable[0].target;
  const reqs: PartitionRequest[] = [];
  const autopart = lastCommand(ks, 'autopart');
  if (autopart) {
    const type = autopart.options.type as string | undefined;
    if (type !== undefined && type !== 'plain') throw notSupported(autopart, `autopart --type=${type}`);
    if (autopart.options.encrypted) throw notSupported(autopart, 'autopart --encrypted');
    if (type === undefined) notes.push('autopart without --type: tsvirt makes plain partitions (anaconda would use LVM)');
    const fstype = (autopart.options.fstype as string | undefined) ?? DEFAULT_FSTYPE;
    const origin = `autopart (${where(autopart)})`;
    if (tables.get(first) === 'gpt' && opts.firmware === 'efi') reqs.push({ mountpoint: '/boot/efi', fstype: 'efi', baseMiB: REQPART_EFI_MIB, grow: false, disk: first, origin });
    if (!autopart.options.noboot) reqs.push({ mountpoint: '/boot', fstype, baseMiB: AUTOPART_BOOT_MIB, grow: false, disk: first, origin });
    if (!autopart.options.noswap) reqs.push({ mountpoint: 'swap', fstype: 'swap', baseMiB: Math.min(recommendedSwapMiB(memoryMiB), 4096), grow: false, disk: first, origin });
    reqs.push({ mountpoint: '/', fstype, baseMiB: AUTOPART_ROOT_MIN_MIB, grow: true, disk: first, origin });
    return reqs;
  }
  const reqpart = lastCommand(ks, 'reqpart');
  if (reqpart) {
    const origin = `reqpart (${where(reqpart)})`;
    if (opts.firmware === 'efi') reqs.push({ mountpoint: '/boot/efi', fstype: 'efi', baseMiB: REQPART_EFI_MIB, grow: false, disk: first, origin });
    else if (tables.get(first) === 'gpt') reqs.push({ mountpoint: 'biosboot', fstype: 'biosboot', baseMiB: 1, grow: false, disk: first, origin });
    if (reqpart.options['add-boot']) reqs.push({ mountpoint: '/boot', fstype: DEFAULT_FSTYPE, baseMiB: AUTOPART_BOOT_MIB, grow: false, disk: first, origin });
  }
  const seen = new Map<string, KsCommand>();
  for (const c of allCommands(ks, 'part')) {
    const mp = c.args[0];
    for (const o of ['onpart', 'noformat', 'resize']) if (c.options[o] !== undefined) throw notSupported(c, `part --${o} (existing partitions)`);
    if (c.options.encrypted) throw notSupported(c, 'part --encrypted');
    if (/^(raid|pv|btrfs)\./.test(mp)) throw notSupported(c, `a ${mp.split('.')[0]} member partition`);
    if (mp !== 'swap' && mp !== 'none' && mp !== 'None') {
      const prev = seen.get(mp);
      if (prev) throw new TsvirtError(`${where(c)}: mount point ${mp} is already given on ${where(prev)}`);
      seen.set(mp, c);
    }
    const fstype = (c.options.fstype as string | undefined) ?? (mp === 'swap' ? 'swap' : mp === 'biosboot' ? 'biosboot' : mp === '/boot/efi' ? 'efi' : DEFAULT_FSTYPE);
    if (!SUPPORTED_FSTYPES.includes(fstype)) throw notSupported(c, `--fstype=${fstype}`);
    const ondisk = c.options.ondisk as string | undefined;
    const disk = ondisk === undefined ? first : diskName(ondisk);
    if (!usable.some((d) => d.target === disk)) {
      throw new TsvirtError(`${where(c)}: part --ondisk=${ondisk} names no usable disk (usable: ${usable.map((d) => d.target).join(', ')})`);
    }
    let baseMiB = c.options.size as number | undefined;
    if (c.options.recommended || c.options.hibernation) {
      baseMiB = recommendedSwapMiB(memoryMiB) + (c.options.hibernation ? memoryMiB : 0);
    }
    if (baseMiB === undefined) {
      baseMiB = 1;
      if (!c.options.grow) notes.push(`${where(c)}: part ${mp} has no --size; anaconda's default of 1 MiB is used`);
    }
    reqs.push({
      mountpoint: mp, fstype, baseMiB, grow: c.options.grow === true, maxMiB: c.options.maxsize as number | undefined, disk,
      label: c.options.label as string | undefined, fsoptions: c.options.fsoptions as string | undefined,
      mkfsoptions: c.options.mkfsoptions as string | undefined, origin: where(c),
    });
  }
  if (reqs.length === 0) {
    throw new TsvirtError(`${ks.source}: the kickstart does not say how to partition the disk`, 'add autopart --type=plain or part commands');
  }
  return reqs;
}

function hashPassword(plain: string | undefined, crypted: boolean, who: string, c: KsCommand, random: (n: number) => Uint8Array): string | null {
  if (plain === undefined) return null;
  if (crypted) {
    // crypt(3) strings: "$id$..." (glibc, libxcrypt) or 13-character traditional DES.
    if (!/^\$[0-9a-z]+\$\S+$/.test(plain) && !/^[./0-9A-Za-z]{13}$/.test(plain)) {
      throw new TsvirtError(`${where(c)}: the --iscrypted password of ${who} is not a crypt(3) hash`);
    }
    return plain;
  }
  return sha512Crypt(plain, randomSalt(random));
}

function network(c: KsCommand): PlannedNetwork {
  const o = c.options;
  return {
    device: o.device as string | undefined,
    bootproto: (o.bootproto as string | undefined) ?? 'dhcp',
    ip: o.ip as string | undefined,
    netmask: o.netmask as string | undefined,
    gateway: o.gateway as string | undefined,
    nameservers: (o.nameserver as readonly string[] | undefined) ?? [],
    hostname: o.hostname as string | undefined,
    onboot: (o.onboot as boolean | undefined) ?? true,
    activate: o.activate === true || o['no-activate'] !== true,
    ipv6: o.ipv6 as string | undefined,
    mtu: o.mtu as number | undefined,
  };
}

function source(ks: Kickstart, opts: PlanOptions): PlannedSource {
  const live = lastCommand(ks, 'liveimg');
  if (live) {
    const sum = live.options.checksum as string | undefined;
    return {
      kind: 'liveimg', url: live.options.url as string, checksum: sum === undefined ? undefined : parseChecksum(sum.includes(':') ? sum : `sha256:${sum}`),
      proxy: live.options.proxy as string | undefined, noverifyssl: live.options.noverifyssl === true,
    };
  }
  const url = lastCommand(ks, 'url');
  if (url) {
    return {
      kind: 'url', url: url.options.url as string | undefined, mirrorlist: url.options.mirrorlist as string | undefined,
      metalink: url.options.metalink as string | undefined, proxy: url.options.proxy as string | undefined, noverifyssl: url.options.noverifyssl === true,
    };
  }
  for (const name of ['cdrom', 'harddrive', 'nfs', 'ostreesetup', 'ostreecontainer', 'bootc']) {
    const c = lastCommand(ks, name);
    if (c) throw new TsvirtError(`${where(c)}: the ${name} installation source is not supported yet`, 'use liveimg --url=http://...');
  }
  return opts.defaultSource ?? { kind: 'none' };
}

/** Derives the install plan; throws TsvirtError when the kickstart cannot be carried out on these disks. */
export function buildInstallPlan(ks: Kickstart, disks: readonly PlanDisk[], opts: PlanOptions = {}): InstallPlan {
  checkDisks(disks);
  const random = opts.random ?? randomBytes;
  const notes: string[] = [];
  const usable = usableDisks(ks, disks);
  const tables = new Map(usable.map((d) => [d.target, tableType(d, ks, opts)] as const));
  const reqs = partitionRequests(ks, usable, tables, opts, notes);
  if (!reqs.some((r) => r.mountpoint === '/')) throw new TsvirtError(`${ks.source}: the kickstart creates no / filesystem`, 'add part / ...');

  const bl = lastCommand(ks, 'bootloader');
  const bootloaderDisabled = bl?.options.disabled === true || bl?.options.location === 'none';
  if (!bootloaderDisabled) {
    // tsvirt boots installed disks through its ext2/3/4 reader (ARCHITECTURE.md, vm/boot).
    const boot = reqs.find((r) => r.mountpoint === '/boot') ?? reqs.find((r) => r.mountpoint === '/')!;
    if (!BOOTABLE_FSTYPES.includes(boot.fstype)) {
      throw new TsvirtError(`${boot.origin}: ${boot.mountpoint} is ${boot.fstype}, but tsvirt boots installed disks from ext2, ext3 or ext4`, `use --fstype=ext4 for ${boot.mountpoint}`);
    }
  }
  const planned: PlannedDisk[] = [];
  for (const d of usable) {
    const mine = reqs.filter((r) => r.disk === d.target);
    if (mine.length === 0) continue;
    const info: DiskInfo = { target: d.target, sizeBytes: d.sizeBytes, partitionTable: tables.get(d.target)! };
    planned.push(layoutDisk(info, mine));
  }
  if (!lastCommand(ks, 'zerombr') && !lastCommand(ks, 'clearpart')) notes.push('no zerombr/clearpart: the disks are new, so nothing is cleared anyway');

  const rootpw = lastCommand(ks, 'rootpw');
  const rootHash = rootpw ? hashPassword(rootpw.args[0], rootpw.options.iscrypted === true, 'root', rootpw, random) : null;
  const users: PlannedUser[] = allCommands(ks, 'user').map((c) => ({
    name: c.options.name as string,
    passwordHash: hashPassword(c.options.password as string | undefined, c.options.iscrypted === true, `user ${String(c.options.name)}`, c, random),
    locked: c.options.lock === true,
    groups: (c.options.groups as readonly string[] | undefined) ?? [],
    uid: c.options.uid as number | undefined,
    gid: c.options.gid as number | undefined,
    gecos: c.options.gecos as string | undefined,
    homedir: c.options.homedir as string | undefined,
    shell: c.options.shell as string | undefined,
  }));
  const nets = allCommands(ks, 'network').map(network);
  const hostname = [...nets].reverse().find((n) => n.hostname)?.hostname;
  const tz = lastCommand(ks, 'timezone');
  const kb = lastCommand(ks, 'keyboard');
  const sel = lastCommand(ks, 'selinux');
  const fw = lastCommand(ks, 'firewall');
  const svc = lastCommand(ks, 'services');
  const finalCmd = [...ks.commands].reverse().find((c) => ['reboot', 'poweroff', 'halt', 'shutdown'].includes(c.name));
  // tsvirt boots installed disks itself (no GRUB), so a boot loader password protects nothing.
  if (bl?.options.password !== undefined) notes.push(`${where(bl)}: bootloader --password is ignored: tsvirt boots the installed disk directly`);

  return {
    version: INSTALL_PLAN_VERSION,
    kickstart: ks.source,
    disks: planned,
    bootloader: {
      disabled: bootloaderDisabled,
      location: (bl?.options.location as string | undefined) ?? 'mbr',
      append: (bl?.options.append as string | undefined) ?? '',
      timeoutSeconds: bl?.options.timeout as number | undefined,
      bootDrive: bl?.options['boot-drive'] === undefined ? planned[0]?.target : diskName(bl.options['boot-drive'] as string),
    },
    root: { passwordHash: rootHash, locked: rootpw === undefined || rootpw.options.lock === true, allowSsh: rootpw?.options['allow-ssh'] === true },
    users,
    groups: allCommands(ks, 'group').map((c) => ({ name: c.options.name as string, gid: c.options.gid as number | undefined })),
    sshKeys: allCommands(ks, 'sshkey').map((c) => ({ user: c.options.username as string, key: c.args[0] })),
    lang: lastCommand(ks, 'lang')?.args[0],
    keyboard: kb ? { vckeymap: (kb.options.vckeymap as string | undefined) ?? kb.args[0], xlayouts: (kb.options.xlayouts as readonly string[] | undefined) ?? [] } : undefined,
    timezone: tz
      ? { name: tz.args[0], utc: tz.options.utc === true, ntp: tz.options.nontp !== true, ntpServers: (tz.options.ntpservers as readonly string[] | undefined) ?? [] }
      : undefined,
    hostname,
    network: nets,
    source: source(ks, opts),
    packages: ks.packages
      ? { packages: ks.packages.packages, groups: ks.packages.groups, excludedPackages: ks.packages.excludedPackages, excludedGroups: ks.packages.excludedGroups }
      : undefined,
    selinux: sel ? (sel.options.disabled ? 'disabled' : sel.options.permissive ? 'permissive' : 'enforcing') : undefined,
    firewall: fw
      ? { enabled: fw.options.disabled !== true, services: (fw.options.service as readonly string[] | undefined) ?? [], ports: (fw.options.port as readonly string[] | undefined) ?? [] }
      : undefined,
    services: { enabled: (svc?.options.enabled as readonly string[] | undefined) ?? [], disabled: (svc?.options.disabled as readonly string[] | undefined) ?? [] },
    scripts: ks.scripts.map((s) => ({ kind: s.kind, interpreter: s.interpreter, nochroot: s.nochroot, erroronfail: s.erroronfail, log: s.log, body: s.body, origin: `${s.at.file}:${s.at.line}` })),
    // anaconda halts when the kickstart names no final action.
    finalAction: { action: (finalCmd?.name as 'reboot' | 'poweroff' | 'halt' | 'shutdown' | undefined) ?? 'halt', eject: finalCmd?.options.eject === true },
    notes,
  };
}

export { MIB };
