// One domain's runner: the process that owns a running guest after `tsvirt start` has
// returned (libvirt keeps one QEMU process per domain; tsvirt has no daemon, so the runner
// is that process). It holds the domain's lock for its whole life (two runners of one
// domain are impossible), writes the pid file and the live XML, serves the control socket,
// appends every console byte to the console log and fans it out to all attached consoles,
// and runs the machine in a worker thread. virsh's verbs map onto it: shutdown presses the
// ACPI power button; reboot presses it and boots the guest again once it has powered off
// (libvirt's qemu "fake reboot"); destroy stops the vCPUs at once. When the guest ends the
// runner removes its socket, live XML and pid file and exits.
// Leaves out: pause/resume, managed save, attaching devices to a running guest.
import fs from 'node:fs';
import net, { type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TsvirtError } from '../lib/errors.js';
import type { Domain } from '../domain/model.js';
import { parseDomainXml } from '../domain/xml/parse.js';
import { renderDomainXml } from '../domain/xml/render.js';
import { machineConfigFor } from '../install/guest-machine.js';
import type { MachineResult } from '../vm/machine/machine-config.js';
import { parseRequest, readLine, type ControlRequest, type ControlResponse, type RunnerStatus } from './control-protocol.js';
import { guestSpecFor } from './domain-guest.js';
import type { FromWorker as FromGuest, ToWorker as ToGuest } from '../vm/machine/machine-worker.js';
import { probeRunner, RunnerLock } from './runner-lock.js';
import { ensurePrivateDir, runtimeFiles, UNIX_PATH_MAX, type RuntimeFiles } from './state-paths.js';

/** A console client that falls this far behind is disconnected rather than slowing the guest. */
const MAX_CLIENT_BACKLOG_BYTES = 4 * 1024 * 1024;

/** How long a client may take to send its request line. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The worker script: beside this module when built; dist/ when this runs from src/ (tests). */
function guestWorkerUrl(): URL {
  const here = new URL('../vm/machine/machine-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/vm/machine/machine-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(built))) return built;
  throw new Error(`guest worker not found at ${fileURLToPath(here)} or ${fileURLToPath(built)}; run npm run build`);
}

export interface RunnerOptions {
  stateDir: string;
  name: string;
  /** The definition to run. */
  xmlPath: string;
  /** Called once: without an error when the guest runs, with one when it could not start. */
  onReady?: (err?: unknown) => void;
  /** Diagnostics (the runner's stderr in production). */
  log?: (line: string) => void;
}

export class DomainRunner {
  private readonly files: RuntimeFiles;
  private readonly clients = new Set<Socket>();
  private worker?: Worker;
  private server?: net.Server;
  private domain?: Domain;
  private destroyRequested = false;
  private rebootRequested = false;
  private shuttingDown = false;
  private logFd?: number;
  private serialFileFds: number[] = [];

  constructor(private readonly opts: RunnerOptions) {
    this.files = runtimeFiles(opts.stateDir, opts.name);
  }

  private log(line: string): void {
    this.opts.log?.(`${new Date().toISOString()} ${this.opts.name}: ${line}`);
  }

  /** Runs the guest until it ends (or cannot start); resolves with how it ended. */
  async run(): Promise<MachineResult | undefined> {
    let ready = false;
    const ready1 = (err?: unknown) => {
      if (ready) return;
      ready = true;
      this.opts.onReady?.(err);
    };
    ensurePrivateDir(this.opts.stateDir);
    if (Buffer.byteLength(this.files.socket) >= UNIX_PATH_MAX) {
      const err = new TsvirtError(`the control socket path ${this.files.socket} is longer than a unix socket allows (${UNIX_PATH_MAX - 1} bytes)`, 'use a shorter domain name or state directory');
      ready1(err);
      throw err;
    }
    const lock = RunnerLock.tryAcquire(this.files.pid);
    if (!lock) {
      const p = probeRunner(this.files.pid);
      const err = new TsvirtError(`domain '${this.opts.name}' is already running${p.running && p.pid ? ` (runner pid ${p.pid})` : ''}`, "see 'tsvirt list'");
      ready1(err);
      throw err;
    }
    try {
      const domain = parseDomainXml(fs.readFileSync(this.opts.xmlPath, 'utf8'));
      if (domain.name !== this.opts.name) throw new TsvirtError(`${this.opts.xmlPath} defines '${domain.name}', not '${this.opts.name}'`);
      this.domain = domain;
      lock.writePid();
      fs.writeFileSync(this.files.liveXml, renderDomainXml(domain), { mode: 0o600 });
      this.logFd = fs.openSync(this.files.log, 'a', 0o600);
      for (const s of domain.devices.serials) if (s.type === 'file' && s.path) this.serialFileFds.push(fs.openSync(s.path, 'a', 0o600));
      await this.listen();
      for (;;) {
        const spec = guestSpecFor(domain);
        this.log(`starting (${spec.bootSource})`);
        this.appendLog(`\r\n[tsvirt] ${new Date().toISOString()} domain '${domain.name}' starting\r\n`);
        const result = await this.runGuest(machineConfigFor(spec), () => ready1());
        this.log(`guest ended: ${result.kind}${result.message ? ` (${result.message})` : ''}`);
        this.appendLog(`\r\n[tsvirt] ${new Date().toISOString()} domain '${domain.name}' ${result.kind}\r\n`);
        if (result.kind === 'poweroff' && this.rebootRequested && !this.destroyRequested) {
          this.rebootRequested = false;
          this.shuttingDown = false;
          continue;
        }
        return result;
      }
    } catch (err) {
      this.log(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      ready1(err);
      throw err;
    } finally {
      for (const c of this.clients) c.end();
      this.clients.clear();
      await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      fs.rmSync(this.files.socket, { force: true });
      fs.rmSync(this.files.liveXml, { force: true });
      if (this.logFd !== undefined) fs.closeSync(this.logFd);
      for (const fd of this.serialFileFds) fs.closeSync(fd);
      lock.release();
    }
  }

  /** Presses the ACPI power button; with reboot, boots the guest again once it is off. */
  pressPowerButton(opts: { reboot: boolean }): void {
    if (opts.reboot) this.rebootRequested = true;
    this.shuttingDown = true;
    this.log(`ACPI power button (${opts.reboot ? 'reboot' : 'shutdown'})`);
    this.send({ type: 'power-button' });
  }

  /** Stops the guest at once (virsh destroy). */
  destroy(): void {
    this.destroyRequested = true;
    this.send({ type: 'stop' });
  }

  private send(m: ToGuest): void {
    this.worker?.postMessage(m);
  }

  private appendLog(text: string | Uint8Array): void {
    if (this.logFd !== undefined) fs.writeSync(this.logFd, typeof text === 'string' ? Buffer.from(text) : text);
  }

  private runGuest(config: ReturnType<typeof machineConfigFor>, started: () => void): Promise<MachineResult> {
    const worker = new Worker(guestWorkerUrl(), { workerData: config });
    this.worker = worker;
    if (this.destroyRequested) this.send({ type: 'stop' });
    return new Promise<MachineResult>((resolve, reject) => {
      worker.on('message', (msg: FromGuest) => {
        if (msg.type === 'serial') this.serial(msg.bytes);
        else if (msg.type === 'started') started();
        else if (msg.type === 'exit') resolve(msg.result);
        else {
          const err = msg.name === 'TsvirtError' ? new TsvirtError(msg.message, msg.hint) : new Error(msg.message);
          if (msg.stack && msg.name !== 'TsvirtError') err.stack = msg.stack;
          reject(err);
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`guest worker exited with code ${code}`)));
    }).finally(async () => {
      this.worker = undefined;
      await worker.terminate();
    });
  }

  private serial(bytes: Uint8Array): void {
    this.appendLog(bytes);
    for (const fd of this.serialFileFds) fs.writeSync(fd, bytes);
    for (const c of this.clients) {
      if (c.writableLength > MAX_CLIENT_BACKLOG_BYTES) {
        this.log('a console client fell too far behind; disconnected it');
        c.destroy();
        this.clients.delete(c);
      } else c.write(bytes);
    }
  }

  private async listen(): Promise<void> {
    // We hold the lock, so a socket file left here belongs to a dead runner.
    fs.rmSync(this.files.socket, { force: true });
    const server = net.createServer((socket) => void this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.files.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(this.files.socket, 0o600);
  }

  private status(): RunnerStatus {
    return {
      name: this.opts.name,
      pid: process.pid,
      state: this.shuttingDown ? 'in shutdown' : 'running',
      vcpus: this.domain?.vcpusCurrent ?? 0,
      memoryKiB: this.domain?.currentMemoryKiB ?? 0,
      consoles: this.clients.size,
    };
  }

  private async serve(socket: Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    // A peer that connects and says nothing is not kept forever.
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    let req: ControlRequest;
    let rest: Buffer;
    try {
      const got = await readLine(socket);
      socket.setTimeout(0);
      rest = got.rest;
      req = parseRequest(got.line);
    } catch (err) {
      // A confused or hostile peer: answer if we can and hang up.
      if (!socket.destroyed) socket.end(`${JSON.stringify({ ok: false, error: (err as Error).message } satisfies ControlResponse)}\n`);
      return;
    }
    const reply = (r: ControlResponse) => socket.write(`${JSON.stringify(r)}\n`);
    switch (req.op) {
      case 'status':
        socket.end(`${JSON.stringify({ ok: true, status: this.status() } satisfies ControlResponse)}\n`);
        return;
      case 'shutdown':
      case 'reboot':
        this.pressPowerButton({ reboot: req.op === 'reboot' });
        socket.end(`${JSON.stringify({ ok: true } satisfies ControlResponse)}\n`);
        return;
      case 'destroy':
        this.log('destroy requested');
        socket.end(`${JSON.stringify({ ok: true } satisfies ControlResponse)}\n`);
        this.destroy();
        return;
      case 'console':
        reply({ ok: true });
        this.clients.add(socket);
        if (rest.length) this.send({ type: 'input', bytes: Uint8Array.from(rest) });
        socket.on('data', (chunk: Buffer) => this.send({ type: 'input', bytes: Uint8Array.from(chunk) }));
        socket.on('close', () => this.clients.delete(socket));
        socket.on('end', () => socket.end());
        socket.resume();
        return;
    }
  }
}
