// MBR and GPT partition tables: reading them (to boot an installed disk) and writing
// them (tsvirt partitions target disks host-side before the installer boots, so the
// guest only makes file systems). Follows the UEFI 2.10 spec §5 (GPT, protective MBR)
// and the classic MBR layout (four primary entries at 0x1BE, signature 0x55AA).
// Left out: extended/logical MBR partitions (more than four on MBR is refused: use
// GPT), hybrid MBRs, CHS geometry (CHS fields are written as the LBA-only 0xFFFFFE
// marker like modern tools do).
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { TsvirtError } from '../../lib/errors.js';
import type { BlockDevice } from '../block-device.js';

export const SECTOR = 512;
const ALIGN_BYTES = 1024 * 1024; // partitions start on MiB boundaries, as parted/sfdisk do
const GPT_ENTRIES = 128;
const GPT_ENTRY_SIZE = 128;
const GPT_ENTRY_SECTORS = (GPT_ENTRIES * GPT_ENTRY_SIZE) / SECTOR; // 32

export type PartitionKind = 'linux' | 'swap' | 'efi' | 'bios-boot';

/** MBR type bytes and GPT type GUIDs for what tsvirt creates. */
const MBR_TYPE: Record<PartitionKind, number> = { linux: 0x83, swap: 0x82, efi: 0xef, 'bios-boot': 0xef };
export const GPT_TYPE: Record<PartitionKind, string> = {
  linux: '0fc63daf-8483-4772-8e79-3d69d8477de4',
  swap: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f',
  efi: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  'bios-boot': '21686148-6449-6e6f-744e-656564454649',
};

export interface PartitionSpec {
  sizeBytes: number;
  kind: PartitionKind;
  bootable?: boolean;
  name?: string;
}

export interface Partition {
  /** 1-based, as the guest names it (vda1). */
  number: number;
  startBytes: number;
  sizeBytes: number;
  /** MBR type byte as hex ("83") or GPT type GUID. */
  type: string;
  bootable: boolean;
  name?: string;
  uuid?: string;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  partitions: Partition[];
  diskId: string;
}

function writeAll(dev: BlockDevice, offset: number, data: Uint8Array): void {
  dev.write(offset, data);
}

// GUIDs are stored mixed-endian: the first three fields little-endian.
function guidToBytes(guid: string): Uint8Array {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`bad GUID ${guid}`);
  const b = Buffer.from(hex, 'hex');
  const out = Buffer.alloc(16);
  out.writeUInt32LE(b.readUInt32BE(0), 0);
  out.writeUInt16LE(b.readUInt16BE(4), 4);
  out.writeUInt16LE(b.readUInt16BE(6), 6);
  b.copy(out, 8, 8);
  return out;
}

function bytesToGuid(b: Uint8Array): string {
  const v = Buffer.from(b);
  const hex =
    v.readUInt32LE(0).toString(16).padStart(8, '0') +
    v.readUInt16LE(4).toString(16).padStart(4, '0') +
    v.readUInt16LE(6).toString(16).padStart(4, '0') +
    v.subarray(8, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Lays out partitions one after another from 1 MiB, each rounded up to whole MiB, and
 * checks they fit before the GPT backup area (or the disk's end for MBR).
 */
export function layoutPartitions(diskBytes: number, scheme: 'mbr' | 'gpt', specs: readonly PartitionSpec[]): Partition[] {
  if (scheme === 'mbr' && specs.length > 4) {
    throw new TsvirtError(`${specs.length} partitions do not fit an MBR without logical partitions, which tsvirt does not support yet`, 'use a GPT disk');
  }
  if (scheme === 'mbr' && diskBytes > 2 ** 32 * SECTOR) throw new TsvirtError('MBR cannot address disks larger than 2 TiB', 'use a GPT disk');
  const end = scheme === 'gpt' ? diskBytes - (GPT_ENTRY_SECTORS + 1) * SECTOR : diskBytes;
  let cursor = ALIGN_BYTES;
  return specs.map((spec, i) => {
    if (!(spec.sizeBytes > 0)) throw new TsvirtError(`partition ${i + 1} has no size`);
    const size = Math.ceil(spec.sizeBytes / ALIGN_BYTES) * ALIGN_BYTES;
    if (cursor + size > end) {
      throw new TsvirtError(
        `partition ${i + 1} (${size / ALIGN_BYTES} MiB) does not fit the ${Math.floor(diskBytes / ALIGN_BYTES)} MiB disk`,
        'make the disk larger or the partitions smaller',
      );
    }
    const p: Partition = {
      number: i + 1,
      startBytes: cursor,
      sizeBytes: size,
      type: scheme === 'mbr' ? MBR_TYPE[spec.kind].toString(16) : GPT_TYPE[spec.kind],
      bootable: spec.bootable ?? false,
      name: spec.name,
    };
    cursor += size;
    return p;
  });
}

/** The largest size a last, growing partition can have after the ones before it. */
export function spaceAfter(diskBytes: number, scheme: 'mbr' | 'gpt', usedBytes: number): number {
  const end = scheme === 'gpt' ? diskBytes - (GPT_ENTRY_SECTORS + 1) * SECTOR : diskBytes;
  return Math.max(0, Math.floor((end - ALIGN_BYTES - usedBytes) / ALIGN_BYTES) * ALIGN_BYTES);
}

function mbrEntry(buf: DataView, slot: number, bootable: boolean, type: number, startLba: number, sectors: number): void {
  const o = 0x1be + slot * 16;
  buf.setUint8(o, bootable ? 0x80 : 0);
  // CHS "beyond 1024 cylinders" markers: LBA-only partitions.
  buf.setUint8(o + 1, 0xfe);
  buf.setUint16(o + 2, 0xffff, true);
  buf.setUint8(o + 4, type);
  buf.setUint8(o + 5, 0xfe);
  buf.setUint16(o + 6, 0xffff, true);
  buf.setUint32(o + 8, startLba, true);
  buf.setUint32(o + 12, sectors, true);
}

/** Writes a fresh partition table laid out by layoutPartitions. */
export function writePartitionTable(dev: BlockDevice, scheme: 'mbr' | 'gpt', specs: readonly PartitionSpec[]): PartitionTable {
  return writePartitionLayout(dev, scheme, layoutPartitions(dev.size, scheme, specs));
}

export interface PlacedPartition extends PartitionSpec {
  startBytes: number;
}

/** Checks a layout decided elsewhere (an install plan): sector-aligned, in order, on the disk. */
export function placePartitions(diskBytes: number, scheme: 'mbr' | 'gpt', placed: readonly PlacedPartition[]): Partition[] {
  if (scheme === 'mbr' && placed.length > 4) {
    throw new TsvirtError(`${placed.length} partitions do not fit an MBR without logical partitions, which tsvirt does not support yet`, 'use a GPT disk');
  }
  const first = scheme === 'gpt' ? (2 + GPT_ENTRY_SECTORS) * SECTOR : SECTOR;
  const end = scheme === 'gpt' ? diskBytes - (GPT_ENTRY_SECTORS + 1) * SECTOR : diskBytes;
  let cursor = first;
  return placed.map((p, i) => {
    if (p.startBytes % SECTOR || p.sizeBytes % SECTOR || p.sizeBytes <= 0 || p.startBytes < cursor || p.startBytes + p.sizeBytes > end) {
      throw new TsvirtError(`partition ${i + 1} at ${p.startBytes}+${p.sizeBytes} does not fit the ${diskBytes}-byte disk's ${scheme} layout`);
    }
    cursor = p.startBytes + p.sizeBytes;
    return {
      number: i + 1,
      startBytes: p.startBytes,
      sizeBytes: p.sizeBytes,
      type: scheme === 'mbr' ? MBR_TYPE[p.kind].toString(16) : GPT_TYPE[p.kind],
      bootable: p.bootable ?? false,
      name: p.name,
    };
  });
}

/** Writes a fresh partition table for partitions already placed (zeroing old GPT areas). */
export function writePartitionLayout(dev: BlockDevice, scheme: 'mbr' | 'gpt', parts: Partition[]): PartitionTable {
  const totalSectors = Math.floor(dev.size / SECTOR);
  const mbr = new Uint8Array(SECTOR);
  const mdv = new DataView(mbr.buffer);
  mdv.setUint8(510, 0x55);
  mdv.setUint8(511, 0xaa);
  if (scheme === 'mbr') {
    const diskId = (Math.random() * 0xffffffff) >>> 0;
    mdv.setUint32(440, diskId, true);
    parts.forEach((p, i) => mbrEntry(mdv, i, p.bootable, parseInt(p.type, 16), p.startBytes / SECTOR, p.sizeBytes / SECTOR));
    writeAll(dev, 0, mbr);
    // A stale GPT header from an earlier install would confuse the kernel.
    writeAll(dev, SECTOR, new Uint8Array(SECTOR));
    writeAll(dev, (totalSectors - 1) * SECTOR, new Uint8Array(SECTOR));
    dev.flush();
    return { scheme, partitions: parts, diskId: diskId.toString(16).padStart(8, '0') };
  }
  // Protective MBR: one 0xEE entry over the whole disk (capped at 2^32-1 sectors).
  mbrEntry(mdv, 0, false, 0xee, 1, Math.min(totalSectors - 1, 0xffffffff));
  const diskGuid = randomUUID();
  const entries = new Uint8Array(GPT_ENTRIES * GPT_ENTRY_SIZE);
  const edv = new DataView(entries.buffer);
  for (const p of parts) {
    const o = (p.number - 1) * GPT_ENTRY_SIZE;
    p.uuid = randomUUID();
    entries.set(guidToBytes(p.type), o);
    entries.set(guidToBytes(p.uuid), o + 16);
    edv.setBigUint64(o + 32, BigInt(p.startBytes / SECTOR), true);
    edv.setBigUint64(o + 40, BigInt((p.startBytes + p.sizeBytes) / SECTOR - 1), true);
    edv.setBigUint64(o + 48, p.bootable ? 4n : 0n, true); // bit 2: legacy BIOS bootable
    const name = Buffer.from((p.name ?? '').slice(0, 36), 'utf16le');
    entries.set(name, o + 56);
  }
  const entriesCrc = crc32(entries);
  const lastLba = totalSectors - 1;
  const header = (myLba: number, altLba: number, entriesLba: number): Uint8Array => {
    const h = new Uint8Array(SECTOR);
    const hdv = new DataView(h.buffer);
    h.set(Buffer.from('EFI PART', 'ascii'), 0);
    hdv.setUint32(8, 0x00010000, true); // revision 1.0
    hdv.setUint32(12, 92, true);
    hdv.setBigUint64(24, BigInt(myLba), true);
    hdv.setBigUint64(32, BigInt(altLba), true);
    hdv.setBigUint64(40, BigInt(2 + GPT_ENTRY_SECTORS), true); // first usable
    hdv.setBigUint64(48, BigInt(lastLba - GPT_ENTRY_SECTORS - 1), true); // last usable
    h.set(guidToBytes(diskGuid), 56);
    hdv.setBigUint64(72, BigInt(entriesLba), true);
    hdv.setUint32(80, GPT_ENTRIES, true);
    hdv.setUint32(84, GPT_ENTRY_SIZE, true);
    hdv.setUint32(88, entriesCrc, true);
    hdv.setUint32(16, crc32(h.subarray(0, 92)), true);
    return h;
  };
  // Backup first, primary last: a crash in between leaves the old primary table.
  writeAll(dev, (lastLba - GPT_ENTRY_SECTORS) * SECTOR, entries);
  writeAll(dev, lastLba * SECTOR, header(lastLba, 1, lastLba - GPT_ENTRY_SECTORS));
  writeAll(dev, 2 * SECTOR, entries);
  writeAll(dev, SECTOR, header(1, lastLba, 2));
  writeAll(dev, 0, mbr);
  dev.flush();
  return { scheme, partitions: parts, diskId: diskGuid };
}

/** Reads the partition table; an unpartitioned disk gives an empty MBR table. */
export function readPartitionTable(dev: BlockDevice): PartitionTable {
  if (dev.size < 2 * SECTOR) return { scheme: 'mbr', partitions: [], diskId: '' };
  const mbr = new Uint8Array(SECTOR);
  dev.read(0, mbr);
  const mdv = new DataView(mbr.buffer);
  if (mdv.getUint16(510, true) !== 0xaa55) return { scheme: 'mbr', partitions: [], diskId: '' };
  const types = [0, 1, 2, 3].map((i) => mbr[0x1be + i * 16 + 4]);
  if (types.includes(0xee)) return readGpt(dev);
  const partitions: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 0x1be + i * 16;
    const type = mbr[o + 4];
    const start = mdv.getUint32(o + 8, true) * SECTOR;
    const size = mdv.getUint32(o + 12, true) * SECTOR;
    if (type === 0 || size === 0) continue;
    // Extended partitions (0x05, 0x0f, 0x85) hold logical ones, which are not read yet.
    if (type === 0x05 || type === 0x0f || type === 0x85) continue;
    if (start + size > dev.size) throw new TsvirtError(`MBR partition ${i + 1} runs past the end of the disk`);
    partitions.push({ number: i + 1, startBytes: start, sizeBytes: size, type: type.toString(16), bootable: mbr[o] === 0x80 });
  }
  return { scheme: 'mbr', partitions, diskId: mdv.getUint32(440, true).toString(16).padStart(8, '0') };
}

function readGpt(dev: BlockDevice): PartitionTable {
  const h = new Uint8Array(SECTOR);
  dev.read(SECTOR, h);
  const hdv = new DataView(h.buffer);
  if (Buffer.from(h.subarray(0, 8)).toString('ascii') !== 'EFI PART') throw new TsvirtError('protective MBR without a GPT header');
  const headerSize = hdv.getUint32(12, true);
  if (headerSize < 92 || headerSize > SECTOR) throw new TsvirtError(`GPT header size ${headerSize} is invalid`);
  const crc = hdv.getUint32(16, true);
  const copy = h.slice(0, headerSize);
  new DataView(copy.buffer).setUint32(16, 0, true);
  if (crc32(copy) !== crc) throw new TsvirtError('GPT header checksum mismatch');
  const entriesLba = Number(hdv.getBigUint64(72, true));
  const count = hdv.getUint32(80, true);
  const size = hdv.getUint32(84, true);
  if (size < 128 || size % 8 !== 0 || count > 1024 || entriesLba < 2 || (entriesLba * SECTOR + count * size) > dev.size) {
    throw new TsvirtError('GPT partition entry array is invalid');
  }
  const entries = new Uint8Array(count * size);
  dev.read(entriesLba * SECTOR, entries);
  if (crc32(entries) !== hdv.getUint32(88, true)) throw new TsvirtError('GPT partition entries checksum mismatch');
  const edv = new DataView(entries.buffer);
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * size;
    if (entries.subarray(o, o + 16).every((b) => b === 0)) continue;
    const first = Number(edv.getBigUint64(o + 32, true));
    const last = Number(edv.getBigUint64(o + 40, true));
    if (last < first || (last + 1) * SECTOR > dev.size) throw new TsvirtError(`GPT partition ${i + 1} lies outside the disk`);
    const rawName = Buffer.from(entries.subarray(o + 56, o + 128)).toString('utf16le');
    partitions.push({
      number: i + 1,
      startBytes: first * SECTOR,
      sizeBytes: (last - first + 1) * SECTOR,
      type: bytesToGuid(entries.subarray(o, o + 16)),
      uuid: bytesToGuid(entries.subarray(o + 16, o + 32)),
      bootable: (edv.getBigUint64(o + 48, true) & 4n) !== 0n,
      name: rawName.replace(/\0.*$/s, ''),
    });
  }
  return { scheme: 'gpt', partitions, diskId: bytesToGuid(h.subarray(56, 72)) };
}
