// Image sizes as qemu-img writes them: a number with an optional k/K, M, G, T, P, E suffix
// (binary units; a plain number is bytes; decimals allowed, like `1.5G`), and the `+SIZE`
// / `-SIZE` deltas of `qemu-img resize`. Leaves out: the SI units qemu-img does not take.
import { TsvirtError } from '../lib/errors.js';

const SUFFIX_SHIFT: Record<string, number> = { '': 0, b: 0, B: 0, k: 10, K: 10, m: 20, M: 20, g: 30, G: 30, t: 40, T: 40, p: 50, P: 50, e: 60, E: 60 };

/** Largest size the qcow2 driver (and a JS number) can address exactly. */
export const MAX_IMAGE_SIZE_BYTES = 2 ** 53 - 2 ** 21;

export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)\s*$/.exec(text);
  if (!m || !(m[2] in SUFFIX_SHIFT)) {
    throw new TsvirtError(`invalid ${what} '${text}'`, 'give a number of bytes with an optional k, M, G, T, P or E suffix (e.g. 20G)');
  }
  const value = Number(m[1]) * 2 ** SUFFIX_SHIFT[m[2]];
  if (!Number.isFinite(value) || value > MAX_IMAGE_SIZE_BYTES) {
    throw new TsvirtError(`${what} '${text}' is too large`, `the largest supported size is ${MAX_IMAGE_SIZE_BYTES} bytes`);
  }
  if (!Number.isInteger(value)) {
    throw new TsvirtError(`${what} '${text}' is not a whole number of bytes`, 'use a smaller unit');
  }
  return value;
}

export type SizeChange = { kind: 'absolute'; sizeBytes: number } | { kind: 'grow' | 'shrink'; deltaBytes: number };

/** `qemu-img resize` syntax: SIZE, +SIZE or -SIZE. */
export function parseSizeChange(text: string): SizeChange {
  const t = text.trim();
  if (t.startsWith('+')) return { kind: 'grow', deltaBytes: parseSize(t.slice(1)) };
  if (t.startsWith('-')) return { kind: 'shrink', deltaBytes: parseSize(t.slice(1)) };
  return { kind: 'absolute', sizeBytes: parseSize(t) };
}

/** Human form as qemu-img info prints it: "1 GiB", "512 MiB", "1.5 KiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const shown = i === 0 ? String(v) : Number(v.toPrecision(3)).toString();
  return `${shown} ${units[i]}`;
}
