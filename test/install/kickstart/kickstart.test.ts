// Kickstart parser details: shlex compatibility, the model, print round-trips, %include
// over HTTP and its limits, and prepareKickstart's inst.ks= / --initrd-inject handling.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher, type Fetcher } from '../../../src/install/fetch/index.js';
import {
  KickstartInvalidError, MAX_INCLUDE_DEPTH, findKickstartArg, lastCommand, parseKickstart, prepareKickstart,
  printKickstart, shellSplit, validateKickstartSource, validateKickstartText,
} from '../../../src/install/kickstart/index.js';
import { TsvirtError } from '../../../src/lib/errors.js';
import { serveDirectory, type StaticServer } from '../helpers/static-server.js';

const corpus = fileURLToPath(new URL('../../fixtures/kickstart', import.meta.url));
let work: string;
let server: StaticServer;
let fetcher: Fetcher;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-ks-'));
  writeFileSync(join(work, 'main.ks'), 'lang en_US\n%include parts.ks\nrootpw --lock\n');
  writeFileSync(join(work, 'parts.ks'), 'part / --size=100 --grow\nbogus\n');
  writeFileSync(join(work, 'ks.cfg'), 'lang en_US\nrootpw --plaintext x\nautopart --type=plain\n');
  writeFileSync(join(work, 'bad.ks'), 'lang en_US\nfoo\nbar\n');
  for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++) writeFileSync(join(work, `deep${i}.ks`), `%include deep${i + 1}.ks\n`);
  writeFileSync(join(work, `deep${MAX_INCLUDE_DEPTH + 2}.ks`), 'lang en_US\n');
  server = await serveDirectory(work);
  fetcher = createFetcher({ cacheDir: join(work, 'cache'), retries: 0 });
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

describe('shellSplit', () => {
  // Expected values are Python 3's shlex.split(s, comments=True).
  const vectors: Array<[string, string[]]> = [
    ['a b#c d', ['a', 'b']],
    ['a "b c" d', ['a', 'b c', 'd']],
    ["x 'y z'", ['x', 'y z']],
    ['p --x="a\\"b"', ['p', '--x=a"b']],
    ['e\\ f', ['e f']],
    ['q "" r', ['q', '', 'r']],
    ['--a="x y"z', ['--a=x yz']],
    ['a\\#b c', ['a#b', 'c']],
    ['tab\there', ['tab', 'here']],
    ["'a\\b' \"c\\d\"", ['a\\b', 'c\\d']],
    ["$'x'", ['$x']],
  ];
  for (const [input, want] of vectors) it(`splits ${JSON.stringify(input)} as Python does`, () => expect(shellSplit(input)).toEqual(want));
  it('refuses an unclosed quote and a trailing escape', () => {
    expect(() => shellSplit('a "b')).toThrow(/No closing quotation/);
    expect(() => shellSplit('a \\')).toThrow(/No escaped character/);
  });
});

describe('kickstart model', () => {
  it('keeps line numbers and typed options', async () => {
    const { kickstart } = await parseKickstart('# c\n\npart / --size=100 --grow --fstype ext4\nnetwork --onboot=no --nameserver=1.1.1.1,8.8.8.8\n', 'x.ks');
    const part = lastCommand(kickstart, 'part')!;
    expect(part.at).toEqual({ file: 'x.ks', line: 3 });
    expect(part.options).toEqual({ size: 100, grow: true, fstype: 'ext4' });
    expect(lastCommand(kickstart, 'network')!.options).toEqual({ onboot: false, nameserver: ['1.1.1.1', '8.8.8.8'] });
  });

  it('prints a normalized kickstart that parses back to the same thing', async () => {
    for (const f of ['02-full-valid.ks', '26-packages-valid.ks', '18-include-valid.ks', '23-quoting.ks', '54-logvol-storage.ks']) {
      const first = await validateKickstartSource(join(corpus, f), fetcher);
      const printed = printKickstart(first.kickstart);
      const again = await validateKickstartText(printed, 'printed.ks', fetcher);
      expect(again.problems).toEqual([]);
      expect(printKickstart({ ...again.kickstart, source: first.kickstart.source })).toBe(printed);
    }
    // Every valid corpus file: printing is idempotent and the output is still valid.
    for (const f of readdirSync(corpus).filter((x) => x.endsWith('.ks'))) {
      const first = await validateKickstartSource(join(corpus, f), fetcher);
      if (!first.valid) continue;
      const printed = printKickstart(first.kickstart);
      const again = await validateKickstartText(printed, join(corpus, f), fetcher);
      expect({ f, valid: again.valid }).toEqual({ f, valid: true });
      expect(printKickstart(again.kickstart)).toBe(printed);
    }
    const q = await validateKickstartSource(join(corpus, '23-quoting.ks'), fetcher);
    expect(printKickstart(q.kickstart)).toContain(`user --name=carol --password='pa ss#word' --plaintext --gecos='Carol "CJ" Jones'`);
  });

  it('reads %include over HTTP relative to the including URL', async () => {
    const r = await validateKickstartSource(`${server.url}/main.ks`, fetcher);
    expect(r.problems).toEqual([{ severity: 'error', file: `${server.url}/parts.ks`, line: 2, message: 'Unknown command: bogus' }]);
    expect(r.kickstart.commands.map((c) => c.name)).toEqual(['lang', 'part', 'rootpw']);
  });

  it(`stops %include nesting deeper than ${MAX_INCLUDE_DEPTH}`, async () => {
    const r = await validateKickstartSource(join(work, 'deep0.ks'), fetcher);
    expect(r.valid).toBe(false);
    expect(r.problems.map((p) => p.message)).toEqual([`%include nested more than ${MAX_INCLUDE_DEPTH} deep`]);
  });
});

describe('prepareKickstart', () => {
  it('finds inst.ks= and ks= URLs on the extra args, last one winning', () => {
    expect(findKickstartArg('console=ttyS0 inst.ks=http://h/a.ks')).toBe('http://h/a.ks');
    expect(findKickstartArg('ks=http://h/old.ks inst.ks=http://h/new.ks quiet')).toBe('http://h/new.ks');
    expect(findKickstartArg('console=ttyS0')).toBeUndefined();
    expect(() => findKickstartArg('inst.ks')).toThrow(/not supported/);
  });

  it('fetches and validates an inst.ks URL', async () => {
    const p = await prepareKickstart({ extraArgs: `console=ttyS0 inst.ks=${server.url}/ks.cfg` }, fetcher);
    expect(p?.source).toBe(`${server.url}/ks.cfg`);
    expect(p?.injectedPath).toBeUndefined();
    expect(lastCommand(p!.kickstart, 'autopart')).toBeDefined();
  });

  it('stops on an invalid kickstart with its errors', async () => {
    const err = await prepareKickstart({ extraArgs: `inst.ks=${server.url}/bad.ks` }, fetcher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KickstartInvalidError);
    const k = err as KickstartInvalidError;
    expect(k.message).toBe(`kickstart ${server.url}/bad.ks is invalid: ${server.url}/bad.ks:2: Unknown command: foo (and 1 more)`);
    expect(k.problems.length).toBe(2);
  });

  it('uses an injected ks.cfg, and file:/NAME pointing at an injected file', async () => {
    const ks = join(work, 'ks.cfg');
    const a = await prepareKickstart({ injectPaths: [ks] }, fetcher);
    expect(a?.bootArg).toBe('/ks.cfg');
    expect(a?.injectedPath).toBe(ks);
    const b = await prepareKickstart({ extraArgs: 'inst.ks=file:/ks.cfg', injectPaths: [ks] }, fetcher);
    expect(b?.injectedPath).toBe(ks);
    await expect(prepareKickstart({ extraArgs: 'inst.ks=file:/other.cfg', injectPaths: [ks] }, fetcher)).rejects.toThrow(/no --initrd-inject file is called other.cfg/);
    await expect(prepareKickstart({ extraArgs: 'inst.ks=nfs:server:/ks.cfg' }, fetcher)).rejects.toThrow(TsvirtError);
    expect(await prepareKickstart({ extraArgs: 'quiet' }, fetcher)).toBeUndefined();
  });
});
