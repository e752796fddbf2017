// The ext2/3/4 superblock and block group descriptors, read-only (Linux
// Documentation/filesystems/ext4/super.rst, group_descr.rst). Every field that later
// code trusts as an offset or count is checked against the device here.
import { TsvirtError } from '../../lib/errors.js';

export const EXT4_SUPER_MAGIC = 0xef53;
export const SUPERBLOCK_OFFSET = 1024;

const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_MMP = 0x100;
const INCOMPAT_FLEX_BG = 0x200;
const INCOMPAT_EA_INODE = 0x400;
const INCOMPAT_DIRDATA = 0x1000;
const INCOMPAT_CSUM_SEED = 0x2000;
const INCOMPAT_LARGEDIR = 0x4000;
const INCOMPAT_INLINE_DATA = 0x8000;
const INCOMPAT_ENCRYPT = 0x10000;
const INCOMPAT_CASEFOLD = 0x20000;

// What this reader understands; RECOVER (a journal to replay) is read as is: tsvirt
// reads disks its guests shut down cleanly, and says so when the flag is set.
const INCOMPAT_READABLE =
  INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP | INCOMPAT_FLEX_BG |
  INCOMPAT_EA_INODE | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_CASEFOLD;
const INCOMPAT_NAMES: Record<number, string> = {
  [INCOMPAT_JOURNAL_DEV]: 'journal_dev',
  [INCOMPAT_META_BG]: 'meta_bg',
  [INCOMPAT_DIRDATA]: 'dirdata',
  [INCOMPAT_INLINE_DATA]: 'inline_data',
  [INCOMPAT_ENCRYPT]: 'encrypt',
};

export interface Superblock {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  groupCount: number;
  descSize: number;
  hasFiletype: boolean;
  needsRecovery: boolean;
  uuid: string;
  label: string;
}

export interface GroupDescriptor {
  inodeTable: number;
}

function fail(what: string): never {
  throw new TsvirtError(`not a readable ext2/3/4 file system: ${what}`);
}

export function parseSuperblock(sb: Uint8Array, deviceBytes: number): Superblock {
  const dv = new DataView(sb.buffer, sb.byteOffset, sb.byteLength);
  if (sb.length < 1024 || dv.getUint16(56, true) !== EXT4_SUPER_MAGIC) fail('bad superblock magic');
  const logBlock = dv.getUint32(24, true);
  if (logBlock > 6) fail(`block size 2^${10 + logBlock} is out of range`);
  const blockSize = 1024 << logBlock;
  const incompat = dv.getUint32(96, true);
  const unknown = incompat & ~INCOMPAT_READABLE;
  if (unknown) {
    const names = Object.entries(INCOMPAT_NAMES)
      .filter(([bit]) => unknown & Number(bit))
      .map(([, n]) => n);
    throw new TsvirtError(
      `ext4 feature ${names.length ? names.join(', ') : `0x${unknown.toString(16)}`} is not supported yet by tsvirt's ext4 reader`,
      'create the file system without it (mke2fs -O ^feature)',
    );
  }
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = dv.getUint32(4, true) + (is64 ? dv.getUint32(336, true) * 2 ** 32 : 0);
  const inodesCount = dv.getUint32(0, true);
  const firstDataBlock = dv.getUint32(20, true);
  const blocksPerGroup = dv.getUint32(32, true);
  const inodesPerGroup = dv.getUint32(40, true);
  const revLevel = dv.getUint32(76, true);
  const inodeSize = revLevel === 0 ? 128 : dv.getUint16(88, true);
  const descSize = is64 ? dv.getUint16(254, true) : 32;
  if (blocksCount === 0 || blocksCount * blockSize > deviceBytes) fail(`${blocksCount} blocks do not fit the ${deviceBytes}-byte device`);
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8) fail(`bad blocks per group ${blocksPerGroup}`);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) fail(`bad inodes per group ${inodesPerGroup}`);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) fail(`bad inode size ${inodeSize}`);
  if (descSize < 32 || descSize > 1024 || (is64 && descSize < 64)) fail(`bad group descriptor size ${descSize}`);
  if (firstDataBlock >= blocksCount) fail('first data block beyond the end');
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (inodesCount > groupCount * inodesPerGroup) fail('more inodes than the groups hold');
  const hex = Buffer.from(sb.subarray(104, 120)).toString('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const labelBytes = sb.subarray(120, 136);
  const nul = labelBytes.indexOf(0);
  const label = Buffer.from(labelBytes.subarray(0, nul < 0 ? 16 : nul)).toString('utf8');
  return {
    blockSize,
    blocksCount,
    inodesCount,
    firstDataBlock,
    blocksPerGroup,
    inodesPerGroup,
    inodeSize,
    groupCount,
    descSize,
    hasFiletype: (incompat & INCOMPAT_FILETYPE) !== 0,
    needsRecovery: (incompat & INCOMPAT_RECOVER) !== 0,
    uuid,
    label,
  };
}

/** Group descriptors follow the superblock's block (group_descr.rst, without meta_bg). */
export function parseGroupDescriptors(table: Uint8Array, sb: Superblock): GroupDescriptor[] {
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const out: GroupDescriptor[] = [];
  for (let g = 0; g < sb.groupCount; g++) {
    const o = g * sb.descSize;
    const lo = dv.getUint32(o + 8, true);
    const hi = sb.descSize >= 64 ? dv.getUint32(o + 0x28, true) : 0;
    const inodeTable = lo + hi * 2 ** 32;
    const tableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
    if (inodeTable === 0 || inodeTable + tableBlocks > sb.blocksCount) fail(`group ${g}'s inode table is outside the file system`);
    out.push({ inodeTable });
  }
  return out;
}
