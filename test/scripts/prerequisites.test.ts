// scripts/prerequisites.sh and its one list: the list is well formed, a role's tools are all
// present after `npm test`'s preparation, and a missing tool seen by a user who is not root
// ends in one ERROR line that names the package, exit status 1, and nothing created (the
// demo's first step included).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOBODY, setprivPath, whyNotAsNobody } from '../support/as-nobody.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts/prerequisites.sh');
const asNobody = whyNotAsNobody() === null;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-prereq-'));
  chmodSync(work, 0o755);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command as nobody when we can (the case to test), else as ourselves. */
function asUser(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const argv = asNobody ? [setprivPath(), ...NOBODY, cmd, ...args] : [cmd, ...args];
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env });
}

describe('scripts/prerequisites.txt', () => {
  it('lists package, executable and roles on each line, and every role has entries', () => {
    const rows = readFileSync(join(repo, 'scripts/prerequisites.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    for (const row of rows) expect(row, row).toMatch(/^[a-z0-9][a-z0-9.+-]+ +\S+ +((demo|test|bench) ?)+$/);
    for (const role of ['demo', 'test', 'bench']) expect(rows.some((r) => r.split(/ +/).slice(2).includes(role)), role).toBe(true);
  });

  it("finds every tool of the test role on this machine (npm test's preparation installed them)", () => {
    expect(execFileSync('bash', [script, 'test'], { encoding: 'utf8' })).toBe('');
  });
});

describe('a missing tool, as a user who is not root', () => {
  it('is one ERROR line naming the package to install, with exit status 1', (ctx) => {
    // As root the script would install the (fake) packages: the test needs nobody then.
    const why = process.getuid?.() === 0 ? whyNotAsNobody() : null;
    if (why) ctx.skip(why);
    const dir = join(work, 'scripts');
    mkdirSync(dir);
    copyFileSync(script, join(dir, 'prerequisites.sh'));
    writeFileSync(join(dir, 'prerequisites.txt'), '# package provides roles\nbash bash demo\nfake-tools tsvirt-no-such-tool demo\nother-fake /nonexistent/tsvirt-file test\n');
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o755);
    const env = { PATH: '/usr/bin:/bin' };
    const r = asUser('bash', [join(dir, 'prerequisites.sh'), 'demo'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('ERROR missing from this system: tsvirt-no-such-tool (fake-tools); install them as root: apt-get install fake-tools\n');
    const both = asUser('bash', [join(dir, 'prerequisites.sh'), 'demo', 'test'], env);
    expect(both.stderr).toMatch(/^ERROR missing from this system: tsvirt-no-such-tool \(fake-tools\), \/nonexistent\/tsvirt-file \(other-fake\); .*apt-get install fake-tools other-fake\n$/);
  });

  it('stops the demo before it fetches or creates anything (runs as root to become nobody)', (ctx) => {
    const why = whyNotAsNobody();
    if (why) ctx.skip(why);
    // A PATH with node and the shell tools only: apt-get, dpkg-deb, xz and lz4 are "missing".
    const bin = join(work, 'bin');
    mkdirSync(bin);
    for (const t of ['node', 'bash', 'awk', 'sort', 'tr', 'sed', 'grep', 'id', 'dirname', 'head', 'cat']) symlinkSync(execFileSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim(), join(bin, t));
    const home = join(work, 'home');
    mkdirSync(home);
    chmodSync(home, 0o777);
    const r = asUser(join(bin, 'node'), [join(repo, 'dist/demo/main.js')], { PATH: bin, HOME: home });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ERROR missing from this system: apt-get \(apt\), dpkg-deb \(dpkg\), xz \(xz-utils\), lz4 \(lz4\)[^\n]*; install them as root: apt-get install [^\n]*\bapt\b[^\n]*\n$/);
    expect(existsSync(join(home, '.cache'))).toBe(false);
  });
});
