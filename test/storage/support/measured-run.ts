// Runs a command as a separate process with a deadline and measures its peak memory:
// GNU time (`/usr/bin/time -o FILE -f %M`, Debian package `time`, listed in
// scripts/prerequisites.txt) reports the child's maximum resident set size, which
// spawn/spawnSync do not. The child runs in its own process group so that a run past its
// deadline is killed whole (time and the command under it) and counted as a hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export const TIME_BIN = '/usr/bin/time';

export interface MeasuredRun {
  /** Exit status of the command (undefined when it was killed by a signal or timed out). */
  status: number | undefined;
  /** Signal that ended the command itself (as GNU time reports it). */
  signal: number | undefined;
  timedOut: boolean;
  /** Peak resident set size of the command in KiB (undefined if it never ran to the end). */
  maxRssKiB: number | undefined;
  stdout: string;
  stderr: string;
}

/** Output beyond this is dropped: a check of a badly damaged image prints a line per cluster. */
const KEEP_BYTES = 256 * 1024;

export function runMeasured(cmd: string, args: readonly string[], opts: { deadlineMs: number; rssFile: string; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<MeasuredRun> {
  fs.rmSync(opts.rssFile, { force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(TIME_BIN, ['-o', opts.rssFile, '-f', '%M', cmd, ...args], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < KEEP_BYTES) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < KEEP_BYTES) stderr += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the group this spawn created: time and the command
      } catch { /* already gone */ }
    }, opts.deadlineMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      let report = '';
      try {
        report = fs.readFileSync(opts.rssFile, 'utf8');
      } catch { /* killed before time wrote it */ }
      fs.rmSync(opts.rssFile, { force: true });
      const sig = /terminated by signal (\d+)/.exec(report);
      const rss = /^(\d+)\s*$/m.exec(report);
      if (!timedOut && stderr.startsWith(`${TIME_BIN}: cannot run`)) {
        reject(new Error(stderr.trim()));
        return;
      }
      resolve({
        status: timedOut || sig ? undefined : code ?? undefined,
        signal: sig ? Number(sig[1]) : undefined,
        timedOut,
        maxRssKiB: rss ? Number(rss[1]) : undefined,
        stdout,
        stderr,
      });
    });
  });
}

/** Runs `work` over `items` with at most `limit` running at a time; results keep the order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
