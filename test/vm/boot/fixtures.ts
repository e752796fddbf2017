// Reads test/fixtures/cache/manifest.env written by test/fixtures/prepare.d/10-debian-kernels.sh.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MANIFEST = fileURLToPath(new URL('../../fixtures/cache/manifest.env', import.meta.url));

export function bootFixtures(): Record<string, string> {
  if (!existsSync(MANIFEST)) {
    throw new Error(`kernel fixtures missing: ${MANIFEST} does not exist; run bash test/fixtures/prepare.sh (npm test does) first`);
  }
  const out: Record<string, string> = {};
  for (const line of readFileSync(MANIFEST, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
