// Runs a built CLI (bin/tsvirt, bin/tsvirt-install) as a child process without blocking the
// test worker (the CLI takes a while to start), collecting its exit status and output.
import { spawn, type SpawnOptions } from 'node:child_process';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function spawnCli(bin: string, args: readonly string[], opts: Pick<SpawnOptions, 'cwd' | 'env'> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
