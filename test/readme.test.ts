// Every command the README shows in its ```sh blocks is run here as a new user would type
// it (in a scratch directory holding the checkout's bin/ and templates/, with a scratch
// HOME and domain store), and must succeed. The two front-door commands are the ones CI
// and test/demo/demo.test.ts run: this test checks that they are what the README says.
// A command added to the README is run by this test without further work.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(repo, 'README.md'), 'utf8');
const FRONT_DOOR = ['npm ci && npm run demo', 'npm test'];

/** Strips a trailing `# comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/** The commands of every ```sh block, continuation lines joined. */
function readmeCommands(text: string): string[] {
  const commands: string[] = [];
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    let pending = '';
    for (const raw of block[1].split('\n')) {
      const line = stripComment(raw);
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1).trim()} `;
        continue;
      }
      const cmd = (pending + line.trim()).trim();
      pending = '';
      if (cmd) commands.push(cmd);
    }
  }
  return commands;
}

function run(cmd: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', cmd], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

describe('the README', () => {
  const commands = readmeCommands(README);
  let scratch: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'tsvirt-readme-'));
    const cwd = join(scratch, 'work');
    mkdirSync(cwd);
    for (const d of ['bin', 'templates']) symlinkSync(join(repo, d), join(cwd, d));
    const home = join(scratch, 'home');
    mkdirSync(home);
    env = {
      PATH: process.env.PATH, LANG: 'C.UTF-8', HOME: home,
      // Scratch state: the commands must not see or touch the machine's real domains.
      TSVIRT_DOMAINS_DIR: join(scratch, 'domains'), TSVIRT_STATE_DIR: join(scratch, 'run'),
    };
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('starts with the two front-door commands, which package.json and CI run', () => {
    expect(commands.slice(0, 2)).toEqual(FRONT_DOOR);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.demo).toBe('npm run build && node dist/demo/main.js');
    expect(pkg.scripts.pretest).toMatch(/npm run build && bash test\/fixtures\/prepare\.sh/);
    expect(readFileSync(join(repo, '.ci/run'), 'utf8')).toMatch(/^npm ci\nnpm test$/m);
    // What `npm run demo` runs after its build is run by the demo test.
    expect(readFileSync(join(repo, 'test/demo/demo.test.ts'), 'utf8')).toMatch(/spawn\('node', \['dist\/demo\/main\.js'\]/);
  });

  it('shows more commands than the front door, and each one runs', async () => {
    const rest = commands.slice(2);
    expect(rest.length).toBeGreaterThan(5);
    for (const cmd of rest) {
      const r = await run(cmd, join(scratch, 'work'), env);
      expect({ cmd, status: r.status, stderr: r.stderr }).toEqual({ cmd, status: 0, stderr: expect.not.stringMatching(/ERROR/) });
      if (/--print-xml/.test(cmd)) expect(r.stdout).toMatch(/^<domain type="(kvm|qemu)">/m);
      if (/img info/.test(cmd)) expect(r.stdout).toMatch(/^file format: qcow2$/m);
      if (/ks validate/.test(cmd)) expect(r.status).toBe(0);
    }
  }, 300_000);
});
