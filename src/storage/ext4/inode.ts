// ext2/3/4 inodes and how their data blocks are found: the extent tree (ext4) or the
// direct/indirect block map (ext2/3) (Linux Documentation/filesystems/ext4/inodes.rst,
// ifork.rst). Returned mappings are checked against the file system's block count;
// a tree that points outside it, loops, or is too deep is refused.
import { TsvirtError } from '../../lib/errors.js';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

const EXT4_EXTENTS_FL = 0x80000;
const EXT4_INLINE_DATA_FL = 0x10000000;
const EXT4_EXT_MAGIC = 0xf30a;
const MAX_EXTENT_DEPTH = 5; // ext4 itself never goes beyond 5 levels

export interface Inode {
  ino: number;
  mode: number;
  size: number;
  linksCount: number;
  flags: number;
  /** i_blocks in 512-byte units (for the fast-symlink test). */
  sectors: number;
  fileAcl: number;
  /** The 60-byte i_block area: extent root, block map, or a fast symlink's target. */
  block: Uint8Array;
}

/** A run of file blocks: file block `logical` maps to `physical` for `count` blocks. */
export interface BlockRun {
  logical: number;
  physical: number;
  count: number;
}

export function parseInode(ino: number, raw: Uint8Array): Inode {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    ino,
    mode: dv.getUint16(0, true),
    size: dv.getUint32(4, true) + dv.getUint32(108, true) * 2 ** 32,
    linksCount: dv.getUint16(26, true),
    sectors: dv.getUint32(28, true) + dv.getUint16(116, true) * 2 ** 32,
    flags: dv.getUint32(32, true),
    fileAcl: dv.getUint32(104, true) + dv.getUint16(118, true) * 2 ** 32,
    block: raw.slice(40, 100),
  };
}

export function corrupt(ino: number, what: string): TsvirtError {
  return new TsvirtError(`corrupt ext4 file system: inode ${ino}: ${what}`);
}

export interface BlockSource {
  blockSize: number;
  blocksCount: number;
  readBlock(block: number): Uint8Array;
}

/** The block runs holding the file's first `blocksNeeded` blocks, in logical order. */
export function mapBlocks(inode: Inode, fs: BlockSource, blocksNeeded: number): BlockRun[] {
  if (inode.flags & EXT4_INLINE_DATA_FL) {
    throw new TsvirtError(`inode ${inode.ino} keeps its data inline, which tsvirt's ext4 reader does not support yet`);
  }
  const runs = inode.flags & EXT4_EXTENTS_FL ? extentRuns(inode, fs) : indirectRuns(inode, fs, blocksNeeded);
  for (const r of runs) {
    if (r.physical < 1 || r.physical + r.count > fs.blocksCount) throw corrupt(inode.ino, `block ${r.physical}+${r.count} is outside the file system`);
  }
  return runs;
}

function extentRuns(inode: Inode, fs: BlockSource): BlockRun[] {
  const runs: BlockRun[] = [];
  const visited = new Set<number>();
  const walk = (node: Uint8Array, depthExpected: number | undefined, level: number): void => {
    const dv = new DataView(node.buffer, node.byteOffset, node.byteLength);
    if (dv.getUint16(0, true) !== EXT4_EXT_MAGIC) throw corrupt(inode.ino, 'bad extent header magic');
    const entries = dv.getUint16(2, true);
    const max = dv.getUint16(4, true);
    const depth = dv.getUint16(6, true);
    if (depth > MAX_EXTENT_DEPTH || (depthExpected !== undefined && depth !== depthExpected)) throw corrupt(inode.ino, 'bad extent tree depth');
    if (entries > max || 12 + entries * 12 > node.length) throw corrupt(inode.ino, 'extent node overflows');
    if (level > MAX_EXTENT_DEPTH) throw corrupt(inode.ino, 'extent tree too deep');
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      const logical = dv.getUint32(o, true);
      if (depth === 0) {
        const len = dv.getUint16(o + 4, true);
        // Lengths above 32768 mark unwritten (preallocated) extents: they read as zeros,
        // so they contribute no run.
        if (len > 32768) continue;
        const physical = dv.getUint16(o + 6, true) * 2 ** 32 + dv.getUint32(o + 8, true);
        if (len === 0) continue;
        runs.push({ logical, physical, count: len });
      } else {
        const child = dv.getUint32(o + 4, true) + dv.getUint16(o + 8, true) * 2 ** 32;
        if (child < 1 || child >= fs.blocksCount) throw corrupt(inode.ino, `extent index points at block ${child}`);
        if (visited.has(child)) throw corrupt(inode.ino, 'extent tree loops');
        visited.add(child);
        walk(fs.readBlock(child), depth - 1, level + 1);
      }
    }
  };
  walk(inode.block, undefined, 0);
  runs.sort((a, b) => a.logical - b.logical);
  return runs;
}

function indirectRuns(inode: Inode, fs: BlockSource, blocksNeeded: number): BlockRun[] {
  const perBlock = fs.blockSize / 4;
  const dv = new DataView(inode.block.buffer, inode.block.byteOffset, 60);
  const runs: BlockRun[] = [];
  let logical = 0;
  const push = (physical: number): void => {
    if (physical !== 0) {
      const last = runs[runs.length - 1];
      if (last && last.logical + last.count === logical && last.physical + last.count === physical) last.count++;
      else runs.push({ logical, physical, count: 1 });
    }
    logical++;
  };
  // Walks an indirect block of the given level (1 = it lists data blocks).
  const walk = (block: number, level: number): void => {
    if (logical >= blocksNeeded) return;
    if (block === 0) {
      logical += perBlock ** level; // a hole
      return;
    }
    if (block >= fs.blocksCount) throw corrupt(inode.ino, `indirect block ${block} is outside the file system`);
    const b = fs.readBlock(block);
    const bdv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < perBlock && logical < blocksNeeded; i++) {
      const next = bdv.getUint32(i * 4, true);
      if (level === 1) push(next);
      else walk(next, level - 1);
    }
  };
  for (let i = 0; i < 12 && logical < blocksNeeded; i++) push(dv.getUint32(i * 4, true));
  for (let level = 1; level <= 3; level++) walk(dv.getUint32((11 + level) * 4, true), level);
  return runs;
}
