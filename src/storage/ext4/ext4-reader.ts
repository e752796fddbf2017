// A read-only ext2/3/4 reader over a BlockDevice (or a partition of one), enough to boot
// an installed guest from its own disk the way pygrub does: resolve paths (with
// symlinks), list directories, read files. Follows Linux Documentation/filesystems/ext4/.
// Left out: journal replay (a file system that needs recovery is read as it stands),
// inline data, encryption, meta_bg, htree lookups (directories are scanned linearly,
// which also reads htree directories correctly).
import { TsvirtError } from '../../lib/errors.js';
import type { BlockDevice } from '../block-device.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, corrupt, mapBlocks, parseInode, type BlockSource, type Inode } from './inode.js';
import { SUPERBLOCK_OFFSET, parseGroupDescriptors, parseSuperblock, type GroupDescriptor, type Superblock } from './superblock.js';

const ROOT_INO = 2;
const MAX_SYMLINKS = 8; // like the kernel's ELOOP limit for nested links (MAXSYMLINKS is 40; 8 suffices for boot paths)
const DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024;

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface DirEntry {
  name: string;
  ino: number;
  type: FileType;
}

export interface Stat {
  ino: number;
  type: FileType;
  mode: number;
  size: number;
}

function typeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

export class Ext4Reader implements BlockSource {
  readonly sb: Superblock;
  private readonly groups: GroupDescriptor[];

  private constructor(
    private readonly dev: BlockDevice,
    private readonly offsetBytes: number,
    lengthBytes: number,
  ) {
    const raw = new Uint8Array(1024);
    if (lengthBytes < SUPERBLOCK_OFFSET + 1024) throw new TsvirtError('not a readable ext2/3/4 file system: too small');
    dev.read(offsetBytes + SUPERBLOCK_OFFSET, raw);
    this.sb = parseSuperblock(raw, lengthBytes);
    const gdtBlock = this.sb.firstDataBlock + 1;
    const gdtBytes = this.sb.groupCount * this.sb.descSize;
    if ((gdtBlock * this.sb.blockSize + gdtBytes) > lengthBytes) throw new TsvirtError('not a readable ext2/3/4 file system: group descriptors beyond the end');
    const table = new Uint8Array(gdtBytes);
    dev.read(offsetBytes + gdtBlock * this.sb.blockSize, table);
    this.groups = parseGroupDescriptors(table, this.sb);
  }

  /** Opens the file system at [offsetBytes, offsetBytes + lengthBytes) of the device. */
  static open(dev: BlockDevice, offsetBytes = 0, lengthBytes = dev.size - offsetBytes): Ext4Reader {
    if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > dev.size) {
      throw new TsvirtError(`partition ${offsetBytes}+${lengthBytes} lies outside the ${dev.size}-byte disk`);
    }
    return new Ext4Reader(dev, offsetBytes, lengthBytes);
  }

  get blockSize(): number {
    return this.sb.blockSize;
  }
  get blocksCount(): number {
    return this.sb.blocksCount;
  }

  readBlock(block: number): Uint8Array {
    // Callers check block numbers against blocksCount; the superblock check made
    // blocksCount * blockSize fit the device range.
    const buf = new Uint8Array(this.sb.blockSize);
    this.dev.read(this.offsetBytes + block * this.sb.blockSize, buf);
    return buf;
  }

  private inode(ino: number): Inode {
    if (ino < 1 || ino > this.sb.inodesCount) throw new TsvirtError(`corrupt ext4 file system: inode number ${ino} out of range`);
    const group = Math.floor((ino - 1) / this.sb.inodesPerGroup);
    const index = (ino - 1) % this.sb.inodesPerGroup;
    const raw = new Uint8Array(Math.min(this.sb.inodeSize, 256));
    this.dev.read(this.offsetBytes + this.groups[group].inodeTable * this.sb.blockSize + index * this.sb.inodeSize, raw);
    return parseInode(ino, raw);
  }

  private readInodeData(inode: Inode, maxBytes: number): Uint8Array {
    if (inode.size > maxBytes) throw new TsvirtError(`file of inode ${inode.ino} is ${inode.size} bytes, more than the ${maxBytes} allowed`);
    const bs = this.sb.blockSize;
    const out = new Uint8Array(inode.size);
    const blocks = Math.ceil(inode.size / bs);
    for (const run of mapBlocks(inode, this, blocks)) {
      if (run.logical >= blocks) continue;
      const count = Math.min(run.count, blocks - run.logical);
      const start = run.logical * bs;
      const len = Math.min(count * bs, inode.size - start);
      this.dev.read(this.offsetBytes + run.physical * bs, out.subarray(start, start + len));
    }
    return out; // holes stay zero
  }

  private entries(dir: Inode): DirEntry[] {
    if (typeOf(dir.mode) !== 'directory') throw new TsvirtError(`inode ${dir.ino} is not a directory`);
    const data = this.readInodeData(dir, 64 * 1024 * 1024);
    const dv = new DataView(data.buffer);
    const bs = this.sb.blockSize;
    const out: DirEntry[] = [];
    for (let blockStart = 0; blockStart < data.length; blockStart += bs) {
      const end = Math.min(blockStart + bs, data.length);
      let o = blockStart;
      while (o + 8 <= end) {
        const ino = dv.getUint32(o, true);
        const recLen = dv.getUint16(o + 4, true);
        const nameLen = this.sb.hasFiletype ? dv.getUint8(o + 6) : dv.getUint16(o + 6, true);
        const fileType = this.sb.hasFiletype ? dv.getUint8(o + 7) : 0;
        if (recLen < 8 || recLen % 4 !== 0 || o + recLen > end || 8 + nameLen > recLen) {
          throw corrupt(dir.ino, `bad directory entry at offset ${o}`);
        }
        if (ino !== 0 && nameLen > 0) {
          const name = Buffer.from(data.subarray(o + 8, o + 8 + nameLen)).toString('utf8');
          // Directory entry file types (dir_entry.rst): 1 file, 2 dir, 7 symlink.
          const type: FileType = fileType === 1 ? 'file' : fileType === 2 ? 'directory' : fileType === 7 ? 'symlink' : 'other';
          out.push({ name, ino, type });
        }
        o += recLen;
      }
    }
    return out;
  }

  private readlinkInode(inode: Inode): string {
    // A fast symlink keeps its target in i_block when it has no data blocks (beyond an
    // extended-attribute block).
    const eaSectors = inode.fileAcl ? this.sb.blockSize / 512 : 0;
    if (inode.size < 60 && inode.sectors - eaSectors === 0) {
      return Buffer.from(inode.block.subarray(0, inode.size)).toString('utf8');
    }
    return Buffer.from(this.readInodeData(inode, 4096)).toString('utf8');
  }

  /** Resolves a path from the root; symlinks are followed (the last one only if follow). */
  private lookup(path: string, follow: boolean): Inode {
    let links = 0;
    const resolve = (parts: string[], start: Inode, stack: Inode[]): Inode => {
      let cur = start;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (part === '' || part === '.') continue;
        if (part === '..') {
          cur = stack.pop() ?? this.inode(ROOT_INO);
          continue;
        }
        const entry = this.entries(cur).find((e) => e.name === part);
        if (!entry) throw new TsvirtError(`${path}: no such file or directory in the guest file system`);
        const next = this.inode(entry.ino);
        const last = i === parts.length - 1;
        if (typeOf(next.mode) === 'symlink' && (!last || follow)) {
          if (++links > MAX_SYMLINKS) throw new TsvirtError(`${path}: too many levels of symbolic links`);
          const target = this.readlinkInode(next);
          const base = target.startsWith('/') ? this.inode(ROOT_INO) : cur;
          const baseStack = target.startsWith('/') ? [] : stack;
          cur = resolve(target.split('/'), base, baseStack);
          continue;
        }
        stack.push(cur);
        cur = next;
      }
      return cur;
    };
    return resolve(path.split('/'), this.inode(ROOT_INO), []);
  }

  stat(path: string): Stat {
    const i = this.lookup(path, true);
    return { ino: i.ino, type: typeOf(i.mode), mode: i.mode & 0o7777, size: i.size };
  }

  exists(path: string): boolean {
    try {
      this.lookup(path, true);
      return true;
    } catch (err) {
      if (err instanceof TsvirtError && /no such file/.test(err.message)) return false;
      throw err;
    }
  }

  readDir(path: string): DirEntry[] {
    return this.entries(this.lookup(path, true));
  }

  readFile(path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Uint8Array {
    const inode = this.lookup(path, true);
    if (typeOf(inode.mode) !== 'file') throw new TsvirtError(`${path} is not a regular file in the guest file system`);
    return this.readInodeData(inode, maxBytes);
  }

  readlink(path: string): string {
    const inode = this.lookup(path, false);
    if (typeOf(inode.mode) !== 'symlink') throw new TsvirtError(`${path} is not a symbolic link`);
    return this.readlinkInode(inode);
  }
}
