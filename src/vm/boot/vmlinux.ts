// Host-side decompression of a bzImage's kernel. A bzImage carries
// the kernel proper (vmlinux, an ELF file) compressed behind a decompressor that runs in
// the guest (boot.rst: payload_offset/payload_length, protocol 2.08+). Debian's generic
// kernels are xz-compressed, and LZMA decoding is the slowest thing a software CPU can be
// given: about two minutes of guest time before the kernel prints its first line. When the
// host can decompress the payload (the xz or lz4 tool, zlib for gzip), the loader places the
// ELF segments at their physical addresses and enters vmlinux's own startup_64 (or
// startup_32) with the same zero page and CPU state as the bzImage entry — the 64- and
// 32-bit boot protocols as VMMs that boot vmlinux use them. The kernel then runs at its link address
// (no KASLR: KASLR_FLAG stays clear in loadflags). Anything unexpected — an unknown
// compression, no xz or lz4 tool, a malformed ELF — returns undefined and the guest's own
// decompressor does the work as before; every field of the file is checked first.

import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';

export interface VmlinuxSegment {
  /** Physical load address. */
  paddr: number;
  /** Bytes from the file; memsz - data.length more are zero (.bss). */
  data: Uint8Array;
  memsz: number;
}

export interface Vmlinux {
  /** Physical address of startup_64 (64-bit kernels) or startup_32 (32-bit ones). */
  entry: number;
  /** ELF64 x86-64 or ELF32 i386: which boot protocol entry it takes. */
  bits: 64 | 32;
  segments: VmlinuxSegment[];
  /** How the payload was decompressed, for messages. */
  decompressedBy: string;
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const LZ4_LEGACY_MAGIC = [0x02, 0x21, 0x4c, 0x18];
const PT_LOAD = 1;
const EM_X86_64 = 62;
const EM_386 = 3;

function startsWith(b: Uint8Array, magic: number[]): boolean {
  return magic.every((m, i) => b[i] === m);
}

/** The compressed payload inside the protected-mode kernel, or undefined (pre-2.08 header). */
function payloadOf(image: Uint8Array, kernelOffset: number, protocol: number): Uint8Array | undefined {
  if (protocol < 0x0208) return undefined;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const start = kernelOffset + v.getUint32(0x248, true);
  const len = v.getUint32(0x24c, true);
  if (len === 0 || start + len > image.length) return undefined;
  return image.subarray(start, start + len);
}

function decompress(payload: Uint8Array, limit: number): { bytes: Uint8Array; by: string } | undefined {
  try {
    if (startsWith(payload, XZ_MAGIC)) {
      // --single-stream: the build appends the decompressed size after the xz stream.
      const out = execFileSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: limit, stdio: ['pipe', 'pipe', 'ignore'] });
      return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), by: 'xz' };
    }
    if (startsWith(payload, LZ4_LEGACY_MAGIC) && payload.length > 8) {
      // The legacy frame has no end mark: drop the appended size, or lz4 reads it as a block.
      const out = execFileSync('lz4', ['-dc'], { input: payload.subarray(0, payload.length - 4), maxBuffer: limit, stdio: ['pipe', 'pipe', 'ignore'] });
      return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), by: 'lz4' };
    }
    if (startsWith(payload, GZIP_MAGIC)) {
      const out = gunzipSync(payload, { maxOutputLength: limit });
      return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), by: 'zlib' };
    }
  } catch {
    return undefined; // no xz tool, over the limit, corrupt: the guest decompresses instead
  }
  return undefined;
}

/**
 * The PT_LOAD segments and entry of an x86 executable ELF (ELF64 x86-64 or ELF32 i386, as
 * the 64- and 32-bit kernels are built), or undefined if it is not one.
 */
export function parseVmlinuxElf(elf: Uint8Array): Omit<Vmlinux, 'decompressedBy'> | undefined {
  if (elf.length < 52 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46 || elf[5] !== 1) return undefined;
  const is64 = elf[4] === 2;
  if (!is64 && elf[4] !== 1) return undefined;
  if (is64 && elf.length < 64) return undefined;
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const word = (o: number): number => (is64 ? Number(v.getBigUint64(o, true)) : v.getUint32(o, true));
  if (v.getUint16(16, true) !== 2 || v.getUint16(18, true) !== (is64 ? EM_X86_64 : EM_386)) return undefined; // ET_EXEC
  const entry = word(24);
  const phoff = word(is64 ? 32 : 28);
  const phentsize = v.getUint16(is64 ? 54 : 42, true), phnum = v.getUint16(is64 ? 56 : 44, true);
  if (phentsize < (is64 ? 56 : 32) || phnum === 0 || phoff + phnum * phentsize > elf.length) return undefined;
  const segments: VmlinuxSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz; Elf32_Phdr: type, offset, vaddr, paddr, filesz, memsz.
    const [offset, paddr, filesz, memsz] = is64 ? [word(o + 8), word(o + 24), word(o + 32), word(o + 40)] : [word(o + 4), word(o + 12), word(o + 16), word(o + 20)];
    if (offset + filesz > elf.length || memsz < filesz || !Number.isSafeInteger(paddr + memsz)) return undefined;
    segments.push({ paddr, data: elf.subarray(offset, offset + filesz), memsz });
  }
  if (!segments.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz)) return undefined;
  return { entry, bits: is64 ? 64 : 32, segments };
}

/**
 * vmlinux from a bzImage's payload when the host can decompress it, else undefined.
 * `limit` bounds the decompressed size (the kernel's init_size and the guest's RAM).
 */
export function hostDecompressedKernel(image: Uint8Array, kernelOffset: number, protocol: number, limit: number): Vmlinux | undefined {
  const payload = payloadOf(image, kernelOffset, protocol);
  if (!payload) return undefined;
  const out = decompress(payload, limit);
  if (!out) return undefined;
  const elf = parseVmlinuxElf(out.bytes);
  return elf && { ...elf, decompressedBy: out.by };
}
