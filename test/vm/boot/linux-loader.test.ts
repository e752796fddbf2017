import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBzImage } from '../../../src/vm/boot/bzimage.js';
import { buildE820, E820_RAM, E820_RESERVED } from '../../../src/vm/boot/e820.js';
import { loadLinux, ZERO_PAGE_ADDR, CMDLINE_ADDR } from '../../../src/vm/boot/linux-loader.js';
import { parseVmlinuxElf } from '../../../src/vm/boot/vmlinux.js';
import { BufferGuestMemory, pcRamLayout } from '../../../src/vm/memory.js';
import { TsvirtError } from '../../../src/lib/errors.js';
import { bootFixtures } from './fixtures.js';

const fx = bootFixtures();
const MiB = 1 << 20;

function fakeBzImage(protocol: number, loadflags = 1): Uint8Array {
  const img = new Uint8Array(0x2000);
  const v = new DataView(img.buffer);
  img[0x1f1] = 4;
  v.setUint16(0x1fe, 0xaa55, true);
  img[0x200] = 0xeb;
  img[0x201] = 0x6a;
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, protocol, true);
  img[0x211] = loadflags;
  return img;
}

describe('parseBzImage', () => {
  it('reads the Debian amd64 kernel header: protocol, 64-bit entry, sizes', () => {
    const h = parseBzImage(readFileSync(fx.KERNEL_CLOUD_AMD64));
    expect(h.protocol).toBeGreaterThanOrEqual(0x020f);
    expect(h.has64BitEntry).toBe(true);
    expect(h.relocatable).toBe(true);
    expect(h.initSize).toBeGreaterThan(h.kernelBytes);
    expect(h.cmdlineSize).toBeGreaterThanOrEqual(2047);
  });

  it('reads the Debian 686 kernel as 32-bit only', () => {
    const h = parseBzImage(readFileSync(fx.KERNEL_686));
    expect(h.has64BitEntry).toBe(false);
    expect(h.initrdAddrMax).toBeGreaterThan(0);
  });

  it('rejects non-bzImages, old protocols and zImages with clear user errors', () => {
    expect(() => parseBzImage(new Uint8Array(100), 'x')).toThrow(TsvirtError);
    expect(() => parseBzImage(readFileSync(fx.INITRAMFS_REPORT_AMD64), 'initrd')).toThrow(/initrd is not a bootable Linux bzImage: no 0xAA55/);
    expect(() => parseBzImage(fakeBzImage(0x0205), 'old')).toThrow(/boot protocol 2.05 is older than 2.06/);
    expect(() => parseBzImage(fakeBzImage(0x0206, 0), 'z')).toThrow(/zImage/);
    const h = parseBzImage(fakeBzImage(0x0206));
    expect(h.kernelOffset).toBe(5 * 512);
  });
});

describe('buildE820', () => {
  it('reserves the legacy window and ECAM and splits RAM around the hole', () => {
    const e = buildE820({ regions: pcRamLayout(4096 * MiB), reserved: [{ addr: 0xb0000000, size: MiB }] });
    expect(e).toEqual([
      { addr: 0, size: 0x9fc00, type: E820_RAM },
      { addr: 0x9fc00, size: 0x60400, type: E820_RESERVED },
      { addr: 0x100000, size: 0xb0000000 - 0x100000, type: E820_RAM },
      { addr: 0xb0000000, size: MiB, type: E820_RESERVED },
      { addr: 2 ** 32, size: 4096 * MiB - 0xb0000000, type: E820_RAM },
    ]);
  });
});

describe('loadLinux', () => {
  it('loads the amd64 bzImage for the 64-bit entry with identity page tables and a zero page', () => {
    const mem = BufferGuestMemory.allocate(256 * MiB);
    const kernel = readFileSync(fx.KERNEL_CLOUD_AMD64);
    const initrd = readFileSync(fx.INITRAMFS_REPORT_AMD64);
    const e820 = buildE820({ regions: pcRamLayout(256 * MiB) });
    const k = loadLinux(mem, { kernel, initrd, cmdline: 'console=ttyS0', e820, rsdpAddr: 0xe0000, hostDecompress: false });
    expect(k.decompressedBy).toBeUndefined();
    expect(k.entryMode).toBe(64);
    expect(k.entryAddr).toBe(0x100200);
    expect(k.registers.rsi).toBe(BigInt(ZERO_PAGE_ADDR));
    expect(k.registers.cs!.attrs & 0x200).toBe(0x200); // L bit
    // Identity map: PML4 -> PDPT -> PD, 2 MiB pages.
    const cr3 = Number(k.registers.cr3);
    const pdpt = Number(mem.read64(cr3) & ~0xfffn);
    const pd = Number(mem.read64(pdpt) & ~0xfffn);
    expect(mem.read64(pd + 8) & ~0xfffn).toBe(0x200000n);
    // Kernel bytes at 1 MiB.
    const h = k.header;
    expect(Array.from(mem.slice(0x100000, 64))).toEqual(Array.from(kernel.subarray(h.kernelOffset, h.kernelOffset + 64)));
    // Initrd: page aligned, at the top of RAM, after the kernel's init_size.
    expect(k.initrd!.addr % 4096).toBe(0);
    expect(k.initrd!.addr + initrd.length).toBeLessThanOrEqual(256 * MiB);
    expect(k.initrd!.addr + initrd.length).toBeGreaterThan(256 * MiB - 4096);
    expect(k.initrd!.addr).toBeGreaterThanOrEqual(0x100000 + h.initSize);
    // Zero page fields the kernel reads.
    expect(mem.read32(ZERO_PAGE_ADDR + 0x218)).toBe(k.initrd!.addr);
    expect(mem.read32(ZERO_PAGE_ADDR + 0x21c)).toBe(initrd.length);
    expect(mem.read32(ZERO_PAGE_ADDR + 0x228)).toBe(CMDLINE_ADDR);
    expect(mem.read32(ZERO_PAGE_ADDR + 0x202)).toBe(0x53726448);
    expect(mem.read8(ZERO_PAGE_ADDR + 0x210)).toBe(0xff);
    expect(mem.read64(ZERO_PAGE_ADDR + 0x70)).toBe(0xe0000n);
    expect(mem.read8(ZERO_PAGE_ADDR + 0x1e8)).toBe(e820.length);
    expect(mem.read64(ZERO_PAGE_ADDR + 0x2d0 + 20 + 8)).toBe(0x60400n);
    expect(new TextDecoder().decode(mem.slice(CMDLINE_ADDR, 14))).toBe('console=ttyS0\0');
  });

  // Debian's generic kernel is xz-compressed, the cloud kernel lz4: both are decompressed
  // by the host tools and entered at vmlinux's startup_64 (the boot tests boot them so).
  for (const [key, by] of [['KERNEL_AMD64', 'xz'], ['KERNEL_CLOUD_AMD64', 'lz4']] as const) {
    it(`places the host-decompressed ${key} (${by}) at its ELF physical addresses and enters startup_64`, () => {
      const mem = BufferGuestMemory.allocate(256 * MiB);
      const kernel = readFileSync(fx[key]);
      const initrd = readFileSync(fx.INITRAMFS_REPORT_AMD64);
      const k = loadLinux(mem, { kernel, initrd, cmdline: 'console=ttyS0', e820: buildE820({ regions: pcRamLayout(256 * MiB) }) });
      expect(k.decompressedBy).toBe(by);
      expect(k.entryMode).toBe(64);
      expect(k.entryAddr).toBe(k.header.prefAddress); // startup_64 at LOAD_PHYSICAL_ADDR
      expect(k.registers.rip).toBe(BigInt(k.entryAddr));
      expect(k.registers.rsi).toBe(BigInt(ZERO_PAGE_ADDR));
      expect(mem.read8(ZERO_PAGE_ADDR + 0x211) & 0x02).toBe(0); // KASLR_FLAG clear: the kernel runs where it was linked
      expect(k.initrd!.addr).toBeGreaterThanOrEqual(k.header.prefAddress + k.header.initSize);
      // The guest's own decompressor is not in memory: 1 MiB holds nothing of the bzImage.
      expect(Array.from(mem.slice(0x100000, 16))).not.toEqual(Array.from(kernel.subarray(k.header.kernelOffset, k.header.kernelOffset + 16)));
    });
  }

  it('enters the host-decompressed 686 kernel (ELF32, xz) at startup_32 in flat protected mode', () => {
    const mem = BufferGuestMemory.allocate(128 * MiB);
    const k = loadLinux(mem, { kernel: readFileSync(fx.KERNEL_686), cmdline: '', e820: buildE820({ regions: pcRamLayout(128 * MiB) }) });
    expect(k.decompressedBy).toBe('xz');
    expect(k.entryMode).toBe(32);
    expect(k.entryAddr).toBe(k.header.prefAddress);
    expect(k.registers.rip).toBe(BigInt(k.entryAddr));
    expect(k.registers.cr0).toBe(0x11n);
    expect(k.registers.rsi).toBe(BigInt(ZERO_PAGE_ADDR));
  });

  it('keeps the bzImage path when the entry asked for does not match the ELF (a 64-bit kernel entered at 32 bits)', () => {
    const mem = BufferGuestMemory.allocate(256 * MiB);
    const k = loadLinux(mem, { kernel: readFileSync(fx.KERNEL_AMD64), cmdline: '', e820: buildE820({ regions: pcRamLayout(256 * MiB) }) }, true);
    expect(k.decompressedBy).toBeUndefined();
    expect(k.entryAddr).toBe(0x100000);
  });

  it('leaves a payload it cannot use to the guest: a malformed ELF is not loaded', () => {
    const elf = new Uint8Array(128);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    const v = new DataView(elf.buffer);
    v.setUint16(16, 2, true); v.setUint16(18, 62, true);
    expect(parseVmlinuxElf(elf)).toBeUndefined(); // no program headers
    v.setBigUint64(32, 64n, true); v.setUint16(54, 56, true); v.setUint16(56, 1, true);
    v.setUint32(64, 1, true); v.setBigUint64(64 + 8, 0n, true); v.setBigUint64(64 + 24, 0x1000000n, true);
    v.setBigUint64(64 + 32, 4096n, true); v.setBigUint64(64 + 40, 4096n, true);
    expect(parseVmlinuxElf(elf)).toBeUndefined(); // the segment runs past the end of the file
    v.setBigUint64(64 + 32, 16n, true);
    v.setBigUint64(24, 0x2000000n, true);
    expect(parseVmlinuxElf(elf)).toBeUndefined(); // the entry is outside every segment
    v.setBigUint64(24, 0x1000000n, true);
    expect(parseVmlinuxElf(elf)).toEqual({ entry: 0x1000000, bits: 64, segments: [{ paddr: 0x1000000, data: elf.subarray(0, 16), memsz: 4096 }] });
    v.setUint16(18, 3, true);
    expect(parseVmlinuxElf(elf)).toBeUndefined(); // not x86-64
  });

  it('loads the 686 kernel for the 32-bit entry: flat protected mode, paging off', () => {
    const mem = BufferGuestMemory.allocate(128 * MiB);
    const k = loadLinux(mem, { kernel: readFileSync(fx.KERNEL_686), cmdline: '', e820: buildE820({ regions: pcRamLayout(128 * MiB) }), hostDecompress: false });
    expect(k.entryMode).toBe(32);
    expect(k.entryAddr).toBe(0x100000);
    expect(k.registers.cr0).toBe(0x11n);
    expect(k.registers.cs!.selector).toBe(0x10);
    expect(k.registers.ds!.selector).toBe(0x18);
    expect(k.registers.cs!.attrs).toBe(0xc9b);
    expect(k.initrd).toBeUndefined();
  });

  it('refuses a guest too small for the kernel and a command line too long', () => {
    const kernel = readFileSync(fx.KERNEL_CLOUD_AMD64);
    const small = BufferGuestMemory.allocate(16 * MiB);
    expect(() => loadLinux(small, { kernel, cmdline: '', e820: [] })).toThrow(/give the guest more memory|MiB/);
    const mem = BufferGuestMemory.allocate(128 * MiB);
    expect(() => loadLinux(mem, { kernel, cmdline: 'x'.repeat(70000), e820: [] })).toThrow(/command line is 70000 bytes/);
    const huge = new Uint8Array(120 * MiB);
    expect(() => loadLinux(mem, { kernel, initrd: huge, cmdline: '', e820: [] })).toThrow(/initrd .* does not fit/);
  });
});
