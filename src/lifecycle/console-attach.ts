// `tsvirt console NAME` (virsh console): the terminal attaches to a running guest's serial
// console through the runner's socket. On a TTY the terminal goes raw so every key reaches
// the guest; Ctrl-] (0x1d, virsh's escape) detaches and leaves the guest running. Several
// consoles may attach at once and all see the same output. Off a TTY, stdin is piped to the
// guest and its end detaches. Resolves when detached, or when the guest stops (the runner
// closes the socket).
import { openConsoleSocket } from './runner-client.js';

export const CONSOLE_ESCAPE = 0x1d;

export interface ConsoleStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  /** Called once the runner has accepted the attachment (virsh prints "Connected to domain"). */
  onAttached?: () => void;
}

export type ConsoleEnd = 'detached' | 'guest-stopped';

export async function attachConsole(socketPath: string, name: string, io: ConsoleStreams): Promise<ConsoleEnd> {
  const { socket, pending } = await openConsoleSocket(socketPath, name);
  const stdin = io.stdin;
  const tty = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  io.onAttached?.();
  if (pending.length) io.stdout.write(pending);
  return new Promise<ConsoleEnd>((resolve) => {
    let ended = false;
    const finish = (how: ConsoleEnd) => {
      if (ended) return;
      ended = true;
      stdin.off('data', onInput);
      stdin.off('end', onStdinEnd);
      if (tty) stdin.setRawMode!(false);
      stdin.pause();
      socket.off('data', onOutput);
      socket.destroy();
      resolve(how);
    };
    const onInput = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const i = bytes.indexOf(CONSOLE_ESCAPE);
      if (i >= 0) {
        if (i > 0) socket.write(bytes.subarray(0, i));
        finish('detached');
        return;
      }
      socket.write(bytes);
    };
    const onOutput = (chunk: Buffer) => io.stdout.write(chunk);
    const onStdinEnd = () => finish('detached');
    socket.on('data', onOutput);
    socket.once('close', () => finish('guest-stopped'));
    socket.on('error', () => finish('guest-stopped'));
    if (tty) stdin.setRawMode!(true);
    stdin.on('data', onInput);
    stdin.once('end', onStdinEnd);
    stdin.resume();
    socket.resume();
  });
}
