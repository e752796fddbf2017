// Runs a guest program (test/vm/cpu/guest/*.S) on QEMU with TCG, the project's reference
// x86 implementation (ARCHITECTURE.md "Testing"), so that the programs themselves are
// known to be right before they judge the software CPU. The program goes on a raw disk
// behind a 512-byte MBR-style loader that moves itself to 0x600, reads the program to
// 0x7C00 with INT 13h AH=42h (EDD extended read) and jumps there with CS=0, which is the
// state runGuestProgram starts from. Ports: isa-debugcon at 0xE9, isa-debug-exit at 0xF4
// (QEMU exits with (value << 1) | 1).
// Leaves out: comparing CPUID values (QEMU reports its own CPU model).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_ADDRESS, DEBUG_CONSOLE_PORT, TEST_RESULT_PORT } from './guest-machine.js';
import { assemble, cacheDir } from './toolchain.js';

function loader(sectors: number): Uint8Array {
  const src = `
        .code16
        .text
start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %sp
        mov $0x7c00, %si
        mov $0x600, %di
        mov $256, %cx
        cld
        rep movsw
        ljmp $0, $relocated
relocated:
        mov $dap, %si
        mov $0x42, %ah
        int $0x13
        jc failed
        ljmp $0, $${BOOT_ADDRESS}
failed:
        mov $0xdead, %eax
        out %eax, $${TEST_RESULT_PORT}
        hlt
        .align 4
dap:
        .byte 0x10, 0
        .word ${sectors}
        .word ${BOOT_ADDRESS}, 0
        .quad 1
        .org 510
        .byte 0x55, 0xaa
`;
  return assemble(src, { bits: 64, baseAddress: 0x600 }).bytes;
}

export interface QemuRun {
  /** Value written to the result port, or undefined if QEMU stopped otherwise (triple fault). */
  result?: number;
  console: string;
}

/** Boots `program` under qemu-system-x86_64 -accel tcg -cpu max. */
export function runOnQemu(program: Uint8Array, timeoutMs = 60_000): QemuRun {
  const sectors = Math.ceil(program.length / 512);
  if (sectors > 60) throw new Error('program too large for the loader');
  const dir = mkdtempSync(join(cacheDir(), 'qemu-'));
  try {
    const disk = new Uint8Array((sectors + 1) * 512 + 512);
    disk.set(loader(sectors), 0);
    disk.set(program, 512);
    writeFileSync(join(dir, 'disk.img'), disk);
    const r = spawnSync(
      'qemu-system-x86_64',
      [
        '-M', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '64', '-smp', '1',
        '-display', 'none', '-monitor', 'none', '-serial', 'none', '-no-reboot', '-nodefaults',
        '-drive', `file=${join(dir, 'disk.img')},format=raw,if=ide`,
        '-debugcon', `file:${join(dir, 'console.txt')}`,
        '-device', `isa-debug-exit,iobase=0x${TEST_RESULT_PORT.toString(16)},iosize=4`,
      ],
      { timeout: timeoutMs, encoding: 'utf8' },
    );
    if (r.error) throw r.error;
    const console = readFileSync(join(dir, 'console.txt'), 'latin1');
    // isa-debug-exit: exit status (value << 1) | 1, truncated to 8 bits by the OS.
    const result = r.status !== null && r.status & 1 ? (r.status >> 1) : undefined;
    return { result, console };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { DEBUG_CONSOLE_PORT };
