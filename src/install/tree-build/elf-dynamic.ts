// What a dynamically linked x86-64 ELF executable or library needs in order to run: its
// program interpreter (PT_INTERP) and the shared libraries it names (DT_NEEDED), read from
// the file itself (ELF-64 object file format, version 1.5: program headers §4.1, the
// dynamic section §5.2). The tree builder uses this to copy a tool such as mke2fs into the
// installer initramfs together with exactly the libraries it loads. The file comes from a
// directory the user named: every offset and size is checked against the file before use.
// Leaves out: 32-bit and big-endian ELF, DT_RPATH/DT_RUNPATH (system tools have none).
import { TsvirtError } from '../../lib/errors.js';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const EM_X86_64 = 62;

export interface ElfDynamicInfo {
  /** The program interpreter, e.g. /lib64/ld-linux-x86-64.so.2; undefined for libraries and static files. */
  interpreter?: string;
  /** DT_NEEDED sonames in file order. */
  needed: string[];
}

interface Segment { type: number; offset: number; vaddr: number; filesz: number }

/** Reads PT_INTERP and DT_NEEDED; throws TsvirtError naming `what` when the file is not an ELF-64 x86-64 object. */
export function readElfDynamic(bytes: Uint8Array, what: string): ElfDynamicInfo {
  const bad = (why: string): TsvirtError => new TsvirtError(`${what} is not a usable x86-64 ELF file: ${why}`);
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw bad('no ELF magic');
  if (bytes[4] !== 2 || bytes[5] !== 1) throw bad('not 64-bit little-endian');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0x12, true) !== EM_X86_64) throw bad('not for x86-64');
  const u64 = (o: number): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('an offset is out of range');
    return Number(v);
  };
  const phoff = u64(0x20);
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  if (phentsize < 56 || phoff + phnum * phentsize > bytes.length) throw bad('program headers outside the file');
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const seg = { type: dv.getUint32(o, true), offset: u64(o + 8), vaddr: u64(o + 16), filesz: u64(o + 32) };
    if (seg.offset + seg.filesz > bytes.length) throw bad(`segment ${i} lies outside the file`);
    segments.push(seg);
  }
  const cString = (at: number, end: number): string => {
    let e = at;
    while (e < end && bytes[e] !== 0) e++;
    if (e >= end) throw bad('an unterminated string');
    return Buffer.from(bytes.subarray(at, e)).toString('latin1');
  };

  const interp = segments.find((s) => s.type === PT_INTERP);
  const interpreter = interp ? cString(interp.offset, interp.offset + interp.filesz) : undefined;
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dynamic) return { interpreter, needed: [] };

  const neededOffsets: number[] = [];
  let strtabVaddr: number | undefined;
  let strsz: number | undefined;
  for (let o = dynamic.offset; o + 16 <= dynamic.offset + dynamic.filesz; o += 16) {
    const tag = dv.getBigInt64(o, true);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(u64(o + 8));
    else if (tag === DT_STRTAB) strtabVaddr = u64(o + 8);
    else if (tag === DT_STRSZ) strsz = u64(o + 8);
  }
  if (neededOffsets.length === 0) return { interpreter, needed: [] };
  if (strtabVaddr === undefined || strsz === undefined) throw bad('DT_NEEDED without a string table');
  // DT_STRTAB is an address: the PT_LOAD segment that maps it gives its place in the file.
  const load = segments.find((s) => s.type === PT_LOAD && strtabVaddr! >= s.vaddr && strtabVaddr! < s.vaddr + s.filesz);
  if (!load) throw bad('the dynamic string table is not in a loaded segment');
  const strtab = load.offset + (strtabVaddr - load.vaddr);
  const strEnd = Math.min(strtab + strsz, load.offset + load.filesz);
  const needed = neededOffsets.map((n) => {
    if (strtab + n >= strEnd) throw bad('a DT_NEEDED name lies outside the string table');
    return cString(strtab + n, strEnd);
  });
  return { interpreter, needed };
}
