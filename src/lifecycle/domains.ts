// The domains a user has, defined and running, and virsh's verbs over them. A domain is
// running exactly when a live runner holds its lock (runner-lock.ts): a pid file whose
// runner died (SIGKILL, host crash) reads as shut off and is simply taken over by the next
// start. virsh semantics where a verb meets a running domain: define replaces the
// persistent definition and the running guest keeps its live one until it next starts;
// undefine turns it into a transient domain that disappears when it stops (and refuses to
// delete storage it is still using); start refuses a domain already running.
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TsvirtError } from '../lib/errors.js';
import type { Domain } from '../domain/model.js';
import { parseDomainXml } from '../domain/xml/parse.js';
import { MAX_DEFINITION_BYTES, validateDefinition } from '../domain/validate-definition.js';
import { notFound } from './definition-store.js';
import { checkRunnable } from './domain-guest.js';
import { attachConsole, type ConsoleEnd, type ConsoleStreams } from './console-attach.js';
import type { RunnerHello } from './control-protocol.js';
import { requestRunner } from './runner-client.js';
import { probeRunner } from './runner-lock.js';
import { liveDomain, runtime, store } from './domain-state.js';
import { checkDomainName, ensurePrivateDir, runtimeFiles, type LifecyclePaths } from './state-paths.js';

export { listDomains, domainState, type DomainRow, type DomainState } from './domain-state.js';

const RUNNER_STOP_TIMEOUT_MS = 15_000;

/**
 * The text of FILE for `tsvirt define`: a regular file (a FIFO or /dev/zero would block or
 * never end) of at most MAX_DEFINITION_BYTES, read no further than that (a 50 MB file
 * is refused without being read), in UTF-8 (libvirt's libxml2 refuses other bytes; a
 * replacement character would otherwise end up in a path).
 */
export function readDefinitionFile(path: string): string {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new TsvirtError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'check the path');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new TsvirtError(`${path} is not a regular file`, 'give the definition as a file, e.g. tsvirt dumpxml NAME > NAME.xml');
    if (st.size > MAX_DEFINITION_BYTES) throw tooLarge(st.size);
    const buf = Buffer.alloc(MAX_DEFINITION_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length;) {
      got = fs.readSync(fd, buf, n, buf.length - n, null);
      n += got;
    }
    // The file grew between fstat and read.
    if (n > MAX_DEFINITION_BYTES) throw tooLarge(st.size);
    const bytes = buf.subarray(0, n);
    if (!isUtf8(bytes)) throw new TsvirtError(`${path} is not valid UTF-8`, 'save the definition as UTF-8, as libvirt writes it');
    return bytes.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function tooLarge(bytes: number): TsvirtError {
  return new TsvirtError(`the definition is ${bytes} bytes, more than the limit of ${MAX_DEFINITION_BYTES}`, 'a domain definition is a few KiB; check the file');
}

/** `tsvirt define FILE`: parses, checks the VM core can run it, stores it. */
export function defineDomain(paths: LifecyclePaths, xml: string): { name: string; replaced: boolean; running: boolean } {
  if (Buffer.byteLength(xml) > MAX_DEFINITION_BYTES) throw tooLarge(Buffer.byteLength(xml));
  const domain = parseDomainXml(xml);
  checkDomainName(domain.name);
  validateDefinition(domain, { memoryBytes: os.totalmem() });
  checkRunnable(domain);
  const { replaced } = store(paths).save(domain);
  return { name: domain.name, replaced, running: runtime(paths, domain.name).probe.running };
}

/** `tsvirt dumpxml NAME [--inactive]`: the live XML of a running domain, else the definition. */
export function dumpDomainXml(paths: LifecyclePaths, name: string, opts: { inactive?: boolean } = {}): string {
  checkDomainName(name);
  const { files, probe } = runtime(paths, name);
  if (probe.running && !opts.inactive) {
    try {
      return fs.readFileSync(files.liveXml, 'utf8');
    } catch {
      // The runner is between locking and writing its live XML: the definition is as good.
    }
  }
  return store(paths).load(name).xml;
}

/** The runner script: beside this module when built; dist/ when this runs from src/ (tests). */
function runnerScript(): string {
  const here = new URL('./runner-main.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(here))) return fileURLToPath(here);
  const built = new URL('../../dist/lifecycle/runner-main.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(built))) return fileURLToPath(built);
  throw new Error('the runner script is not built; run npm run build');
}

/** `tsvirt start NAME`: a detached runner boots the domain; resolves once the guest runs. */
export async function startDomain(paths: LifecyclePaths, name: string): Promise<{ pid: number }> {
  const { domain, path } = store(paths).load(name);
  checkRunnable(domain);
  if (runtime(paths, name).probe.running) throw new TsvirtError(`domain '${name}' is already running`, "see 'tsvirt list'");
  ensurePrivateDir(paths.stateDir);
  const files = runtimeFiles(paths.stateDir, name);
  const errFd = fs.openSync(files.runnerLog, 'a', 0o600);
  // detached: setsid(2), so the runner has its own session and process group and no
  // controlling terminal: closing the terminal (SIGHUP) or Ctrl-C in it does not reach it.
  const child = spawn(process.execPath, [runnerScript(), paths.stateDir, name, path], {
    detached: true,
    stdio: ['ignore', errFd, errFd, 'ipc'],
    cwd: '/',
  });
  fs.closeSync(errFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const hello = await new Promise<RunnerHello>((resolve, reject) => {
      child.once('message', (m) => resolve(m as RunnerHello));
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        const tail = fs.readFileSync(files.runnerLog, 'utf8').trim().split('\n').slice(-3).join('\n');
        reject(new TsvirtError(`the runner of '${name}' exited (${signal ?? `code ${code}`}) before the guest started`, tail ? `runner log ${files.runnerLog}:\n${tail}` : undefined));
      });
    });
    if (hello.type === 'error') {
      // Let it finish cleaning up so the domain reads as shut off once we report the error.
      await exited;
      throw new TsvirtError(hello.message, hello.hint);
    }
    return { pid: hello.pid };
  } finally {
    child.removeAllListeners();
    if (child.connected) child.disconnect();
    child.unref();
  }
}

/**
 * For `tsvirt-install --noautoconsole`: store the installed domain's definition (as
 * virt-install defines it in libvirt) and start it in a detached runner.
 */
export async function defineAndStart(paths: LifecyclePaths, domain: Domain): Promise<{ pid: number }> {
  validateDefinition(domain, { memoryBytes: os.totalmem() });
  checkRunnable(domain);
  store(paths).save(domain);
  return startDomain(paths, domain.name);
}

/**
 * virt-install's --wait: -1 waits for the guest to shut down forever, 0 not at all, N up
 * to N minutes. True when the domain is off when this returns.
 */
export async function waitForShutdown(paths: LifecyclePaths, name: string, waitMinutes: number): Promise<boolean> {
  if (waitMinutes === 0) return !runtime(paths, name).probe.running;
  return waitUntilStopped(paths, name, waitMinutes < 0 ? -1 : waitMinutes * 60_000);
}

/** `tsvirt start --autostart-all`: starts every autostart domain not already running. */
export async function startAutostartDomains(paths: LifecyclePaths): Promise<Array<{ name: string; pid?: number; error?: unknown; alreadyRunning?: boolean }>> {
  const out: Array<{ name: string; pid?: number; error?: unknown; alreadyRunning?: boolean }> = [];
  for (const name of store(paths).autostartNames()) {
    if (runtime(paths, name).probe.running) {
      out.push({ name, alreadyRunning: true });
      continue;
    }
    try {
      out.push({ name, pid: (await startDomain(paths, name)).pid });
    } catch (error) {
      out.push({ name, error });
    }
  }
  return out;
}

function runningOrThrow(paths: LifecyclePaths, name: string) {
  checkDomainName(name);
  const r = runtime(paths, name);
  if (!r.probe.running) {
    if (!store(paths).has(name)) throw notFound(name);
    throw new TsvirtError(`domain '${name}' is not running`, "start it with 'tsvirt start'");
  }
  return r;
}

/** `tsvirt shutdown NAME`: presses the ACPI power button; the guest powers itself off. */
export async function shutdownDomain(paths: LifecyclePaths, name: string): Promise<void> {
  await requestRunner(runningOrThrow(paths, name).files.socket, name, { op: 'shutdown' });
}

/** `tsvirt reboot NAME`: power button, then the same runner boots the guest again. */
export async function rebootDomain(paths: LifecyclePaths, name: string): Promise<void> {
  await requestRunner(runningOrThrow(paths, name).files.socket, name, { op: 'reboot' });
}

/** Waits until no runner holds the domain's lock; false when the time ran out. */
export async function waitUntilStopped(paths: LifecyclePaths, name: string, timeoutMs: number): Promise<boolean> {
  const files = runtimeFiles(paths.stateDir, name);
  const end = Date.now() + timeoutMs;
  while (probeRunner(files.pid).running) {
    if (timeoutMs >= 0 && Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * `tsvirt destroy NAME`: the runner stops the vCPUs, closes the images and exits; a runner
 * that does not answer or does not exit in time is killed (SIGKILL), as libvirt kills QEMU.
 */
export async function destroyDomain(paths: LifecyclePaths, name: string): Promise<{ killed: boolean }> {
  const { files, probe } = runningOrThrow(paths, name);
  try {
    await requestRunner(files.socket, name, { op: 'destroy' });
  } catch {
    // Unresponsive control socket: fall through to the kill.
  }
  if (await waitUntilStopped(paths, name, RUNNER_STOP_TIMEOUT_MS)) return { killed: false };
  const again = probeRunner(files.pid);
  if (again.running && again.pid > 0 && probe.running && again.pid === probe.pid) process.kill(again.pid, 'SIGKILL');
  if (!(await waitUntilStopped(paths, name, RUNNER_STOP_TIMEOUT_MS))) throw new TsvirtError(`the runner of '${name}' (pid ${again.running ? again.pid : '?'}) did not stop`);
  return { killed: true };
}

/**
 * `tsvirt undefine NAME [--remove-all-storage]`. A running domain becomes transient (it
 * runs on and is gone once it stops), as with virsh; deleting the storage of a running
 * domain is refused. Storage removed: the writable disk images (not read-only or shared
 * media such as install ISOs). A stopped domain's console log and runner files go too.
 */
export function undefineDomain(paths: LifecyclePaths, name: string, opts: { removeAllStorage?: boolean } = {}): { removed: string[]; kept: string[]; stillRunning: boolean } {
  checkDomainName(name);
  const defs = store(paths);
  const { probe } = runtime(paths, name);
  if (!defs.has(name)) {
    if (probe.running) throw new TsvirtError(`cannot undefine transient domain '${name}'`, "it is gone once it stops: 'tsvirt destroy' or 'tsvirt shutdown'");
    throw notFound(name);
  }
  const { domain } = defs.load(name);
  if (opts.removeAllStorage && probe.running) {
    throw new TsvirtError(`domain '${name}' is running: its storage cannot be removed`, "stop it first ('tsvirt shutdown' or 'tsvirt destroy')");
  }
  const removed: string[] = [];
  const kept: string[] = [];
  defs.remove(name);
  if (!probe.running) {
    // Nothing runs it: its console history and stale runner files go with it.
    for (const f of Object.values(runtimeFiles(paths.stateDir, name))) fs.rmSync(f, { force: true });
  }
  if (opts.removeAllStorage) {
    for (const d of domain.devices.disks) {
      if (d.sourcePath === undefined) continue;
      if (d.device !== 'disk' || d.readonly || d.shareable) {
        kept.push(d.sourcePath);
        continue;
      }
      try {
        fs.rmSync(d.sourcePath);
        removed.push(d.sourcePath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return { removed, kept, stillRunning: probe.running };
}

/** `tsvirt autostart NAME [--disable]`. */
export function setDomainAutostart(paths: LifecyclePaths, name: string, enabled: boolean): void {
  store(paths).setAutostart(name, enabled);
}

/** `tsvirt console NAME`. */
export function consoleDomain(paths: LifecyclePaths, name: string, io: ConsoleStreams): Promise<ConsoleEnd> {
  return attachConsole(runningOrThrow(paths, name).files.socket, name, io);
}
