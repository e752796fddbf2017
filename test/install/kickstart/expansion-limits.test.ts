// Kickstart expansion under hostile input (issue 15): an %include bomb, a huge included
// file and 400,000 backslash-continued lines each end with one error naming the limit
// they hit (or, for continuations, parse in linear time), instead of running for minutes
// and growing past gigabytes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { MAX_EXPANDED_BYTES, MAX_INCLUDES, parseKickstart, validateKickstartSource } from '../../../src/install/kickstart/index.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tsvirt-ks-limits-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fetcher = () => createFetcher({ cacheDir: join(dir, 'cache') });

describe('kickstart expansion limits', () => {
  it('an %include bomb (20 includes a level, 8 levels) stops at the include budget with one error', async () => {
    // level-N.ks includes level-(N+1).ks 20 times (different spellings defeat no check:
    // the same file on different branches is no cycle).
    for (let level = 0; level < 8; level++) {
      const body = level === 7 ? 'autopart --type=plain\n' : Array.from({ length: 20 }, () => `%include level-${level + 1}.ks\n`).join('');
      writeFileSync(join(dir, `level-${level}.ks`), body);
    }
    writeFileSync(join(dir, 'bomb.ks'), 'text\n%include level-0.ks\n');
    const r = await validateKickstartSource(join(dir, 'bomb.ks'), fetcher());
    expect(r.valid).toBe(false);
    const limit = r.problems.filter((p) => /the limit/.test(p.message));
    expect(limit.map((p) => p.message)).toEqual([`more than ${MAX_INCLUDES} %include/%ksappend reads in one kickstart, the limit; parsing stopped here`]);
  });

  it('included text beyond the byte budget is an error naming the limit', async () => {
    const big = join(dir, 'big.ks');
    writeFileSync(big, `# ${'x'.repeat(3500)}\n`.repeat(1000)); // 3.5 MB, under the per-file limit of 4 MiB
    writeFileSync(join(dir, 'many.ks'), `text\n${'%include big.ks\n'.repeat(6)}`);
    const r = await validateKickstartSource(join(dir, 'many.ks'), fetcher());
    expect(r.problems.map((p) => p.message)).toContain(`the kickstart with its includes is more than ${MAX_EXPANDED_BYTES} bytes, the limit; parsing stopped here`);
  });

  it('400,000 backslash-continued lines are joined in linear time into one command', async () => {
    const text = `text\nnetwork --bootproto=dhcp \\\n${'--onboot=yes \\\n'.repeat(400_000)}--hostname=h\nautopart --type=plain\n`;
    const r = await parseKickstart(text, 'cont.ks');
    const net = r.kickstart.commands.find((c) => c.name === 'network');
    expect(net?.options.hostname).toBe('h');
    expect(net?.at.line).toBe(2);
    // The next command keeps its own line number after the joined lines.
    expect(r.kickstart.commands.find((c) => c.name === 'autopart')?.at.line).toBe(400_004);
  }, 60_000);
});
