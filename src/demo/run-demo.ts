// `npm run demo`: the whole job on built-in defaults, as a new user would run it.
//  1. fetch Debian's generic amd64 kernel (with its modules) and busybox-static
//     (scripts/debian-packages.sh: apt-get download + dpkg-deb, cached)
//  2. build a busybox root file system tarball and a tsvirt install tree
//  3. serve the tree, the rootfs and templates/kickstart/demo.ks.in on 127.0.0.1
//  4. tsvirt-install --location ... --extra-args inst.ks=... into a qcow2, then boot the
//     installed system from its disk to the login prompt
// On a terminal the login prompt is yours (root / tsvirt; Ctrl-] stops the guest).
// Without one the demo logs in as root itself, shows the guest's uname, and powers off.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import envPaths from 'env-paths';
import { TsvirtError } from '../lib/errors.js';
import { planFromArgv, processPlanEnv } from '../domain/plan.js';
import { createFetcher } from '../install/fetch/index.js';
import { runDomain } from '../install/run-domain.js';
import { buildTree } from '../install/tree-build/build-tree.js';
import { writeBusyboxRootfs } from './busybox-rootfs.js';
import { serveDirectory } from './static-server.js';

const PACKAGES_SCRIPT = fileURLToPath(new URL('../../scripts/debian-packages.sh', import.meta.url));
const PREREQUISITES_SCRIPT = fileURLToPath(new URL('../../scripts/prerequisites.sh', import.meta.url));
const KICKSTART = fileURLToPath(new URL('../../templates/kickstart/demo.ks.in', import.meta.url));

export interface DemoOptions {
  cacheDir?: string;
  interactive: boolean;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** The demo's tools from scripts/prerequisites.txt: installed as root, else one ERROR naming the packages. */
function ensurePrerequisites(): void {
  try {
    execFileSync('bash', [PREREQUISITES_SCRIPT, 'demo'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop() ?? '';
    throw new TsvirtError(stderr.replace(/^ERROR /, '') || `checking the demo's prerequisites failed: ${(err as Error).message}`);
  }
}

function debianPackages(cache: string): { kernel: string; modules: string; busybox: string } {
  let out: string;
  try {
    out = execFileSync('bash', [PACKAGES_SCRIPT, cache, 'meta:linux-image-amd64', 'busybox-static'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop();
    throw new TsvirtError(`fetching Debian's kernel and busybox failed: ${stderr || (err as Error).message}`, 'the demo needs apt-get and dpkg-deb (a Debian or Ubuntu host) with current package lists (apt-get update)');
  }
  const dirs = new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const kernelRoot = dirs.get('meta:linux-image-amd64')!;
  const vmlinuz = readdirSync(join(kernelRoot, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new TsvirtError(`no kernel in ${kernelRoot}/boot`);
  return { kernel: join(kernelRoot, 'boot', vmlinuz), modules: join(kernelRoot, 'lib', 'modules'), busybox: join(dirs.get('busybox-static')!, 'bin', 'busybox') };
}

/** Plays root at the console when there is no terminal: log in, show uname, power off. */
function scriptedLogin(): { stdin: PassThrough; stdout: Writable; forward: (to: NodeJS.WritableStream) => void } {
  const stdin = new PassThrough();
  const steps: Array<[RegExp, string]> = [
    [/login: $/, 'root\n'],
    [/Password: $/, 'tsvirt\n'],
    [/# (\x1b\[6n)?$/, 'uname -a; cat /root/installed-by; poweroff\n'],
  ];
  let tail = '';
  let step = 0;
  let target: NodeJS.WritableStream | undefined;
  const stdout = new Writable({
    write(chunk: Buffer, _e, cb) {
      target?.write(chunk);
      tail = (tail + chunk.toString('latin1')).slice(-200);
      if (step < steps.length && steps[step][0].test(tail)) {
        stdin.write(steps[step][1]);
        step++;
        tail = '';
      }
      cb();
    },
  });
  return { stdin, stdout, forward: (to) => (target = to) };
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  // Before anything is fetched or created: a missing tool is one ERROR naming its package.
  ensurePrerequisites();
  const cache = opts.cacheDir ?? join(envPaths('tsvirt', { suffix: '' }).cache, 'demo');
  mkdirSync(cache, { recursive: true });
  const t0 = Date.now();
  const step = (s: string): void => opts.log(`[demo ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

  step("fetching Debian's linux-image-amd64 and busybox-static");
  const pkgs = debianPackages(cache);
  const www = join(cache, 'www');
  rmSync(www, { recursive: true, force: true });
  mkdirSync(www, { recursive: true });
  step('building the install tree and a busybox root file system');
  // The installer takes mke2fs from the host's e2fsprogs (a prerequisite), for the
  // kickstart's ext4.
  const tree = buildTree({ kernel: pkgs.kernel, modules: pkgs.modules, busybox: pkgs.busybox, out: join(www, 'tree'), toolRoots: ['/'] });
  step(`installer file systems: ${tree.filesystems.join(' ')}${tree.mke2fsSource ? ` (mke2fs from ${tree.mke2fsSource})` : ''}`);
  await writeBusyboxRootfs(pkgs.busybox, join(www, 'rootfs.tar.gz'));
  const sha = createHash('sha256').update(readFileSync(join(www, 'rootfs.tar.gz'))).digest('hex');
  const server = await serveDirectory(www);
  try {
    writeFileSync(join(www, 'ks.cfg'), readFileSync(KICKSTART, 'utf8').replaceAll('{{BASE_URL}}', server.url).replaceAll('{{ROOTFS_SHA256}}', sha));
    const disk = join(cache, 'tsvirt-demo.qcow2');
    rmSync(disk, { force: true }); // the demo's own disk from an earlier run
    const argv = [
      '--name', 'tsvirt-demo', '--memory', '512', '--vcpus', '1',
      '--disk', `path=${disk},size=1,format=qcow2`,
      '--location', `${server.url}/tree`,
      '--extra-args', `inst.ks=${server.url}/ks.cfg`,
      '--graphics', 'none', '--os-variant', 'linux2022',
      '--transient', // the demo leaves no definition behind, only its disk in the cache
    ];
    step(`tsvirt-install ${argv.join(' ')}`);
    step(`kernel ${tree.kernelRelease}; tree and kickstart served at ${server.url}`);
    const plan = planFromArgv(argv, processPlanEnv());
    for (const w of plan.warnings) opts.log(`WARNING  ${w}`);
    const scripted = opts.interactive ? undefined : scriptedLogin();
    scripted?.forward(opts.stdout);
    const result = await runDomain(plan, {
      fetcher: createFetcher(),
      console: scripted ? { stdin: scripted.stdin, stdout: scripted.stdout } : { stdin: opts.stdin, stdout: opts.stdout },
      signal: opts.signal,
      progress: step,
    });
    if (result.kind === 'install') {
      for (const p of result.outcome.phases) step(`phase ${p.phase}: ${p.seconds.toFixed(1)} s`);
    }
    step(`done: the installed disk is ${disk}`);
  } finally {
    await server.close();
  }
}
