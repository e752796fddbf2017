// The client side of the control socket (control-protocol.ts): one request, one answer;
// or, for the console, the connected socket after the runner accepted the attachment.
import net, { type Socket } from 'node:net';
import { TsvirtError } from '../lib/errors.js';
import { readLine, type ControlRequest, type ControlResponse } from './control-protocol.js';

function connect(socketPath: string, name: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new TsvirtError(`domain '${name}' is not running`, "start it with 'tsvirt start'")
          : err,
      );
    });
  });
}

async function exchange(socketPath: string, name: string, req: ControlRequest): Promise<{ socket: Socket; response: ControlResponse; rest: Buffer }> {
  const socket = await connect(socketPath, name);
  socket.write(`${JSON.stringify(req)}\n`);
  let got: { line: string; rest: Buffer };
  try {
    got = await readLine(socket);
  } catch (err) {
    socket.destroy();
    // The runner closed without answering: it was on its way out.
    throw new TsvirtError(`domain '${name}' is not running (its runner went away: ${(err as Error).message})`);
  }
  let response: ControlResponse;
  try {
    response = JSON.parse(got.line) as ControlResponse;
  } catch {
    socket.destroy();
    throw new Error(`bad answer from the runner of '${name}'`);
  }
  if (!response.ok) {
    socket.destroy();
    throw new TsvirtError(`the runner of '${name}' refused ${req.op}: ${response.error}`);
  }
  return { socket, response, rest: got.rest };
}

/** Sends one request and returns the runner's answer. */
export async function requestRunner(socketPath: string, name: string, req: ControlRequest): Promise<ControlResponse> {
  const { socket, response } = await exchange(socketPath, name, req);
  socket.destroy();
  return response;
}

/** Attaches to the console: the socket now carries guest output and takes keystrokes. */
export async function openConsoleSocket(socketPath: string, name: string): Promise<{ socket: Socket; pending: Buffer }> {
  const { socket, rest } = await exchange(socketPath, name, { op: 'console' });
  return { socket, pending: rest };
}
