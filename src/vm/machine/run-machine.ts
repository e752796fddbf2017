// Runs a machine in a worker thread and connects its serial console to the main thread's
// streams (ARCHITECTURE.md "Threads"; issue 6 "Console"): on a TTY the terminal goes raw,
// keystrokes reach the guest and Ctrl-] detaches and stops the machine, as virsh console
// does; otherwise the guest's output streams to stdout and stdin feeds the UART. The
// console can also be logged to a file (--serial file,path=LOG). One call for the CLI;
// the promise resolves with how the guest ended and its last console lines.

import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TsvirtError } from '../../lib/errors.js';
import type { MachineConfig, MachineResult } from './machine-config.js';
import type { FromWorker, ToWorker } from './machine-worker.js';

export const CTRL_RIGHT_BRACKET = 0x1d;

export interface ConsoleIo {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout?: NodeJS.WritableStream;
  /** Aborting stops the guest (result kind 'stopped'). */
  signal?: AbortSignal;
  /** Append the console to this file as well. */
  serialLogPath?: string;
}

/** The worker script: beside this module when built; dist/ when this runs from src/ (tests). */
function workerUrl(): URL {
  const here = new URL('./machine-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../../dist/vm/machine/machine-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`machine worker not found at ${fileURLToPath(here)} or ${fileURLToPath(built)}; run npm run build`);
}

export async function runMachine(config: MachineConfig, io: ConsoleIo = {}): Promise<MachineResult> {
  const worker = new Worker(workerUrl(), { workerData: config });
  const stdin = io.stdin;
  const tty = stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
  let log: WriteStream | undefined;
  if (io.serialLogPath) log = createWriteStream(io.serialLogPath, { flags: 'a' });
  const send = (m: ToWorker) => worker.postMessage(m);
  const stop = () => send({ type: 'stop' });

  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (tty) {
      const i = bytes.indexOf(CTRL_RIGHT_BRACKET);
      if (i >= 0) {
        if (i > 0) send({ type: 'input', bytes: Uint8Array.from(bytes.subarray(0, i)) });
        stop();
        return;
      }
    }
    send({ type: 'input', bytes: Uint8Array.from(bytes) });
  };
  if (stdin) {
    if (tty) stdin.setRawMode!(true);
    stdin.on('data', onData);
    stdin.resume();
  }
  const onAbort = () => stop();
  io.signal?.addEventListener('abort', onAbort);
  if (io.signal?.aborted) stop();

  try {
    return await new Promise<MachineResult>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'serial') {
          io.stdout?.write(msg.bytes);
          log?.write(msg.bytes);
        } else if (msg.type === 'exit') {
          resolve(msg.result);
        } else if (msg.type === 'failed') {
          // The worker rethrows user errors (bad kernel file, too little memory) as TsvirtError.
          const err = msg.name === 'TsvirtError' ? new TsvirtError(msg.message, msg.hint) : new Error(msg.message);
          if (msg.stack && msg.name !== 'TsvirtError') err.stack = msg.stack;
          reject(err);
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`machine worker exited with code ${code}`)));
    });
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    if (stdin) {
      stdin.off('data', onData);
      if (tty) stdin.setRawMode!(false);
      stdin.pause();
    }
    await worker.terminate();
    if (log) await new Promise<void>((r) => log!.end(r));
  }
}
