// A read-only ISO9660 image reader: volume descriptors (ECMA-119 §8), directory records
// (§9.1), Rock Ridge names through SUSP (IEEE P1281 SP/CE/NM/ST, P1282 RRIP §4.1.4) and
// Joliet names (UCS-2 big-endian in a supplementary volume descriptor whose escape
// sequence is %/@, %/C or %/E). Everything read from the image is hostile: extents and
// sizes are checked against the image size, directory and continuation-area sizes are
// bounded, and a directory that points back at one of its ancestors is reported as a
// loop. Leaves out: the path table (directories are walked instead), multi-extent files,
// interleaved files, Rock Ridge deep-directory relocation (CL/RE) and symlinks (SL),
// UDF, El Torito boot images.
import { open, type FileHandle } from 'node:fs/promises';
import { TsvirtError } from '../../lib/errors.js';

export const ISO_SECTOR_BYTES = 2048;
const FIRST_DESCRIPTOR_SECTOR = 16; // ECMA-119 §6.2.1: sectors 0-15 are the system area
const VD_PRIMARY = 1;
const VD_SUPPLEMENTARY = 2;
const VD_TERMINATOR = 255;
const MAX_DESCRIPTORS = 64;
const DIR_RECORD_MIN_BYTES = 33;
const FLAG_DIRECTORY = 0x02;
const FLAG_MULTI_EXTENT = 0x80;
const MAX_DIRECTORY_BYTES = 16 * 1024 * 1024;
const MAX_CONTINUATIONS = 32;
const MAX_PATH_DEPTH = 64;
const EXTRACT_CHUNK_BYTES = 4 * 1024 * 1024;

export interface IsoEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  /** First logical block of the data. */
  readonly extent: number;
  readonly sizeBytes: number;
  /** Byte offset of this directory record in the image (for diagnostics and tests). */
  readonly recordOffset: number;
}

type NameScheme = 'rockridge' | 'joliet' | 'iso';

export class Iso9660Image {
  private constructor(
    private readonly fh: FileHandle,
    private readonly imageBytes: number,
    private readonly label: string,
    readonly volumeId: string,
    readonly nameScheme: NameScheme,
    private readonly root: IsoEntry,
    private readonly susPSkip: number,
  ) {}

  /** Opens and checks the volume descriptors of an image file. */
  static async open(path: string): Promise<Iso9660Image> {
    const fh = await open(path, 'r');
    try {
      const imageBytes = (await fh.stat()).size;
      if (imageBytes < (FIRST_DESCRIPTOR_SECTOR + 1) * ISO_SECTOR_BYTES) {
        throw new TsvirtError(`${path} is not an ISO9660 image: too small (${imageBytes} bytes)`);
      }
      let primary: Buffer | undefined;
      let joliet: Buffer | undefined;
      let terminated = false;
      for (let i = 0; i < MAX_DESCRIPTORS; i++) {
        const sector = FIRST_DESCRIPTOR_SECTOR + i;
        if ((sector + 1) * ISO_SECTOR_BYTES > imageBytes) break;
        const vd = await readAt(fh, sector * ISO_SECTOR_BYTES, ISO_SECTOR_BYTES);
        // ECMA-119 §8.1: type, standard identifier "CD001", version 1.
        if (vd.toString('latin1', 1, 6) !== 'CD001') {
          throw new TsvirtError(`${path} is not an ISO9660 image: bad volume descriptor at sector ${sector}`);
        }
        const type = vd[0];
        if (type === VD_TERMINATOR) {
          terminated = true;
          break;
        }
        if (type === VD_PRIMARY && !primary) primary = vd;
        if (type === VD_SUPPLEMENTARY && !joliet) {
          const esc = vd.toString('latin1', 88, 91);
          if (esc === '%/@' || esc === '%/C' || esc === '%/E') joliet = vd;
        }
      }
      if (!primary) throw new TsvirtError(`${path} is not an ISO9660 image: no primary volume descriptor`);
      if (!terminated) throw new TsvirtError(`${path}: damaged ISO9660 image: no volume descriptor set terminator`);
      // §8.4.12: logical block size (both-endian); only 2048 is used by real media.
      const blockSize = primary.readUInt16LE(128);
      if (blockSize !== ISO_SECTOR_BYTES) {
        throw new TsvirtError(`${path}: unsupported ISO9660 logical block size ${blockSize}`);
      }
      const volumeId = primary.toString('latin1', 40, 72).trim();
      const primaryRoot = parseRecord(primary, 156, 0, path, imageBytes);
      if (!primaryRoot || !primaryRoot.isDirectory) throw new TsvirtError(`${path}: damaged ISO9660 image: bad root directory record`);

      // Rock Ridge is announced by an SUSP "SP" entry in the root's "." record (SUSP §5.3).
      const rootDir = await readExtent(fh, primaryRoot.extent, primaryRoot.sizeBytes, path, imageBytes);
      const dot = rootDir[0];
      let susPSkip = -1;
      if (dot >= 34) {
        const nameLen = rootDir[32];
        const su = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
        if (su + 7 <= dot && rootDir.toString('latin1', su, su + 2) === 'SP' && rootDir[su + 4] === 0xbe && rootDir[su + 5] === 0xef) {
          susPSkip = rootDir[su + 6];
        }
      }
      if (susPSkip >= 0) {
        return new Iso9660Image(fh, imageBytes, path, volumeId, 'rockridge', primaryRoot, susPSkip);
      }
      if (joliet) {
        const jroot = parseRecord(joliet, 156, 0, path, imageBytes);
        if (!jroot || !jroot.isDirectory) throw new TsvirtError(`${path}: damaged ISO9660 image: bad Joliet root directory record`);
        return new Iso9660Image(fh, imageBytes, path, volumeId, 'joliet', jroot, 0);
      }
      return new Iso9660Image(fh, imageBytes, path, volumeId, 'iso', primaryRoot, 0);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** The entries of a directory (without "." and ".."). */
  async list(dirPath: string): Promise<IsoEntry[]> {
    const dir = await this.lookup(dirPath);
    if (!dir) throw new TsvirtError(`${this.label}: no directory ${dirPath} in the image`);
    if (!dir.isDirectory) throw new TsvirtError(`${this.label}: ${dirPath} is not a directory`);
    return this.readDirectory(dir);
  }

  /** Finds a path ("a/b/c", leading slash optional); undefined when absent. */
  async lookup(path: string): Promise<IsoEntry | undefined> {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length > MAX_PATH_DEPTH) throw new TsvirtError(`${this.label}: path too deep: ${path}`);
    let current = this.root;
    const ancestors = new Set<number>([current.extent]);
    for (const part of parts) {
      if (part === '..') throw new TsvirtError(`${this.label}: '..' is not allowed in image paths (${path})`);
      if (!current.isDirectory) return undefined;
      const entries = await this.readDirectory(current);
      const match = entries.find((e) => this.sameName(e.name, part));
      if (!match) return undefined;
      // Hostile image: a directory whose extent is one of its ancestors would loop forever.
      if (match.isDirectory && ancestors.has(match.extent)) {
        throw new TsvirtError(`${this.label}: damaged ISO9660 image: directory loop at ${path}`);
      }
      ancestors.add(match.extent);
      current = match;
    }
    return current;
  }

  /** Reads a whole file, refusing files larger than maxBytes. */
  async readFile(path: string, maxBytes = 2 ** 31 - 1): Promise<Uint8Array> {
    const entry = await this.lookup(path);
    if (!entry) throw new TsvirtError(`${this.label}: no file ${path} in the image`);
    if (entry.isDirectory) throw new TsvirtError(`${this.label}: ${path} is a directory`);
    if (entry.sizeBytes > maxBytes) throw new TsvirtError(`${this.label}: ${path} is larger than ${maxBytes} bytes`);
    return new Uint8Array(await readExtent(this.fh, entry.extent, entry.sizeBytes, this.label, this.imageBytes));
  }

  /**
   * Copies a file out of the image in chunks (large kernels, initrds and root images
   * never sit whole in memory), handing each chunk to `onChunk` (e.g. a hash) too.
   */
  async extractTo(path: string, dest: string, onChunk?: (chunk: Uint8Array) => void): Promise<number> {
    const entry = await this.lookup(path);
    if (!entry) throw new TsvirtError(`${this.label}: no file ${path} in the image`);
    if (entry.isDirectory) throw new TsvirtError(`${this.label}: ${path} is a directory`);
    const start = entry.extent * ISO_SECTOR_BYTES;
    if (start + entry.sizeBytes > this.imageBytes) throw truncated(this.label);
    const out = await open(dest, 'w');
    try {
      for (let done = 0; done < entry.sizeBytes; ) {
        const n = Math.min(EXTRACT_CHUNK_BYTES, entry.sizeBytes - done);
        const chunk = await readAt(this.fh, start + done, n);
        onChunk?.(chunk);
        await out.write(chunk);
        done += n;
      }
    } finally {
      await out.close();
    }
    return entry.sizeBytes;
  }

  private sameName(a: string, b: string): boolean {
    // Plain ISO9660 names are upper-case d-characters; compare them case-insensitively.
    return this.nameScheme === 'iso' ? a.toLowerCase() === b.toLowerCase() : a === b;
  }

  private async readDirectory(dir: IsoEntry): Promise<IsoEntry[]> {
    if (dir.sizeBytes > MAX_DIRECTORY_BYTES) throw new TsvirtError(`${this.label}: damaged ISO9660 image: directory of ${dir.sizeBytes} bytes`);
    const data = await readExtent(this.fh, dir.extent, dir.sizeBytes, this.label, this.imageBytes);
    const entries: IsoEntry[] = [];
    let pos = 0;
    while (pos < data.length) {
      const len = data[pos];
      if (len === 0) {
        // §6.8.1.1: records never cross a sector; a zero byte pads to the next sector.
        pos = (Math.floor(pos / ISO_SECTOR_BYTES) + 1) * ISO_SECTOR_BYTES;
        continue;
      }
      const rec = parseRecord(data, pos, dir.extent * ISO_SECTOR_BYTES + pos, this.label, this.imageBytes);
      if (!rec) break;
      const nameLen = data[pos + 32];
      const isSelfOrParent = nameLen === 1 && (data[pos + 33] === 0 || data[pos + 33] === 1);
      if (!isSelfOrParent) {
        if (data[pos + 25] & FLAG_MULTI_EXTENT) {
          throw new TsvirtError(`${this.label}: multi-extent files are not supported yet (${rec.name})`);
        }
        let name = rec.name;
        if (this.nameScheme === 'joliet') name = decodeJoliet(data.subarray(pos + 33, pos + 33 + nameLen));
        else if (this.nameScheme === 'rockridge') name = (await this.rockRidgeName(data, pos, len)) ?? isoName(rec.name);
        else name = isoName(rec.name);
        if (name.includes('/') || name === '' || name === '.' || name === '..') {
          throw new TsvirtError(`${this.label}: damaged ISO9660 image: bad file name '${name}'`);
        }
        entries.push({ ...rec, name });
      }
      pos += len;
    }
    return entries;
  }

  /** RRIP §4.1.4: NM entries (possibly continued, possibly in CE areas) give the name. */
  private async rockRidgeName(data: Buffer, recPos: number, recLen: number): Promise<string | undefined> {
    const nameLen = data[recPos + 32];
    const suStart = recPos + 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0) + this.susPSkip;
    let area = data.subarray(suStart, recPos + recLen);
    let name: string | undefined;
    for (let hop = 0; hop <= MAX_CONTINUATIONS; hop++) {
      let next: { block: number; offset: number; length: number } | undefined;
      let p = 0;
      while (p + 4 <= area.length) {
        const sig = area.toString('latin1', p, p + 2);
        const len = area[p + 2];
        if (len < 4 || p + len > area.length) break;
        if (sig === 'NM' && len >= 5) {
          const flags = area[p + 4];
          if (!(flags & 0x06)) name = (name ?? '') + area.toString('utf8', p + 5, p + len);
        } else if (sig === 'CE' && len >= 28) {
          next = { block: area.readUInt32LE(p + 4), offset: area.readUInt32LE(p + 12), length: area.readUInt32LE(p + 20) };
        } else if (sig === 'ST') {
          break;
        }
        p += len;
      }
      if (!next) return name;
      if (next.length > ISO_SECTOR_BYTES * 4 || next.offset >= ISO_SECTOR_BYTES) {
        throw new TsvirtError(`${this.label}: damaged ISO9660 image: bad SUSP continuation area`);
      }
      const start = next.block * ISO_SECTOR_BYTES + next.offset;
      if (start + next.length > this.imageBytes) throw truncated(this.label);
      area = await readAt(this.fh, start, next.length);
    }
    throw new TsvirtError(`${this.label}: damaged ISO9660 image: too many SUSP continuation areas`);
  }
}

/** §9.1: one directory record; undefined when the length byte says there is none. */
function parseRecord(buf: Buffer, pos: number, imageOffset: number, label: string, imageBytes: number): IsoEntry | undefined {
  const len = buf[pos];
  if (len === 0) return undefined;
  if (len < DIR_RECORD_MIN_BYTES + 1 || pos + len > buf.length) {
    throw new TsvirtError(`${label}: damaged ISO9660 image: bad directory record at byte ${imageOffset}`);
  }
  const nameLen = buf[pos + 32];
  if (DIR_RECORD_MIN_BYTES + nameLen > len) {
    throw new TsvirtError(`${label}: damaged ISO9660 image: directory record name overruns the record at byte ${imageOffset}`);
  }
  const extent = buf.readUInt32LE(pos + 2);
  const sizeBytes = buf.readUInt32LE(pos + 10);
  // Checked here so nothing downstream reads past the image.
  if (extent * ISO_SECTOR_BYTES + sizeBytes > imageBytes) throw truncated(label);
  return {
    name: buf.toString('latin1', pos + 33, pos + 33 + nameLen),
    isDirectory: (buf[pos + 25] & FLAG_DIRECTORY) !== 0,
    extent,
    sizeBytes,
    recordOffset: imageOffset,
  };
}

function isoName(raw: string): string {
  // §7.5: "NAME.EXT;VERSION"; a name without extension keeps a trailing dot.
  let name = raw.replace(/;\d+$/, '');
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

function decodeJoliet(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i] << 8) | bytes[i + 1]);
  return s.replace(/;\d+$/, '');
}

function truncated(label: string): TsvirtError {
  return new TsvirtError(`${label}: truncated or damaged ISO9660 image: data lies beyond the end of the file`);
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw new TsvirtError('truncated ISO9660 image: short read');
  return buf;
}

async function readExtent(fh: FileHandle, extent: number, sizeBytes: number, label: string, imageBytes: number): Promise<Buffer> {
  const start = extent * ISO_SECTOR_BYTES;
  if (start + sizeBytes > imageBytes) throw truncated(label);
  return readAt(fh, start, sizeBytes);
}
