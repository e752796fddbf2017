// --disk: one guest disk, cdrom or floppy, and, with size=, the image tsvirt creates for it
// (virt-install's ParserDisk; libvirt <disk>). `--disk none` asks for no disk at all.
// Sizes are GiB (floats allowed). Left out: storage pools/volumes (pool=, vol=), network
// sources, driver tuning beyond cache, discard and io options.
import { TsvirtError } from '../../lib/errors.js';
import { DISK_CACHES, type DiskBus, type DiskCache, type DiskDevice, type DiskFormat } from '../model.js';
import { decimal, integer, oneOf, parseSubOptions, text, yesNo, type SubOptionTable, type ValueParser } from './suboptions.js';

export const DISK_BUSES = ['virtio', 'sata', 'scsi', 'ide', 'fdc'] as const satisfies readonly DiskBus[];
export const DISK_DEVICES = ['disk', 'cdrom', 'floppy'] as const satisfies readonly DiskDevice[];
export const DISK_FORMATS = ['raw', 'qcow2'] as const satisfies readonly DiskFormat[];

export interface DiskOptions {
  path: string;
  size: number;
  format: DiskFormat;
  bus: DiskBus;
  device: DiskDevice;
  cache: DiskCache;
  sparse: boolean;
  readonly: boolean;
  perms: 'ro' | 'sh' | 'rw';
  shareable: boolean;
  backing_store: string;
  backing_format: DiskFormat;
  'boot.order': number;
  serial: string;
  'target.dev': string;
  'target.bus': DiskBus;
}

export interface DiskSpec {
  readonly path?: string;
  readonly sizeGiB?: number;
  readonly format?: DiskFormat;
  readonly bus?: DiskBus;
  readonly device?: DiskDevice;
  readonly cache?: DiskCache;
  /** Allocate lazily (default yes); `sparse=no` preallocates. */
  readonly sparse?: boolean;
  readonly readonly?: boolean;
  readonly shareable?: boolean;
  readonly backingStore?: string;
  readonly backingFormat?: DiskFormat;
  readonly bootOrder?: number;
  readonly serial?: string;
  readonly targetDev?: string;
}

/** Guest device names as Linux and libvirt spell them: vda, sdb, hdc, fda, vdaa. */
const targetDev: ValueParser<string> = (raw, where) => {
  if (!/^(vd|sd|hd|fd)[a-z]{1,3}$/.test(raw)) throw new TsvirtError(`${where}: invalid target device name`, 'use a name such as vda, sdb, hdc or fda');
  return raw;
};

/** libvirt's diskSerial (domaincommon.rng): letters, digits, space and _ . + - only. */
export const DISK_SERIAL_PATTERN = /^[A-Za-z0-9_.+\- ]{1,20}$/;

const serial: ValueParser<string> = (raw, where) => {
  if (!DISK_SERIAL_PATTERN.test(raw)) throw new TsvirtError(`${where}: invalid disk serial`, 'use up to 20 letters, digits, spaces or _ . + -');
  return raw;
};

const bus = oneOf(...DISK_BUSES);

export const DISK: SubOptionTable<DiskOptions> = {
  option: '--disk',
  first: 'path',
  keys: {
    path: text,
    size: decimal('GiB', { min: 0, minExclusive: true }),
    format: oneOf(...DISK_FORMATS),
    bus,
    device: oneOf(...DISK_DEVICES),
    cache: oneOf(...DISK_CACHES),
    sparse: yesNo,
    readonly: yesNo,
    perms: oneOf('ro', 'sh', 'rw'),
    shareable: yesNo,
    backing_store: text,
    backing_format: oneOf(...DISK_FORMATS),
    'boot.order': integer({ min: 1, max: 65535 }),
    serial,
    'target.dev': targetDev,
    'target.bus': bus,
  },
  bare: { sparse: 'yes' },
  summary: 'Specify storage: an existing image, a new one (size= in GiB), a cdrom or floppy.',
  examples: ['--disk size=10', '--disk /my/existing/disk.qcow2,cache=none', '--disk device=cdrom,bus=sata', '--disk none'],
};

/** Parses one --disk; returns 'none' for `--disk none`. */
export function parseDisk(raw: string): DiskSpec | 'none' {
  if (raw === 'none') return 'none';
  const { values: v } = parseSubOptions(DISK, raw);
  const perms = v.perms;
  return {
    path: v.path,
    sizeGiB: v.size,
    format: v.format,
    bus: v['target.bus'] ?? v.bus,
    device: v.device,
    cache: v.cache,
    sparse: v.sparse,
    readonly: v.readonly ?? (perms === undefined ? undefined : perms === 'ro'),
    shareable: v.shareable ?? (perms === undefined ? undefined : perms === 'sh'),
    backingStore: v.backing_store,
    backingFormat: v.backing_format,
    bootOrder: v['boot.order'],
    serial: v.serial,
    targetDev: v['target.dev'],
  };
}
