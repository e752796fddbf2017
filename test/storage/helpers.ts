// Shared helpers for the storage suites: temporary directories, the real qemu-img and
// qemu-io (Debian qemu-utils) as the other side, and a seeded PRNG so failures replay.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng } from '../support/mulberry32.mjs';

export { rng };

export function makeTmpDir(prefix = 'tsvirt-storage-'): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, file: (name) => path.join(dir, name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

export function qemuIo(file: string, commands: string[], extra: string[] = []): string {
  return execFileSync('qemu-io', [...extra, ...commands.flatMap((c) => ['-c', c]), file], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

export function qemuInfo(file: string): Record<string, any> {
  return JSON.parse(qemuImg('info', '-U', '--output', 'json', file));
}

export function qemuCheck(file: string): { status: number; json: Record<string, any>; text: string } {
  const r = run('qemu-img', ['check', '--output', 'json', file]);
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(r.stdout);
  } catch { /* could not check */ }
  return { status: r.status, json, text: r.stdout + r.stderr };
}


let pool: Buffer | undefined;
/** Pseudo-random bytes: a slice of a fixed seeded 16 MiB pool at a random offset (fast). */
export function randomBytes(rand: () => number, len: number): Buffer {
  if (!pool) {
    const r = rng(0x5eed);
    const words = new Uint32Array(4 * 1024 * 1024);
    for (let i = 0; i < words.length; i++) words[i] = (r() * 4294967296) >>> 0;
    pool = Buffer.from(words.buffer);
  }
  if (len > pool.length) throw new Error('randomBytes: too long');
  const at = Math.floor(rand() * (pool.length - len));
  return Buffer.from(pool.subarray(at, at + len));
}

/** Writes into a sparse raw "model" file, the reference every image is compared with. */
export function modelWrite(fd: number, offset: number, data: Uint8Array): void {
  fs.writeSync(fd, data, 0, data.length, offset);
}

/** Byte comparison of two files through cmp(1) (fast on sparse files); '' when identical. */
export function cmpFiles(a: string, b: string): string {
  const r = run('cmp', [a, b]);
  return r.status === 0 ? '' : r.stdout + r.stderr;
}

/** Reads [offset, offset+len) of a file. */
export function readFileRange(file: string, offset: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Patches bytes of a file in place (to build hostile images). */
export function patch(file: string, offset: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function be64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

export function be32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
