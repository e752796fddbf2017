// Runs a built CLI (bin/tsvirt, bin/tsvirt-install) as a child process the way the probe
// suites need it: under a deadline (a run still going after it is killed, with its whole
// process group, and reported as hung), with its peak resident set size measured by
// GNU time (`/usr/bin/time -f %M`, KiB) or, where that is missing, by the child itself
// at exit (process.resourceUsage().maxRSS through an --import hook), and with what the
// probes assert on a user's error: exactly one `ERROR ` line and no stack frame.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MeasuredRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak RSS in KiB, undefined when the run was killed before it could be measured. */
  maxRssKiB?: number;
  hung: boolean;
}

const GNU_TIME = '/usr/bin/time';
const BIN_DIR = fileURLToPath(new URL('../../bin/', import.meta.url));

/** Lines of the form virt-install and oclif would print for a stack frame. */
export const STACK_FRAME = /^\s+at\s+\S/m;

export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('ERROR '));
}

export function runMeasured(bin: 'tsvirt' | 'tsvirt-install', args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd: string; deadlineMs: number }): Promise<MeasuredRun> {
  const scratch = mkdtempSync(join(tmpdir(), 'tsvirt-rss-'));
  const rssFile = join(scratch, 'rss');
  const script = join(BIN_DIR, bin);
  let argv: string[];
  if (existsSync(GNU_TIME)) {
    argv = [GNU_TIME, '-o', rssFile, '-f', '%M', process.execPath, script, ...args];
  } else {
    const hook = join(scratch, 'rss-hook.mjs');
    writeFileSync(hook, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
    argv = [process.execPath, '--import', hook, script, ...args];
  }
  return new Promise((resolve, reject) => {
    // Its own process group, so a deadline kill takes node along with GNU time.
    const child = spawn(argv[0], argv.slice(1), { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => {
      hung = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, opts.deadlineMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      rmSync(scratch, { recursive: true, force: true });
      reject(err);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      let maxRssKiB: number | undefined;
      try {
        // GNU time writes "Command exited with non-zero status N" before the figure.
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop();
        maxRssKiB = last && /^\d+$/.test(last) ? Number(last) : undefined;
      } catch {
        maxRssKiB = undefined;
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({ status, stdout, stderr, maxRssKiB, hung });
    });
  });
}
