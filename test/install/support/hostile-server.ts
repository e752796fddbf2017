// A misbehaving HTTP server on 127.0.0.1 for the hostile-source probes (issue 15): each
// route plays one way a server can hurt a client — a body trickled a byte at a time, an
// endless body, a Content-Length that lies, a reset connection, a response that never
// starts, a redirect anywhere, raw bytes that are not HTTP — next to ordinary bodies and
// directories, so a case can serve a hostile .treeinfo beside a good kernel. Every
// request is recorded (a second instance on another port stands for "another origin":
// its request log must stay empty), and close() ends every socket and timer it started.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';

type Headers = Record<string, string | number>;

export type Behaviour =
  /** A complete response. */
  | { kind: 'body'; body: string | Uint8Array; status?: number; headers?: Headers }
  /** A status with an empty body (404, 410, 500, 503, 204, 418...). */
  | { kind: 'status'; status: number; headers?: Headers }
  /** A redirect to `location` (written as given: relative, file:, another port). */
  | { kind: 'redirect'; status: 301 | 302 | 303 | 307 | 308; location: string }
  /**
   * `chunk` every `intervalMs`, for ever (until the client goes away): one byte every
   * few seconds is the slowloris; a bigger chunk keeps above a minimum rate and never ends.
   * `contentLength` is announced when given, otherwise the body is chunked.
   */
  | { kind: 'trickle'; intervalMs: number; chunk: string | Uint8Array; contentLength?: number; prefix?: string | Uint8Array }
  /** The headers, then `chunk` as fast as the client reads, never ending. */
  | { kind: 'endless'; chunk: Uint8Array; contentLength?: number; headers?: Headers }
  /** Announces `declared` bytes, sends `body`, then closes the connection. */
  | { kind: 'short-body'; declared: number; body: string | Uint8Array }
  /** Announces `declared` bytes but sends all of `body` (more than declared) on the raw socket. */
  | { kind: 'long-body'; declared: number; body: string | Uint8Array }
  /** Resets the connection: at once, or after the headers and `afterBytes` of the body. */
  | { kind: 'reset'; afterHeaders?: boolean; afterBytes?: number; contentLength?: number }
  /** Accepts the request and never answers. */
  | { kind: 'silent' }
  /** Raw bytes written on the socket instead of an HTTP response, then closed. */
  | { kind: 'raw'; data: string | Uint8Array }
  /** Files of a directory below the route (the route ends in '/'). */
  | { kind: 'directory'; root: string }
  /** Waits `ms` before answering as `then` (a 404 that takes its time). */
  | { kind: 'delay'; ms: number; then: Behaviour }
  /** Each request takes the next behaviour; the last one repeats. */
  | { kind: 'sequence'; steps: readonly Behaviour[] };

export interface HostileServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Request paths (with query), in arrival order. */
  readonly requests: string[];
  /** Serves `behaviour` at `path` (exact), or below it when `path` ends in '/'. */
  route(path: string, behaviour: Behaviour): void;
  close(): Promise<void>;
}

const buf = (b: string | Uint8Array): Buffer => (typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b));

export async function startHostileServer(): Promise<HostileServer> {
  const routes = new Map<string, Behaviour>();
  const requests: string[] = [];
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const find = (path: string): [string, Behaviour] | undefined => {
    const exact = routes.get(path);
    if (exact) return [path, exact];
    let best: [string, Behaviour] | undefined;
    for (const [p, b] of routes) if (p.endsWith('/') && path.startsWith(p) && (!best || p.length > best[0].length)) best = [p, b];
    return best;
  };

  const play = (b: Behaviour, routePath: string, path: string, req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    switch (b.kind) {
      case 'body': {
        const body = buf(b.body);
        res.writeHead(b.status ?? 200, { 'content-length': body.length, ...b.headers }).end(body);
        return;
      }
      case 'status':
        res.writeHead(b.status, { 'content-length': 0, ...b.headers }).end();
        return;
      case 'redirect':
        res.writeHead(b.status, { location: b.location, 'content-length': 0 }).end();
        return;
      case 'trickle': {
        res.writeHead(200, b.contentLength === undefined ? {} : { 'content-length': b.contentLength });
        if (b.prefix !== undefined) res.write(buf(b.prefix));
        const timer = setInterval(() => {
          if (socket.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
            return;
          }
          res.write(buf(b.chunk));
        }, b.intervalMs);
        timers.add(timer);
        socket.once('close', () => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'endless': {
        res.writeHead(200, { ...(b.contentLength === undefined ? {} : { 'content-length': b.contentLength }), ...b.headers });
        const chunk = Buffer.from(b.chunk);
        // Writes whenever the socket drains: as fast as the client reads, never faster.
        const pump = (): void => {
          while (!socket.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case 'short-body': {
        res.writeHead(200, { 'content-length': b.declared });
        res.write(buf(b.body), () => socket.destroy());
        return;
      }
      case 'long-body': {
        // Node's own response refuses to send more than its Content-Length: write by hand.
        const body = buf(b.body);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${b.declared}\r\nConnection: close\r\n\r\n`);
        socket.end(body);
        return;
      }
      case 'reset': {
        if (!b.afterHeaders) {
          socket.resetAndDestroy();
          return;
        }
        res.writeHead(200, b.contentLength === undefined ? {} : { 'content-length': b.contentLength });
        res.write(Buffer.alloc(b.afterBytes ?? 0, 0x41), () => socket.resetAndDestroy());
        return;
      }
      case 'silent':
        return;
      case 'raw':
        socket.end(buf(b.data));
        return;
      case 'directory': {
        const rel = normalize(decodeURIComponent(path.slice(routePath.length)).split('?')[0]);
        const file = join(b.root, rel);
        const st = file.startsWith(b.root) ? statSync(file, { throwIfNoEntry: false }) : undefined;
        if (!st?.isFile()) {
          res.writeHead(404, { 'content-length': 0 }).end();
          return;
        }
        const body = readFileSync(file);
        res.writeHead(200, { 'content-length': body.length, etag: `"${st.size}-${st.mtimeMs}"` }).end(body);
        return;
      }
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!socket.destroyed) play(b.then, routePath, path, req, res);
        }, b.ms);
        timers.add(timer);
        return;
      }
      case 'sequence': {
        const n = hits.get(routePath) ?? 0;
        hits.set(routePath, n + 1);
        play(b.steps[Math.min(n, b.steps.length - 1)], routePath, path, req, res);
        return;
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const found = find(path.split('?')[0]) ?? find(path);
    if (!found) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    play(found[1], found[0], path, req, res);
  });
  // A client that gives up mid-response is normal here; nothing to report.
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    route: (path, behaviour) => {
      routes.set(path, behaviour);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
