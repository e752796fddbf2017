// The fetcher: one interface for http(s) URLs, file:// URLs and plain paths, built on
// got 14. HTTP downloads go through the DownloadCache (revalidated with If-None-Match /
// If-Modified-Since, RFC 9110 §13.1), are retried with backoff on 5xx, timeouts and
// connection resets, resume with Range/If-Range (RFC 9110 §14.2, §13.1.5) when a
// partial body was kept, stop at a size limit, follow a limited number of redirects,
// and are verified against a sha256/sha512 digest before they enter the cache (a
// mismatch leaves nothing behind). Leaves out ftp:// and nfs: (tsvirt cannot mount).
import { open, readFile, stat } from 'node:fs/promises';
import type { Response } from 'got';
import { TsvirtError } from '../../lib/errors.js';
import { type Checksum, hashFile, parseChecksum } from './checksum.js';
import { DownloadCache, defaultCacheDir } from './download-cache.js';
import { checkRedirect } from './source-trust.js';
import { classifySource } from './source-kind.js';
import { type ProgressSink, silentProgress } from './progress.js';

export interface FetchOptions {
  /** Expected digest (`sha256:HEX`, `sha512:HEX`, or parsed). */
  readonly checksum?: Checksum | string;
  /** Refuse bodies larger than this. */
  readonly maxBytes?: number;
  /** What the progress output calls this download. */
  readonly label?: string;
  /** The whole fetch, retries included, must end within this (default: none for files, 60 s for small resources). */
  readonly deadlineMs?: number;
}

export interface FetchedFile {
  /** Local path of the content (the cache entry, or the file itself for local sources). */
  readonly path: string;
  readonly sizeBytes: number;
  readonly source: string;
  readonly fromCache: boolean;
}

export interface Fetcher {
  readonly cacheDir: string;
  /** Makes `source` available as a local file (downloading into the cache when remote). */
  fetchFile(source: string, opts?: FetchOptions): Promise<FetchedFile>;
  /** Reads a small resource whole (kickstarts, .treeinfo). */
  fetchBytes(source: string, opts?: FetchOptions): Promise<Uint8Array>;
  /** As fetchBytes, but null when the resource does not exist (HTTP 404/410, ENOENT). */
  tryFetchBytes(source: string, opts?: FetchOptions): Promise<Uint8Array | null>;
}

export interface FetcherOptions {
  /** Defaults to env-paths('tsvirt').cache + '/downloads'. */
  readonly cacheDir?: string;
  /** Extra attempts after the first, for retryable failures. */
  readonly retries?: number;
  /** Delay before retry number `attempt` (1-based). */
  readonly backoffMs?: (attempt: number) => number;
  /** Time allowed for a response to start and between body chunks. */
  readonly timeoutMs?: number;
  readonly maxRedirects?: number;
  /** Size limit for fetchFile when the caller gives none. */
  readonly defaultMaxBytes?: number;
  /**
   * A body arriving slower than this many bytes per second, measured over each window of
   * `timeoutMs`, is abandoned (curl's --speed-limit/--speed-time): a server trickling a
   * byte at a time can otherwise keep every per-read timeout happy for ever.
   */
  readonly minBytesPerSecond?: number;
  /** Overall deadline of fetchBytes (kickstarts, .treeinfo) when the caller gives none; 60 s. */
  readonly smallResourceDeadlineMs?: number;
  readonly progress?: ProgressSink;
}

/** Raised when a resource does not exist, so probing callers can tell it from failure. */
export class FetchNotFoundError extends TsvirtError {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`, 'check the URL or path');
  }
}

/** A failure worth another attempt (5xx, reset, timeout, short body). */
class RetryableError extends Error {}

const SMALL_RESOURCE_LIMIT_BYTES = 16 * 1024 * 1024;
/** Overall deadline for small resources (kickstarts, .treeinfo, layout probes). */
const SMALL_RESOURCE_DEADLINE_MS = 60_000;
const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
const DEFAULT_LIMIT_BYTES = 8 * 1024 * 1024 * 1024;
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED',
]);

export function defaultBackoffMs(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 8000);
}

export function createFetcher(options: FetcherOptions = {}): Fetcher {
  return new GotFetcher(options);
}

class GotFetcher implements Fetcher {
  readonly cacheDir: string;
  private readonly cache: DownloadCache;
  private readonly retries: number;
  private readonly backoffMs: (attempt: number) => number;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly defaultMaxBytes: number;
  private readonly minBytesPerSecond: number;
  private readonly smallResourceDeadlineMs: number;
  private readonly progress: ProgressSink;

  constructor(o: FetcherOptions) {
    this.cacheDir = o.cacheDir ?? defaultCacheDir();
    this.cache = new DownloadCache(this.cacheDir);
    this.retries = o.retries ?? 3;
    this.backoffMs = o.backoffMs ?? defaultBackoffMs;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.maxRedirects = o.maxRedirects ?? 5;
    this.defaultMaxBytes = o.defaultMaxBytes ?? DEFAULT_LIMIT_BYTES;
    this.minBytesPerSecond = o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
    this.smallResourceDeadlineMs = o.smallResourceDeadlineMs ?? SMALL_RESOURCE_DEADLINE_MS;
    this.progress = o.progress ?? silentProgress;
  }

  async fetchFile(source: string, opts: FetchOptions = {}): Promise<FetchedFile> {
    const src = classifySource(source);
    const checksum = opts.checksum === undefined ? undefined : typeof opts.checksum === 'string' ? parseChecksum(opts.checksum) : opts.checksum;
    const maxBytes = opts.maxBytes ?? this.defaultMaxBytes;
    if (src.kind === 'file') return this.localFile(source, src.path, maxBytes, checksum);
    return this.httpFile(src.url, maxBytes, checksum, opts.label ?? src.url, opts.deadlineMs);
  }

  async fetchBytes(source: string, opts: FetchOptions = {}): Promise<Uint8Array> {
    const limited = { ...opts, maxBytes: opts.maxBytes ?? SMALL_RESOURCE_LIMIT_BYTES, deadlineMs: opts.deadlineMs ?? this.smallResourceDeadlineMs };
    const file = await this.fetchFile(source, limited);
    return new Uint8Array(await readFile(file.path));
  }

  async tryFetchBytes(source: string, opts: FetchOptions = {}): Promise<Uint8Array | null> {
    try {
      return await this.fetchBytes(source, opts);
    } catch (err) {
      if (err instanceof FetchNotFoundError) return null;
      throw err;
    }
  }

  private async localFile(source: string, path: string, maxBytes: number, checksum?: Checksum): Promise<FetchedFile> {
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new FetchNotFoundError(source, 'no such file');
      throw new TsvirtError(`cannot read ${source}: ${err.message}`);
    });
    if (!st.isFile()) throw new TsvirtError(`${source} is not a regular file`);
    if (st.size > maxBytes) throw sizeLimitError(source, maxBytes);
    if (checksum) {
      const actual = await hashFile(path, checksum.algorithm);
      if (actual !== checksum.hex) throw checksumError(source, checksum, actual);
    }
    return { path, sizeBytes: st.size, source, fromCache: false };
  }

  private async httpFile(url: string, maxBytes: number, checksum: Checksum | undefined, label: string, deadlineMs?: number): Promise<FetchedFile> {
    await this.cache.ensureDir();
    const deadline = deadlineMs === undefined ? undefined : { at: Date.now() + deadlineMs, ms: deadlineMs };
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs(attempt));
      if (deadline && Date.now() >= deadline.at) break;
      try {
        return await this.attempt(url, maxBytes, checksum, label, deadline);
      } catch (err) {
        if (!isRetryable(err)) throw toUserError(url, err, this.maxRedirects);
        lastError = err;
      }
    }
    if (deadline && Date.now() >= deadline.at) {
      throw new TsvirtError(`fetching ${url} did not finish within its deadline of ${deadline.ms / 1000} s`, 'check the server; it is answering too slowly');
    }
    // A partial body stays in the cache: the next run resumes it with Range.
    throw new TsvirtError(
      `fetching ${url} failed after ${this.retries + 1} attempt${this.retries === 0 ? '' : 's'}: ${describeCause(lastError)}`,
      'check the server and try again',
    );
  }

  private async attempt(url: string, maxBytes: number, checksum: Checksum | undefined, label: string, deadline?: { at: number; ms: number }): Promise<FetchedFile> {
    const cached = await this.cache.lookup(url);
    const partial = await this.cache.partial(url);
    const headers: Record<string, string> = {};
    let offset = 0;
    if (partial && partial.sizeBytes > 0 && (partial.meta.etag || partial.meta.lastModified)) {
      // A strong validator lets the server tell us whether the bytes we kept still match.
      offset = partial.sizeBytes;
      headers.range = `bytes=${offset}-`;
      headers['if-range'] = partial.meta.etag ?? partial.meta.lastModified!;
    } else if (cached) {
      if (cached.etag) headers['if-none-match'] = cached.etag;
      if (cached.lastModified) headers['if-modified-since'] = cached.lastModified;
    }

    // got is loaded on the first HTTP fetch: commands that read local files never pay for it.
    const { default: got } = await import('got');
    let refusedRedirect: TsvirtError | undefined;
    const request = got.stream(url, {
      headers,
      retry: { limit: 0 },
      timeout: { lookup: this.timeoutMs, connect: this.timeoutMs, response: this.timeoutMs, socket: this.timeoutMs },
      maxRedirects: this.maxRedirects,
      // Each hop is checked against the trust boundary before got follows it.
      // A refused hop ends the request with the 3xx response, which receive() turns into
      // this error.
      followRedirect: (response) => {
        try {
          checkRedirect(response.url, headerString(response.headers.location) ?? '');
          return true;
        } catch (err) {
          refusedRedirect = err as TsvirtError;
          return false;
        }
      },
      decompress: false,
      throwHttpErrors: false,
    });
    // The overall deadline and the minimum rate end the request from outside: a trickling
    // server satisfies every per-read timeout.
    const minRate = this.minBytesPerSecond;
    const windowMs = this.timeoutMs;
    // The rate is measured once the body starts: before that, got's response timeout rules.
    let windowStart = Infinity;
    let windowBytes = 0;
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (deadline && now >= deadline.at) {
        request.destroy(new TsvirtError(`fetching ${url} did not finish within its deadline of ${deadline.ms / 1000} s`, 'check the server; it is answering too slowly'));
      } else if (now - windowStart >= Math.max(windowMs, 1000)) {
        const rate = (windowBytes * 1000) / (now - windowStart);
        if (rate < minRate) {
          request.destroy(new TsvirtError(`${url} arrives too slowly (${rate.toFixed(1)} bytes/s over ${((now - windowStart) / 1000).toFixed(0)} s, below ${minRate} bytes/s)`, 'check the server or the network'));
        }
        windowStart = now;
        windowBytes = 0;
      }
    }, Math.min(1000, windowMs));
    watchdog.unref();
    try {
      const body = {
        started: () => (windowStart = Date.now()),
        bytes: (n: number) => (windowBytes += n),
        refusedRedirect: () => refusedRedirect,
      };
      return await this.receive(request, url, maxBytes, checksum, label, cached, offset, body);
    } finally {
      clearInterval(watchdog);
    }
  }

  private async receive(
    request: ReturnType<typeof import('got').default.stream>, url: string, maxBytes: number, checksum: Checksum | undefined, label: string,
    cached: Awaited<ReturnType<DownloadCache['lookup']>>, offset: number, body: { started: () => void; bytes: (n: number) => void; refusedRedirect: () => TsvirtError | undefined },
  ): Promise<FetchedFile> {
    const response = await new Promise<Response>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    body.started();
    // From here on the request may still error while we read; keep a handler attached.
    request.on('error', () => {});

    const status = response.statusCode;
    const refused = body.refusedRedirect();
    if (refused) {
      request.destroy();
      throw refused;
    }
    if (status === 304 && cached) {
      request.destroy();
      const path = this.cache.dataPath(url);
      if (checksum) await this.verifyOrDrop(url, path, checksum);
      return { path, sizeBytes: cached.sizeBytes, source: url, fromCache: true };
    }
    if (status === 404 || status === 410) {
      request.destroy();
      throw new FetchNotFoundError(url, `HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    }
    if (status >= 500) {
      request.destroy();
      throw new RetryableError(`HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    }
    if (status !== 200 && status !== 206) {
      request.destroy();
      throw new TsvirtError(`${url}: HTTP ${status} ${response.statusMessage ?? ''}`.trim(), 'check the URL');
    }

    // 206 must continue exactly where our part ends; anything else restarts from zero.
    let append = false;
    let total: number | undefined;
    const contentLength = headerNumber(response.headers['content-length']);
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(response.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== offset) {
        request.destroy();
        await this.cache.dropPart(url);
        throw new RetryableError('server answered a Range request with a mismatching Content-Range');
      }
      append = true;
      total = range[3] === '*' ? undefined : Number(range[3]);
    } else {
      offset = 0;
      total = contentLength;
    }
    if (total !== undefined && total > maxBytes) {
      request.destroy();
      await this.cache.dropPart(url);
      throw sizeLimitError(url, maxBytes);
    }
    const etag = headerString(response.headers.etag);
    const lastModified = headerString(response.headers['last-modified']);
    await this.cache.writePartMeta({ url, etag, lastModified, totalBytes: total });

    const partPath = this.cache.partPath(url);
    const fh = await open(partPath, append ? 'a' : 'w');
    let received = offset;
    this.progress.start(label, total);
    try {
      for await (const chunk of request as AsyncIterable<Buffer>) {
        received += chunk.length;
        body.bytes(chunk.length);
        if (received > maxBytes) {
          request.destroy();
          await fh.close();
          await this.cache.dropPart(url);
          throw sizeLimitError(url, maxBytes);
        }
        await fh.write(chunk);
        this.progress.update(received);
      }
    } finally {
      await fh.close().catch(() => {});
    }
    if (total !== undefined && received !== total) {
      // A body that ended early is kept for a Range resume on the next attempt.
      throw new RetryableError(`body ended after ${received} of ${total} bytes`);
    }
    this.progress.done(received);

    if (checksum) {
      const actual = await hashFile(partPath, checksum.algorithm);
      if (actual !== checksum.hex) {
        await this.cache.drop(url);
        throw checksumError(url, checksum, actual);
      }
    }
    const path = await this.cache.commit({ url, etag, lastModified, sizeBytes: received });
    return { path, sizeBytes: received, source: url, fromCache: false };
  }

  private async verifyOrDrop(url: string, path: string, checksum: Checksum): Promise<void> {
    const actual = await hashFile(path, checksum.algorithm);
    if (actual !== checksum.hex) {
      await this.cache.drop(url);
      throw checksumError(url, checksum, actual);
    }
  }
}

/** Our own error that ended a request (the deadline, the minimum rate), which got wraps. */
function ownCause(err: unknown): TsvirtError | undefined {
  if (err instanceof TsvirtError) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof TsvirtError ? cause : undefined;
}

function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (ownCause(err)) return false;
  const e = err as { name?: string; code?: string };
  if (e.name === 'MaxRedirectsError') return false;
  if (e.name === 'TimeoutError') return true;
  return e.code !== undefined && RETRYABLE_CODES.has(e.code);
}

function toUserError(url: string, err: unknown, maxRedirects: number): Error {
  const own = ownCause(err);
  if (own) return own;
  const e = err as { name?: string; message?: string };
  if (e.name === 'MaxRedirectsError') {
    return new TsvirtError(`too many redirects fetching ${url} (more than ${maxRedirects})`, 'check the URL');
  }
  return new TsvirtError(`fetching ${url} failed: ${describeCause(err)}`);
}

function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function sizeLimitError(source: string, maxBytes: number): TsvirtError {
  return new TsvirtError(`${source} is larger than the limit of ${maxBytes} bytes`, 'check the URL or raise the limit');
}

function checksumError(source: string, expected: Checksum, actual: string): TsvirtError {
  return new TsvirtError(
    `${expected.algorithm} checksum mismatch for ${source}: expected ${expected.hex}, got ${actual}`,
    'the file is corrupt or not the one expected; nothing was cached',
  );
}

function headerNumber(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

