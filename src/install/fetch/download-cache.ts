// The download cache: one entry per URL under the user's cache directory
// (env-paths('tsvirt').cache/downloads), keyed by the SHA-256 of the URL so no
// server-chosen name ever becomes a path. An entry is `KEY.data` plus `KEY.json`
// (the validators from RFC 9110 §8.8: ETag and Last-Modified, used for revalidation);
// an interrupted download is `KEY.part` plus `KEY.part.json` (the validator that makes
// a Range resume safe, RFC 9110 §13.1.5 If-Range). Leaves out eviction.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import envPaths from 'env-paths';

export interface CacheMeta {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly sizeBytes: number;
}

export interface PartMeta {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly totalBytes?: number;
}

export function defaultCacheDir(): string {
  return join(envPaths('tsvirt', { suffix: '' }).cache, 'downloads');
}

export class DownloadCache {
  constructor(readonly dir: string) {}

  key(url: string): string {
    return createHash('sha256').update(url).digest('hex').slice(0, 40);
  }

  dataPath(url: string): string {
    return join(this.dir, `${this.key(url)}.data`);
  }

  partPath(url: string): string {
    return join(this.dir, `${this.key(url)}.part`);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** The complete entry for a URL, or undefined when there is none (or it is damaged). */
  async lookup(url: string): Promise<CacheMeta | undefined> {
    const meta = await readJson<CacheMeta>(join(this.dir, `${this.key(url)}.json`));
    if (!meta || meta.url !== url) return undefined;
    const st = await stat(this.dataPath(url)).catch(() => undefined);
    // A data file whose size disagrees with its record is not trusted.
    if (!st || st.size !== meta.sizeBytes) return undefined;
    return meta;
  }

  async partial(url: string): Promise<{ meta: PartMeta; sizeBytes: number } | undefined> {
    const meta = await readJson<PartMeta>(join(this.dir, `${this.key(url)}.part.json`));
    if (!meta || meta.url !== url) return undefined;
    const st = await stat(this.partPath(url)).catch(() => undefined);
    if (!st) return undefined;
    return { meta, sizeBytes: st.size };
  }

  async writePartMeta(meta: PartMeta): Promise<void> {
    await writeFile(join(this.dir, `${this.key(meta.url)}.part.json`), JSON.stringify(meta));
  }

  /** Moves a finished part into place as the entry for its URL. */
  async commit(meta: CacheMeta): Promise<string> {
    const key = this.key(meta.url);
    await rename(this.partPath(meta.url), this.dataPath(meta.url));
    await writeFile(join(this.dir, `${key}.json`), JSON.stringify(meta));
    await rm(join(this.dir, `${key}.part.json`), { force: true });
    return this.dataPath(meta.url);
  }

  async dropPart(url: string): Promise<void> {
    const key = this.key(url);
    await rm(this.partPath(url), { force: true });
    await rm(join(this.dir, `${key}.part.json`), { force: true });
  }

  async drop(url: string): Promise<void> {
    const key = this.key(url);
    await rm(this.dataPath(url), { force: true });
    await rm(join(this.dir, `${key}.json`), { force: true });
    await this.dropPart(url);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
