import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/tsvirt', import.meta.url));

describe('tsvirt version', () => {
  it('prints the package version from the built CLI', () => {
    const out = execFileSync(bin, ['version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^tsvirt \d+\.\d+\.\d+$/);
  });
});
