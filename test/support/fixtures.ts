// Paths of the fixtures test/fixtures/prepare.sh fetched or built (Debian kernels,
// modules, busybox initramfs images), read from the manifest it writes. `npm test` runs
// prepare.sh first, so a missing entry means the preparation failed: say so plainly.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MANIFEST = fileURLToPath(new URL('../fixtures/cache/manifest.env', import.meta.url));

let cache: Record<string, string> | undefined;

export function fixtures(): Record<string, string> {
  if (cache) return cache;
  if (!existsSync(MANIFEST)) throw new Error(`${MANIFEST} is missing: run bash test/fixtures/prepare.sh (npm test runs it first)`);
  cache = {};
  for (const line of readFileSync(MANIFEST, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) cache[m[1]] = m[2];
  }
  return cache;
}

export function fixture(key: string): string {
  const value = fixtures()[key];
  if (!value) throw new Error(`fixture ${key} is not in ${MANIFEST}: run bash test/fixtures/prepare.sh`);
  return value;
}

/** Debian's static busybox for amd64, as extracted by the fixtures script. */
export function busyboxAmd64(): string {
  const root = join(fixture('MODULES_AMD64'), '..', '..', '..');
  const dir = readdirSync(root).find((d) => d.startsWith('busybox-static') && d.endsWith('_amd64'));
  if (!dir) throw new Error(`no busybox-static amd64 package under ${root}: run bash test/fixtures/prepare.sh`);
  return join(root, dir, 'bin', 'busybox');
}
