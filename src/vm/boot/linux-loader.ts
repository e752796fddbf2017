// Loads a Linux bzImage for direct kernel boot (Documentation/arch/x86/boot.rst, "Loading
// the rest of the kernel", "The zero page", "64-bit Boot Protocol", "32-bit Boot
// Protocol"): the protected-mode kernel at 1 MiB (code32_start; a relocatable kernel
// moves itself to pref_address while decompressing), the initrd as high as
// initrd_addr_max and low RAM allow (page aligned, above the kernel's init_size), the
// command line, and the zero page (boot_params) with the setup header, the e820 map and
// the ACPI RSDP address. It writes guest memory and returns facts: the entry registers
// (STYLE.md §7); the machine loads them into the boot vCPU. Leaves out the real-mode
// entry (there is no BIOS), setup_data chains and EFI handover.

import { TsvirtError } from '../../lib/errors.js';
import type { GuestMemory } from '../memory.js';
import { PCI_HOLE_START } from '../memory.js';
import type { RegisterDump } from '../vcpu.js';
import { LOADFLAGS_CAN_USE_HEAP, parseBzImage, type BzImageHeader } from './bzimage.js';
import { E820_MAX_ENTRIES_ZEROPAGE, type E820Entry } from './e820.js';
import { setupLongModeEntry, setupProtectedModeEntry } from './entry-state.js';
import { hostDecompressedKernel } from './vmlinux.js';

export const ZERO_PAGE_ADDR = 0x7000;
export const CMDLINE_ADDR = 0x20000;
export const CMDLINE_MAX_BYTES = 0x10000; // up to the 64 KiB window below 0x30000
export const KERNEL_LOAD_ADDR = 0x100000;
const PAGE = 0x1000;

// boot_params offsets (arch/x86/include/uapi/asm/bootparam.h).
const BP_ACPI_RSDP_ADDR = 0x070;
const BP_EXT_RAMDISK_IMAGE = 0x0c0;
const BP_EXT_RAMDISK_SIZE = 0x0c4;
const BP_EXT_CMD_LINE_PTR = 0x0c8;
const BP_E820_ENTRIES = 0x1e8;
const BP_VID_MODE = 0x1fa;
const BP_TYPE_OF_LOADER = 0x210;
const BP_LOADFLAGS = 0x211;
const BP_RAMDISK_IMAGE = 0x218;
const BP_RAMDISK_SIZE = 0x21c;
const BP_HEAP_END_PTR = 0x224;
const BP_CMD_LINE_PTR = 0x228;
const BP_E820_TABLE = 0x2d0;

export interface LinuxBootParams {
  kernel: Uint8Array;
  /** For error messages. */
  kernelName?: string;
  initrd?: Uint8Array;
  cmdline: string;
  e820: readonly E820Entry[];
  /** Where the RSDP lives (boot protocol 2.14 acpi_rsdp_addr; older kernels scan 0xE0000). */
  rsdpAddr?: number;
  /** Decompress the kernel on the host when it can (vmlinux.ts); default true. */
  hostDecompress?: boolean;
}

export interface LoadedKernel {
  header: BzImageHeader;
  /** 64: entered at startup_64 in long mode; 32: at startup_32 in protected mode. */
  entryMode: 64 | 32;
  entryAddr: number;
  zeroPageAddr: number;
  kernelAddr: number;
  initrd?: { addr: number; sizeBytes: number };
  cmdlineAddr: number;
  /** Registers for the boot vCPU (segments, control registers, RIP, RSI). */
  registers: Partial<RegisterDump>;
  /** Set when the host decompressed the kernel and the guest enters vmlinux directly. */
  decompressedBy?: string;
}

function lowRamEnd(mem: GuestMemory): number {
  const first = mem.regions.find((r) => r.gpa === 0);
  if (!first) throw new RangeError('guest memory has no region at address 0');
  return Math.min(first.sizeBytes, PCI_HOLE_START);
}

export function loadLinux(mem: GuestMemory, p: LinuxBootParams, force32 = false): LoadedKernel {
  const name = p.kernelName ?? 'the kernel';
  const hdr = parseBzImage(p.kernel, name);
  const lowEnd = lowRamEnd(mem);

  // Kernel: its init_size from the load address must fit in RAM (it decompresses there).
  const kernelAddr = KERNEL_LOAD_ADDR;
  let kernelEnd = kernelAddr + Math.max(hdr.initSize, hdr.kernelBytes);
  if (kernelEnd > lowEnd) {
    throw new TsvirtError(
      `${name} needs ${Math.ceil((kernelEnd - kernelAddr) / 2 ** 20)} MiB above 1 MiB to decompress, more than the guest's ${Math.floor(lowEnd / 2 ** 20)} MiB of low RAM`,
      'give the guest more memory (--memory)',
    );
  }
  const use64 = hdr.has64BitEntry && !force32;
  // A kernel decompressed by the host must be built for the entry used and lie between
  // 1 MiB and the end of low RAM; otherwise the guest's decompressor gets the bzImage.
  const host = p.hostDecompress !== false ? hostDecompressedKernel(p.kernel, hdr.kernelOffset, hdr.protocol, lowEnd) : undefined;
  const fits = host && host.bits === (use64 ? 64 : 32) && host.segments.every((s) => s.paddr >= kernelAddr && s.paddr + s.memsz <= lowEnd);
  const vmlinux = fits ? host : undefined;
  if (vmlinux) {
    for (const s of vmlinux.segments) {
      const dst = mem.slice(s.paddr, s.memsz);
      dst.set(s.data);
      dst.fill(0, s.data.length);
      kernelEnd = Math.max(kernelEnd, s.paddr + s.memsz);
    }
    // The kernel proper uses memory up to init_size from where it runs before it reads the e820 map.
    kernelEnd = Math.max(kernelEnd, hdr.prefAddress + hdr.initSize);
  } else {
    mem.slice(kernelAddr, hdr.kernelBytes).set(p.kernel.subarray(hdr.kernelOffset));
  }

  // Command line: bounded by the kernel's cmdline_size (protocol 2.06+).
  const cmd = new TextEncoder().encode(p.cmdline);
  const cmdMax = Math.min(hdr.cmdlineSize || 255, CMDLINE_MAX_BYTES - 1);
  if (cmd.length > cmdMax) {
    throw new TsvirtError(`the kernel command line is ${cmd.length} bytes, more than the ${cmdMax} ${name} accepts`, 'shorten the kernel arguments');
  }
  mem.slice(CMDLINE_ADDR, cmd.length + 1).set([...cmd, 0]);

  // Initrd: as high as possible under initrd_addr_max and the end of low RAM.
  let initrd: LoadedKernel['initrd'];
  if (p.initrd && p.initrd.length > 0) {
    const ceiling = Math.min(hdr.initrdAddrMax + 1, lowEnd);
    const addr = Math.floor((ceiling - p.initrd.length) / PAGE) * PAGE;
    if (addr < kernelEnd) {
      throw new TsvirtError(
        `the initrd (${Math.ceil(p.initrd.length / 2 ** 20)} MiB) does not fit in guest RAM beside the kernel`,
        'give the guest more memory (--memory)',
      );
    }
    mem.slice(addr, p.initrd.length).set(p.initrd);
    initrd = { addr, sizeBytes: p.initrd.length };
  }

  // Zero page: zeroed, the kernel's own setup header copied in, then our fields.
  const zp = mem.slice(ZERO_PAGE_ADDR, PAGE);
  zp.fill(0);
  zp.set(hdr.headerBytes, 0x1f1);
  const zv = new DataView(zp.buffer, zp.byteOffset, PAGE);
  zv.setUint16(BP_VID_MODE, 0xffff, true); // "normal" text mode: no mode switch requested
  zp[BP_TYPE_OF_LOADER] = 0xff; // an unregistered boot loader (boot.rst, type_of_loader)
  zp[BP_LOADFLAGS] = hdr.loadflags | LOADFLAGS_CAN_USE_HEAP;
  zv.setUint16(BP_HEAP_END_PTR, 0xfe00, true);
  zv.setUint32(BP_CMD_LINE_PTR, CMDLINE_ADDR, true);
  zv.setUint32(BP_EXT_CMD_LINE_PTR, 0, true);
  if (initrd) {
    zv.setUint32(BP_RAMDISK_IMAGE, initrd.addr >>> 0, true);
    zv.setUint32(BP_RAMDISK_SIZE, initrd.sizeBytes >>> 0, true);
    zv.setUint32(BP_EXT_RAMDISK_IMAGE, Math.floor(initrd.addr / 2 ** 32), true);
    zv.setUint32(BP_EXT_RAMDISK_SIZE, Math.floor(initrd.sizeBytes / 2 ** 32), true);
  }
  if (p.rsdpAddr !== undefined && hdr.protocol >= 0x020e) zv.setBigUint64(BP_ACPI_RSDP_ADDR, BigInt(p.rsdpAddr), true);
  if (p.e820.length > E820_MAX_ENTRIES_ZEROPAGE) throw new RangeError(`${p.e820.length} e820 entries`);
  zp[BP_E820_ENTRIES] = p.e820.length;
  p.e820.forEach((e, i) => {
    const o = BP_E820_TABLE + i * 20;
    zv.setBigUint64(o, BigInt(e.addr), true);
    zv.setBigUint64(o + 8, BigInt(e.size), true);
    zv.setUint32(o + 16, e.type, true);
  });

  const entryAddr = vmlinux ? vmlinux.entry : use64 ? kernelAddr + 0x200 : kernelAddr;
  const registers = use64
    ? setupLongModeEntry(mem, entryAddr, ZERO_PAGE_ADDR)
    : setupProtectedModeEntry(mem, entryAddr, ZERO_PAGE_ADDR);
  return { header: hdr, entryMode: use64 ? 64 : 32, entryAddr, zeroPageAddr: ZERO_PAGE_ADDR, kernelAddr, initrd, cmdlineAddr: CMDLINE_ADDR, registers, decompressedBy: vmlinux?.decompressedBy };
}
