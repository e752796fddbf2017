// The fetcher against a real HTTP server on 127.0.0.1 that misbehaves on purpose.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFetcher, lineProgress, type Fetcher } from '../../../src/install/fetch/index.js';
import { TsvirtError } from '../../../src/lib/errors.js';

const BODY = Buffer.alloc(256 * 1024);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 7 + (i >> 9)) & 0xff;
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const SHA512 = createHash('sha512').update(BODY).digest('hex');

let server: Server;
let base: string;
const hits = new Map<string, IncomingMessage[]>();
const timers = new Set<NodeJS.Timeout>();

function count(path: string): number {
  return hits.get(path)?.length ?? 0;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  const seen = hits.get(path) ?? [];
  seen.push(req);
  hits.set(path, seen);
  const n = seen.length;
  if (path === '/flaky503') {
    if (n === 1) {
      res.writeHead(503, 'Service Unavailable').end();
      return;
    }
    res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
    return;
  }
  if (path === '/always503') {
    res.writeHead(503).end();
    return;
  }
  if (path === '/reset') {
    const etag = '"reset-v1"';
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && req.headers['if-range'] === etag) {
      const start = Number(range[1]);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}`,
        'content-length': BODY.length - start,
        etag,
      });
      res.end(BODY.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': BODY.length, etag, 'accept-ranges': 'bytes' });
    res.write(BODY.subarray(0, BODY.length / 2), () => {
      const t = setTimeout(() => res.socket?.destroy(), 20);
      timers.add(t);
    });
    return;
  }
  if (path === '/trickle' || path === '/steady') {
    // /trickle: one byte every 200 ms (every per-read timeout is met); /steady: 4 KiB every
    // 100 ms, fast enough, but the 4 MiB body would take minutes.
    const [size, step, every] = path === '/trickle' ? [1000, 1, 200] : [4 * 1024 * 1024, 4096, 100];
    res.writeHead(200, { 'content-length': size });
    let sent = 0;
    const t = setInterval(() => {
      const n = Math.min(step, size - sent);
      res.write(Buffer.alloc(n, 0x61));
      sent += n;
      if (sent >= size) {
        clearInterval(t);
        res.end();
      }
    }, every);
    timers.add(t as unknown as NodeJS.Timeout);
    res.on('close', () => clearInterval(t));
    return;
  }
  if (path === '/slow') {
    if (n === 1) {
      const t = setTimeout(() => res.writeHead(200, { 'content-length': BODY.length }).end(BODY), 3000);
      timers.add(t);
      res.on('close', () => clearTimeout(t));
      return;
    }
    res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
    return;
  }
  // Redirects out of the origin: another host name for the same server, another port, a file.
  const away: Record<string, () => string> = {
    '/away-host': () => base.replace('127.0.0.1', 'localhost') + '/data',
    '/away-port': () => 'http://127.0.0.1:1/data',
    '/away-file': () => 'file:///etc/hostname',
    '/away-scheme': () => base.replace('http:', 'https:') + '/data',
  };
  if (away[path]) {
    res.writeHead(302, { location: away[path]() }).end();
    return;
  }
  const redirect = /^\/redirect\/(\d+)$/.exec(path);
  if (redirect) {
    const left = Number(redirect[1]);
    if (left === 0) res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
    else res.writeHead(302, { location: `/redirect/${left - 1}` }).end();
    return;
  }
  if (path === '/etag' || path === '/lastmod') {
    const etag = '"v1"';
    const lastModified = 'Sat, 01 Nov 2025 10:00:00 GMT';
    if (path === '/etag' && req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    if (path === '/lastmod' && req.headers['if-modified-since'] === lastModified) {
      res.writeHead(304).end();
      return;
    }
    const headers: Record<string, string | number> = { 'content-length': BODY.length };
    if (path === '/etag') headers.etag = etag;
    else headers['last-modified'] = lastModified;
    res.writeHead(200, headers).end(BODY);
    return;
  }
  if (path === '/data') {
    res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
    return;
  }
  if (path === '/big-declared') {
    res.writeHead(200, { 'content-length': 4 * 1024 * 1024 });
    res.end(Buffer.alloc(4 * 1024 * 1024));
    return;
  }
  if (path === '/big-chunked') {
    // No Content-Length: the limit must trip while streaming.
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    let sent = 0;
    const pump = (): void => {
      while (sent < 4 * 1024 * 1024) {
        sent += 64 * 1024;
        if (!res.write(Buffer.alloc(64 * 1024))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
    return;
  }
  res.writeHead(404, 'Not Found').end('no such thing');
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let cacheDir: string;
let fetcher: Fetcher;
const backoffs: number[] = [];
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'tsvirt-fetch-'));
  backoffs.length = 0;
  fetcher = createFetcher({
    cacheDir,
    retries: 2,
    timeoutMs: 500,
    maxRedirects: 5,
    backoffMs: (attempt) => {
      backoffs.push(attempt);
      return 1;
    },
  });
});
afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<TsvirtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TsvirtError);
  return err as TsvirtError;
}

describe('fetcher over HTTP', () => {
  it('retries a 503 and then gets the body', async () => {
    const got = await fetcher.fetchFile(`${base}/flaky503`, { checksum: `sha256:${SHA256}` });
    expect(readFileSync(got.path).equals(BODY)).toBe(true);
    expect(count('/flaky503')).toBe(2);
    expect(backoffs).toEqual([1]);
  });

  it('gives up after the retries with an error naming the URL', async () => {
    const err = await failure(fetcher.fetchFile(`${base}/always503`));
    expect(err.message).toContain(`${base}/always503`);
    expect(err.message).toContain('3 attempts');
    expect(err.message).toContain('503');
  });

  it('resumes a connection reset halfway with Range/If-Range', async () => {
    const got = await fetcher.fetchFile(`${base}/reset`, { checksum: `sha512:${SHA512}` });
    expect(readFileSync(got.path).equals(BODY)).toBe(true);
    const reqs = hits.get('/reset')!;
    expect(reqs.length).toBe(2);
    expect(reqs[0].headers.range).toBeUndefined();
    // Where the first body stopped: half of it, or less when a loaded machine had not read
    // all of the half before the reset.
    const from = Number(/^bytes=(\d+)-$/.exec(String(reqs[1].headers.range))?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(BODY.length / 2);
    expect(reqs[1].headers['if-range']).toBe('"reset-v1"');
  });

  it('resumes a download interrupted in an earlier run', async () => {
    hits.delete('/reset');
    const once = createFetcher({ cacheDir, retries: 0, backoffMs: () => 1 });
    const err = await failure(once.fetchFile(`${base}/reset`));
    expect(err.message).toMatch(/failed after 1 attempt: /);
    const again = await once.fetchFile(`${base}/reset`, { checksum: SHA256 });
    expect(readFileSync(again.path).equals(BODY)).toBe(true);
    expect(hits.get('/reset')!.map((r) => r.headers.range)).toEqual([undefined, `bytes=${BODY.length / 2}-`]);
  });

  it('times out a slow server and retries', async () => {
    const got = await fetcher.fetchFile(`${base}/slow`);
    expect(got.sizeBytes).toBe(BODY.length);
    expect(count('/slow')).toBe(2);
  });

  it('abandons a body that trickles in below the minimum rate, without retrying (issue 15)', async () => {
    const err = await failure(fetcher.fetchFile(`${base}/trickle`));
    expect(err.message).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/trickle arrives too slowly \([\d.]+ bytes\/s over \d+ s, below 1024 bytes\/s\)$/);
    expect(count('/trickle')).toBe(1);
  });

  it('ends a fetch at its overall deadline, and small resources have one by default', async () => {
    const err = await failure(fetcher.fetchBytes(`${base}/steady`, { deadlineMs: 1500 }));
    expect(err.message).toMatch(/\/steady did not finish within its deadline of 1\.5 s/);
    expect(count('/steady')).toBe(1);
  });

  it('takes the small-resource deadline from the fetcher options', async () => {
    const quick = createFetcher({ cacheDir: fetcher.cacheDir, retries: 0, smallResourceDeadlineMs: 1200 });
    const err = await failure(quick.fetchBytes(`${base}/steady`));
    expect(err.message).toMatch(/\/steady did not finish within its deadline of 1\.2 s/);
  });

  it('follows a redirect chain within the limit', async () => {
    const got = await fetcher.fetchFile(`${base}/redirect/4`);
    expect(readFileSync(got.path).equals(BODY)).toBe(true);
  });

  it.each([
    ['/away-host', /redirects to http:\/\/localhost:\d+, another origin than http:\/\/127\.0\.0\.1:\d+/],
    ['/away-port', /redirects to http:\/\/127\.0\.0\.1:1, another origin/],
    ['/away-file', /redirects to a file: URL, another origin/],
    ['/away-scheme', /redirects to https:\/\/127\.0\.0\.1:\d+, another origin/],
  ])('refuses a redirect out of the origin (%s) without fetching the target or retrying', async (path, message) => {
    const before = count('/data');
    const err = await failure(fetcher.fetchFile(`${base}${path}`));
    expect(err).toBeInstanceOf(TsvirtError);
    expect(err.message).toMatch(message);
    expect((err as TsvirtError).hint).toMatch(/give its URL|local path/);
    expect(count(path)).toBe(1);
    expect(count('/data')).toBe(before);
  });

  it('refuses too many redirects', async () => {
    const err = await failure(fetcher.fetchFile(`${base}/redirect/9`));
    expect(err.message).toMatch(/too many redirects/);
    expect(err.message).toContain(`${base}/redirect/9`);
  });

  it('reports 404 naming the URL, without retrying', async () => {
    const err = await failure(fetcher.fetchFile(`${base}/nope/vmlinuz`));
    expect(err.message).toContain(`${base}/nope/vmlinuz`);
    expect(err.message).toContain('404');
    expect(count('/nope/vmlinuz')).toBe(1);
    expect(await fetcher.tryFetchBytes(`${base}/nope/.treeinfo`)).toBeNull();
  });

  it('fails a checksum mismatch and caches nothing', async () => {
    const wrong = 'sha256:' + '0'.repeat(64);
    const err = await failure(fetcher.fetchFile(`${base}/data`, { checksum: wrong }));
    expect(err.message).toMatch(/sha256 checksum mismatch/);
    expect(err.message).toContain(SHA256);
    expect(readdirSync(cacheDir)).toEqual([]);
    // And a correct digest afterwards downloads again and succeeds.
    const ok = await fetcher.fetchFile(`${base}/data`, { checksum: SHA256 });
    expect(ok.fromCache).toBe(false);
  });

  it('refuses a body larger than the limit (declared and streamed)', async () => {
    const a = await failure(fetcher.fetchFile(`${base}/big-declared`, { maxBytes: 1024 * 1024 }));
    expect(a.message).toMatch(/larger than the limit of 1048576 bytes/);
    const b = await failure(fetcher.fetchFile(`${base}/big-chunked`, { maxBytes: 1024 * 1024 }));
    expect(b.message).toMatch(/larger than the limit/);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.data') || f.endsWith('.part'))).toEqual([]);
  });

  it('revalidates a cached entry with ETag and with Last-Modified', async () => {
    const first = await fetcher.fetchFile(`${base}/etag`);
    expect(first.fromCache).toBe(false);
    const second = await fetcher.fetchFile(`${base}/etag`);
    expect(second.fromCache).toBe(true);
    expect(hits.get('/etag')![1].headers['if-none-match']).toBe('"v1"');
    expect(readFileSync(second.path).equals(BODY)).toBe(true);

    await fetcher.fetchFile(`${base}/lastmod`);
    const again = await fetcher.fetchFile(`${base}/lastmod`);
    expect(again.fromCache).toBe(true);
    expect(hits.get('/lastmod')![1].headers['if-modified-since']).toBe('Sat, 01 Nov 2025 10:00:00 GMT');
  });

  it('prints plain progress lines when not on a TTY', async () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const f = createFetcher({ cacheDir, progress: lineProgress(out), backoffMs: () => 1 });
    await f.fetchFile(`${base}/data`, { label: 'vmlinuz' });
    expect(lines[0]).toBe('fetching vmlinuz (256.0 KiB)\n');
    expect(lines).toContain('fetching vmlinuz: 50%\n');
    expect(lines.at(-1)).toBe('fetched vmlinuz (256.0 KiB)\n');
  });
});

describe('fetcher on local sources', () => {
  it('reads plain paths and file:// URLs, verifying checksums', async () => {
    const path = join(cacheDir, 'local.bin');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, BODY);
    const a = await fetcher.fetchFile(path, { checksum: SHA256 });
    expect(a.path).toBe(path);
    const b = await fetcher.fetchBytes(`file://${path}`);
    expect(Buffer.from(b).equals(BODY)).toBe(true);
    const err = await failure(fetcher.fetchFile(path, { checksum: '0'.repeat(128) }));
    expect(err.message).toMatch(/sha512 checksum mismatch/);
    expect(await fetcher.tryFetchBytes(join(cacheDir, 'missing'))).toBeNull();
  });

  it('rejects unsupported schemes and malformed checksums', async () => {
    expect((await failure(fetcher.fetchFile('ftp://example.org/x'))).message).toMatch(/unsupported URL scheme 'ftp:'/);
    expect((await failure(fetcher.fetchFile('/etc/hostname', { checksum: 'md5:abc' }))).message).toMatch(/unsupported checksum/);
  });
});
