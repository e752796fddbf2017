// Assembles a small guest program (GNU as syntax) into a flat binary linked at a given
// address, with the system's binutils, at test time. Built into a temp dir, never
// committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function assemble(source: string, linkAddress: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-asm-'));
  try {
    writeFileSync(join(dir, 'prog.S'), source);
    execFileSync('as', ['--64', '-o', join(dir, 'prog.o'), join(dir, 'prog.S')], { stdio: 'pipe' });
    execFileSync(
      'ld',
      ['-m', 'elf_x86_64', '-N', '-e', '0', `-Ttext=0x${linkAddress.toString(16)}`, '--oformat', 'binary', '-o', join(dir, 'prog.bin'), join(dir, 'prog.o')],
      { stdio: 'pipe' },
    );
    return new Uint8Array(readFileSync(join(dir, 'prog.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
