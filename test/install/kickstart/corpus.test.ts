// The kickstart corpus (test/fixtures/kickstart/*.ks): each file states its verdict and
// every problem it must produce in `# expect...:` header lines; the validator must agree
// exactly, and the built `tsvirt ks validate` must agree on verdict and output.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { validateKickstartSource } from '../../../src/install/kickstart/index.js';

const dir = fileURLToPath(new URL('../../fixtures/kickstart', import.meta.url));
const bin = fileURLToPath(new URL('../../../bin/tsvirt', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.ks')).sort();

interface Expectation {
  valid: boolean;
  problems: string[];
}

function expectations(file: string): Expectation {
  const text = readFileSync(join(dir, file), 'utf8');
  const verdict = /^# expect: (valid|invalid)$/m.exec(text);
  if (!verdict) throw new Error(`${file} has no '# expect:' line`);
  const problems = [...text.matchAll(/^# expect-(error|warning): (.*)$/gm)].map((m) => `${m[1]}: ${m[2].replaceAll('{dir}', dir)}`);
  return { valid: verdict[1] === 'valid', problems };
}

function render(file: string, p: { severity: string; file: string; line: number; message: string }): string {
  const where = p.file === join(dir, file) ? `${p.line}` : `${relative(dir, p.file)}:${p.line}`;
  return `${p.severity}: ${where}: ${p.message}`;
}

describe('kickstart corpus', () => {
  it('has at least 40 kickstarts, valid and invalid', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    const verdicts = files.map((f) => expectations(f).valid);
    expect(verdicts.filter((v) => v).length).toBeGreaterThanOrEqual(10);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThanOrEqual(25);
  });

  const fetcher = createFetcher({ cacheDir: join(dir, '..', 'cache', 'ks-test-unused') });
  for (const file of files) {
    it(`${file}`, async () => {
      const want = expectations(file);
      const got = await validateKickstartSource(join(dir, file), fetcher);
      expect(got.problems.map((p) => render(file, p))).toEqual(want.problems);
      expect(got.valid).toBe(want.valid);
    });
  }

  it('tsvirt ks validate agrees on every file (exit status and FILE:LINE lines)', async () => {
    // Every file goes through the built CLI's oclif entry in this process (spawning 50+
    // node processes takes a minute on two cores); two files also go through bin/tsvirt.
    for (const file of files) {
      const want = expectations(file);
      const path = join(dir, file);
      const res = await runCliInProcess(['ks', 'validate', path]);
      expect({ file, code: res.code }).toEqual({ file, code: want.valid ? 0 : 1 });
      const lines = res.stdout.split('\n').filter((l) => l !== '');
      expect(lines.length).toBe(want.problems.length);
      for (const l of lines) expect(l.startsWith(`${dir}/`)).toBe(true);
      if (!want.valid) expect(res.stderr).toMatch(new RegExp(`^ERROR kickstart ${escape(path)} is invalid \\(\\d+ errors?\\)\\n$`));
    }
    const run = promisify(execFile);
    const ok = await run(bin, ['ks', 'validate', join(dir, '02-full-valid.ks')], { encoding: 'utf8' });
    expect(ok.stdout).toBe('');
    const bad = await run(bin, ['ks', 'validate', join(dir, '03-unknown-command.ks')], { encoding: 'utf8' }).catch((e: { code: number; stdout: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stdout: string }).stdout).toBe(`${join(dir, '03-unknown-command.ks')}:4: Unknown command: langauge\n`);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function runCliInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { run } = await import('@oclif/core');
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  // oclif's this.log goes through console.log, which vitest captures on its own.
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void (stdout += `${a.join(' ')}\n`);
  console.error = (...a: unknown[]) => void (stderr += `${a.join(' ')}\n`);
  process.exitCode = undefined;
  try {
    await run(argv, pathToFileURL(bin).toString());
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    console.log = log;
    console.error = error;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}
