// The x86 Linux kernel image's real-mode setup header (Linux Documentation/arch/x86/
// boot.rst, "The real-mode kernel header"), as read from a bzImage file. Only what the
// loader needs is decoded; every field comes from a user-supplied file and is checked
// before use. Rejects zImage (not LOADED_HIGH) and boot protocols older than 2.06 (no
// cmdline_size, no reliable relocation), which no kernel since 2.6.22 produces.

import { TsvirtError } from '../../lib/errors.js';

export const SETUP_HEADER_OFFSET = 0x1f1;
export const HDRS_MAGIC = 0x5372_6448; // "HdrS"
export const BOOT_FLAG = 0xaa55;
export const LOADFLAGS_LOADED_HIGH = 0x01;
export const LOADFLAGS_KEEP_SEGMENTS = 0x40;
export const LOADFLAGS_CAN_USE_HEAP = 0x80;
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
export const MIN_BOOT_PROTOCOL = 0x0206;

export interface BzImageHeader {
  /** Boot protocol version, e.g. 0x020f. */
  protocol: number;
  setupSects: number;
  /** File offset of the protected-mode kernel. */
  kernelOffset: number;
  /** Bytes of protected-mode kernel in the file. */
  kernelBytes: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  xloadflags: number;
  cmdlineSize: number;
  prefAddress: number;
  /** Memory the kernel needs from its load address while it decompresses. */
  initSize: number;
  /** 64-bit entry point available (startup_64 at load address + 0x200). */
  has64BitEntry: boolean;
  /** The setup header bytes (0x1F1 .. end of header) to copy into the zero page. */
  headerBytes: Uint8Array;
}

function bad(file: string, why: string): TsvirtError {
  return new TsvirtError(`${file} is not a bootable Linux bzImage: ${why}`, 'pass a kernel image such as /boot/vmlinuz-* (bzImage, boot protocol 2.06 or newer)');
}

export function parseBzImage(image: Uint8Array, file = 'the kernel'): BzImageHeader {
  if (image.length < 0x400) throw bad(file, `only ${image.length} bytes`);
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (v.getUint16(0x1fe, true) !== BOOT_FLAG) throw bad(file, 'no 0xAA55 boot flag at 0x1FE');
  if (v.getUint32(0x202, true) !== HDRS_MAGIC) throw bad(file, 'no "HdrS" setup header (pre-2.00 boot protocol)');
  const protocol = v.getUint16(0x206, true);
  const vstr = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, '0')}`;
  if (protocol < MIN_BOOT_PROTOCOL) throw bad(file, `boot protocol ${vstr} is older than 2.06`);
  const loadflags = image[0x211];
  if (!(loadflags & LOADFLAGS_LOADED_HIGH)) throw bad(file, 'it is a zImage (loaded low), not a bzImage');
  const setupSects = image[0x1f1] === 0 ? 4 : image[0x1f1];
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) throw bad(file, `setup_sects ${setupSects} points past the end of the file`);
  // The header ends where the jump at 0x200 lands: 0x202 + the jump's signed 8-bit offset.
  const headerEnd = Math.min(0x202 + image[0x201], kernelOffset, 0x290);
  const initSize = protocol >= 0x020a ? v.getUint32(0x260, true) : 0;
  const kernelBytes = image.length - kernelOffset;
  return {
    protocol,
    setupSects,
    kernelOffset,
    kernelBytes,
    loadflags,
    code32Start: v.getUint32(0x214, true),
    initrdAddrMax: v.getUint32(0x22c, true),
    kernelAlignment: v.getUint32(0x230, true),
    relocatable: image[0x234] !== 0,
    xloadflags: protocol >= 0x020c ? v.getUint16(0x236, true) : 0,
    cmdlineSize: v.getUint32(0x238, true),
    prefAddress: protocol >= 0x020a ? Number(v.getBigUint64(0x258, true)) : 0x100000,
    initSize: Math.max(initSize, kernelBytes),
    has64BitEntry: protocol >= 0x020c && (v.getUint16(0x236, true) & XLF_KERNEL_64) !== 0,
    headerBytes: image.slice(SETUP_HEADER_OFFSET, headerEnd),
  };
}
