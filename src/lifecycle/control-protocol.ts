// The runner's control socket protocol (a unix stream socket, mode 0600, in the state
// directory). A client sends one request as a JSON line; the runner answers with one JSON
// line. For `console` the connection then carries raw bytes both ways: guest serial output
// to the client, keystrokes to the guest's UART, until either side closes. Lines are
// bounded: a peer that sends more than MAX_LINE_BYTES without a newline is cut off.
import type { Socket } from 'node:net';

export type ControlRequest =
  | { op: 'status' }
  | { op: 'console' }
  | { op: 'shutdown' }
  | { op: 'reboot' }
  | { op: 'destroy' };

export const CONTROL_OPS: readonly ControlRequest['op'][] = ['status', 'console', 'shutdown', 'reboot', 'destroy'];

export interface RunnerStatus {
  name: string;
  pid: number;
  /** running, or 'in shutdown' after an ACPI power button press until the guest is off. */
  state: 'running' | 'in shutdown';
  vcpus: number;
  memoryKiB: number;
  consoles: number;
}

export type ControlResponse = { ok: true; status?: RunnerStatus } | { ok: false; error: string };

export const MAX_LINE_BYTES = 4096;

/** The one message a starting runner sends its starter over the IPC channel. */
export type RunnerHello = { type: 'ready'; pid: number } | { type: 'error'; message: string; hint?: string };

/** Parses a request from the socket; anything else is the peer's error. */
export function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error('request is not JSON');
  }
  const op = (v as { op?: unknown } | null)?.op;
  if (typeof op !== 'string' || !(CONTROL_OPS as readonly string[]).includes(op)) throw new Error(`unknown request ${JSON.stringify(op)}`);
  return { op } as ControlRequest;
}

/**
 * Resolves with the first line the socket delivers (without the newline) and any bytes
 * that followed it in the same chunk; rejects when the socket ends first or the line is
 * too long. Stops reading from the socket once the line is complete.
 */
export function readLine(socket: Socket): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        cleanup();
        socket.pause();
        resolve({ line: buf.subarray(0, nl).toString('utf8'), rest: buf.subarray(nl + 1) });
      } else if (buf.length > MAX_LINE_BYTES) {
        cleanup();
        reject(new Error('line too long'));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('connection closed'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}
