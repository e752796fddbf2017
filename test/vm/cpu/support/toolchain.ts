// The host toolchain as the CPU tests use it: GNU as + ld/objcopy to turn assembly into
// flat binaries, gcc to build the native differential runner. Everything is built at
// test time into a per-user cache directory keyed by a hash of the inputs, so a fresh
// clone needs only binutils and gcc (test/fixtures/prepare.sh installs both) and
// nothing built is ever committed. Leaves out: cross toolchains (the host is x86-64).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

/** A per-user cache directory for build products (safe across concurrent vitest forks). */
export function cacheDir(): string {
  const dir = join(tmpdir(), `tsvirt-cpu-tests-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function hashOf(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 20);
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${err.stderr ?? err.message}`);
  }
}

/** Writes `bytes` to `path` atomically (another fork may build the same file). */
function publish(path: string, bytes: Buffer | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export interface AssembleOptions {
  /** 64 (default) or 32: the object format `as` emits (.code16/.code32 switch inside it). */
  bits?: 32 | 64;
  /** Link address of the flat binary (the first byte of .text). Default 0. */
  baseAddress?: number;
  /** Directory searched by `.include`. */
  includeDir?: string;
}

export interface Assembled {
  /** The flat binary: .text then .data, as laid out by ld from baseAddress. */
  bytes: Uint8Array;
  /** Global and local symbols with their absolute addresses. */
  symbols: Map<string, number>;
}

/**
 * Assembles GNU as source into a flat binary linked at `baseAddress`, with its symbol
 * table. Cached by the source text and options.
 */
export function assemble(source: string, opts: AssembleOptions = {}): Assembled {
  const bits = opts.bits ?? 64;
  const base = opts.baseAddress ?? 0;
  const includeDir = opts.includeDir ? resolve(opts.includeDir) : undefined;
  const includes = includeDir ? readIncludes(includeDir) : '';
  const key = hashOf('asm-v1', source, String(bits), String(base), includes);
  const dir = join(cacheDir(), 'asm');
  mkdirSync(dir, { recursive: true });
  const binPath = join(dir, `${key}.bin`);
  const symPath = join(dir, `${key}.sym`);
  if (!existsSync(binPath) || !existsSync(symPath)) {
    const work = mkdtempSync(join(dir, 'work-'));
    try {
      writeFileSync(join(work, 'prog.S'), source);
      const asArgs = [bits === 64 ? '--64' : '--32', '-o', 'prog.o', 'prog.S'];
      if (includeDir) asArgs.unshift('-I', includeDir);
      run('as', asArgs, work);
      run(
        'ld',
        [bits === 64 ? '-melf_x86_64' : '-melf_i386', '-static', '-nostdlib', '--no-warn-rwx-segments',
          `-Ttext=0x${base.toString(16)}`, '-o', 'prog.elf', 'prog.o'],
        work,
      );
      run('objcopy', ['-O', 'binary', 'prog.elf', 'prog.bin'], work);
      const nm = run('nm', ['--defined-only', 'prog.elf'], work);
      publish(symPath, nm);
      publish(binPath, readFileSync(join(work, 'prog.bin')));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const symbols = new Map<string, number>();
  for (const line of readFileSync(symPath, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) \S (\S+)$/.exec(line);
    if (m) symbols.set(m[2], parseInt(m[1], 16));
  }
  return { bytes: new Uint8Array(readFileSync(binPath)), symbols };
}

function readIncludes(dir: string): string {
  // Included files are part of the cache key: hash every .inc beside the programs.
  return run('sh', ['-c', 'cat *.inc 2>/dev/null || true'], dir);
}

/**
 * Assembles many independent snippets (64-bit, or 32-bit for compatibility mode) in one
 * `as` run (thousands of forms in a fraction of a second) and returns each snippet's
 * bytes. Snippets are in Intel syntax.
 */
export function assembleSnippets(snippets: readonly string[], bits: 32 | 64 = 64): Uint8Array[] {
  const lines = ['.intel_syntax noprefix', '.text', bits === 32 ? '.code32' : '.code64'];
  snippets.forEach((s, i) => {
    lines.push(`s${i}:`, ...s.split(/;|\n/).map((l) => `  ${l.trim()}`), `e${i}:`);
  });
  lines.push('');
  const { bytes, symbols } = assemble(lines.join('\n'), { bits: 64, baseAddress: 0 });
  return snippets.map((_, i) => {
    const start = symbols.get(`s${i}`);
    const end = symbols.get(`e${i}`);
    if (start === undefined || end === undefined) throw new Error(`snippet ${i} has no symbols`);
    return bytes.slice(start, end);
  });
}

/** Compiles a C file with gcc (cached by its text) and returns the executable's path. */
export function buildC(sourcePath: string, name: string): string {
  const source = readFileSync(sourcePath, 'utf8');
  const exe = join(cacheDir(), `${name}-${hashOf('c-v1', source)}`);
  if (!existsSync(exe)) {
    const tmp = `${exe}.${process.pid}.tmp`;
    run('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, sourcePath], cacheDir());
    renameSync(tmp, exe);
  }
  return exe;
}
