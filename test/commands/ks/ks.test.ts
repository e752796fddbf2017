// `tsvirt ks validate|print` through the built CLI (bin/tsvirt): exit codes, FILE:LINE
// output, URLs served from 127.0.0.1, and the example kickstarts in templates/.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type StaticServer } from '../../install/helpers/static-server.js';

const bin = fileURLToPath(new URL('../../../bin/tsvirt', import.meta.url));
const templates = fileURLToPath(new URL('../../../templates/kickstart', import.meta.url));
let work: string;
let server: StaticServer;

async function tsvirt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // A private cache dir keeps test runs out of the user's cache.
  const env = { ...process.env, XDG_CACHE_HOME: join(work, 'xdg-cache') };
  return promisify(execFile)(bin, args, { encoding: 'utf8', env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-kscli-'));
  writeFileSync(join(work, 'good.ks'), '# a comment\nrootpw   --plaintext "two words"\nlang en_US\n%include part.ks\nrootpw --lock\n');
  writeFileSync(join(work, 'part.ks'), 'part / --grow --size 100\n');
  writeFileSync(join(work, 'bad.ks'), 'lang en_US\nautopart\npart / --size=1\n%post\necho x\n');
  server = await serveDirectory(work);
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

describe('tsvirt ks', () => {
  it('validates a URL, with %include resolved against it, printing warnings and exiting 0', async () => {
    const r = await tsvirt('ks', 'validate', `${server.url}/good.ks`);
    expect(r).toEqual({ code: 0, stdout: `${server.url}/good.ks:5: warning: rootpw was already given on line 2; only the last one is used\n`, stderr: '' });
  });

  it('reports every error as FILE:LINE and exits 1', async () => {
    const r = await tsvirt('ks', 'validate', `${server.url}/bad.ks`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `${server.url}/bad.ks:2: autopart cannot be used together with part (line 3)\n` +
      `${server.url}/bad.ks:4: Section %post does not end with %end.\n`,
    );
    expect(r.stderr).toBe(`ERROR kickstart ${server.url}/bad.ks is invalid (2 errors)\n`);
  });

  it('prints a normalized kickstart', async () => {
    const r = await tsvirt('ks', 'print', join(work, 'good.ks'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`# Normalized by tsvirt ks print from ${join(work, 'good.ks')}\nlang en_US\nrootpw --lock\npart / --size=100 --grow\n`);
    expect(r.stderr).toMatch(/warning: rootpw was already given/);
  });

  it('says ERROR for a missing file and for a 404', async () => {
    expect(await tsvirt('ks', 'validate', join(work, 'nope.ks'))).toEqual({ code: 1, stdout: '', stderr: `ERROR ${join(work, 'nope.ks')}: no such file; check the URL or path\n` });
    const r = await tsvirt('ks', 'print', `${server.url}/nope.ks`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ERROR ${server.url}/nope.ks: HTTP 404 Not Found; check the URL or path\n`);
  });

  it('finds the example kickstarts in templates/ valid', async () => {
    const files = readdirSync(templates).filter((f) => f.endsWith('.ks'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(await tsvirt('ks', 'validate', join(templates, f))).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
