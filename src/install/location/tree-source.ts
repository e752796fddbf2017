// Where tree files come from: a local directory, an http(s) URL (through the Fetcher
// and its cache) or an ISO9660 image (read with the TypeScript reader and extracted
// into the cache; an http(s) URL ending in .iso is downloaded first). Every path is
// tree-relative and checked not to leave the tree.
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';
import type { Checksum } from '../fetch/checksum.js';
import { FetchNotFoundError, type Fetcher } from '../fetch/fetcher.js';
import { classifySource } from '../fetch/source-kind.js';
import { resolveNamedSource } from '../fetch/source-trust.js';
import { Iso9660Image } from '../iso9660/iso9660-image.js';
import { treeRelativePath } from './location-spec.js';
import type { TreeSourceKind } from './tree.js';

const SMALL_FILE_LIMIT_BYTES = 1024 * 1024;
/**
 * Limit for what materialize() fetches: kernels and initrds (an installer initrd is around
 * 100 MiB). Checked as bytes arrive, so an endless body stops here, not at the cache's 8 GiB.
 */
const BOOT_IMAGE_LIMIT_BYTES = 1024 * 1024 * 1024;
/**
 * And their overall deadline: the fetcher's minimum rate alone (1 KiB/s) would let a server
 * trickling just above it hold an install for days on a 1 GiB "kernel". 30 minutes fetch a
 * 100 MiB initrd at 60 KiB/s.
 */
const BOOT_IMAGE_DEADLINE_MS = 30 * 60_000;

export interface TreeSource {
  readonly kind: TreeSourceKind;
  /** The location as the user gave it (what inst.repo= points at for URLs). */
  readonly location: string;
  /** The content of a small file (.treeinfo, MANIFEST), or null when absent. */
  readSmall(path: string): Promise<string | null>;
  /** A local path holding the file, verified against `checksum` when given. */
  materialize(path: string, checksum?: Checksum): Promise<string>;
  /** Where a tree-relative path is, for messages. */
  describe(path: string): string;
  close(): Promise<void>;
}

/** Opens the right source for a location string. */
export async function openTreeSource(location: string, fetcher: Fetcher): Promise<TreeSource> {
  const src = classifySource(location);
  if (src.kind === 'http' && /\.iso$/i.test(new URL(src.url).pathname)) {
    // A remote ISO image is downloaded whole (into the cache) and read like a local one.
    const iso = await fetcher.fetchFile(src.url, { label: src.url.split('/').pop() });
    return IsoTreeSource.open(location, iso.path, fetcher.cacheDir);
  }
  if (src.kind === 'http') return new UrlTreeSource(src.url, fetcher);
  const st = await stat(src.path).catch(() => undefined);
  if (!st) throw new TsvirtError(`install location ${location} does not exist`, 'give a directory, an http(s) URL or an ISO image');
  if (st.isDirectory()) return new DirectoryTreeSource(location, resolve(src.path), fetcher);
  if (st.isFile()) return IsoTreeSource.open(location, resolve(src.path), fetcher.cacheDir);
  throw new TsvirtError(`install location ${location} is neither a directory nor a file`);
}

class DirectoryTreeSource implements TreeSource {
  readonly kind = 'directory';
  constructor(readonly location: string, private readonly root: string, private readonly fetcher: Fetcher) {}

  async readSmall(path: string): Promise<string | null> {
    const bytes = await this.fetcher.tryFetchBytes(join(this.root, treeRelativePath(path)), { maxBytes: SMALL_FILE_LIMIT_BYTES });
    return bytes === null ? null : Buffer.from(bytes).toString('utf8');
  }

  async materialize(path: string, checksum?: Checksum): Promise<string> {
    return (await this.fetcher.fetchFile(join(this.root, treeRelativePath(path)), { checksum, maxBytes: BOOT_IMAGE_LIMIT_BYTES, deadlineMs: BOOT_IMAGE_DEADLINE_MS })).path;
  }

  describe(path: string): string {
    return join(this.root, path);
  }

  async close(): Promise<void> {}
}

class UrlTreeSource implements TreeSource {
  readonly kind = 'url';
  private readonly base: string;
  constructor(readonly location: string, private readonly fetcher: Fetcher) {
    this.base = location.endsWith('/') ? location : `${location}/`;
  }

  private url(path: string): string {
    // A name from the tree's own .treeinfo or layout: confined to the tree (source-trust.ts).
    return resolveNamedSource({ source: this.base }, treeRelativePath(path), { within: this.base });
  }

  async readSmall(path: string): Promise<string | null> {
    const bytes = await this.fetcher.tryFetchBytes(this.url(path), { maxBytes: SMALL_FILE_LIMIT_BYTES });
    return bytes === null ? null : Buffer.from(bytes).toString('utf8');
  }

  async materialize(path: string, checksum?: Checksum): Promise<string> {
    return (await this.fetcher.fetchFile(this.url(path), { checksum, label: path.split('/').pop(), maxBytes: BOOT_IMAGE_LIMIT_BYTES, deadlineMs: BOOT_IMAGE_DEADLINE_MS })).path;
  }

  describe(path: string): string {
    return this.url(path);
  }

  async close(): Promise<void> {}
}

class IsoTreeSource implements TreeSource {
  readonly kind = 'iso';
  private constructor(readonly location: string, private readonly image: Iso9660Image, private readonly extractDir: string) {}

  static async open(location: string, path: string, cacheDir: string): Promise<IsoTreeSource> {
    const st = await stat(path);
    const image = await Iso9660Image.open(path);
    // One extraction directory per image identity, so a changed ISO never reuses old files.
    const id = createHash('sha256').update(`${path}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 32);
    return new IsoTreeSource(location, image, join(cacheDir, 'iso', id));
  }

  async readSmall(path: string): Promise<string | null> {
    const entry = await this.image.lookup(treeRelativePath(path));
    if (!entry || entry.isDirectory) return null;
    return Buffer.from(await this.image.readFile(treeRelativePath(path), SMALL_FILE_LIMIT_BYTES)).toString('utf8');
  }

  async materialize(path: string, checksum?: Checksum): Promise<string> {
    const rel = treeRelativePath(path);
    const entry = await this.image.lookup(rel);
    if (!entry || entry.isDirectory) throw new FetchNotFoundError(this.describe(rel), entry ? 'a directory, not a file' : 'no such file in the image');
    await mkdir(this.extractDir, { recursive: true });
    const out = join(this.extractDir, rel.replaceAll('/', '__'));
    const hash = checksum ? createHash(checksum.algorithm) : undefined;
    await this.image.extractTo(rel, `${out}.tmp`, (chunk) => hash?.update(chunk));
    if (checksum) {
      const actual = hash!.digest('hex');
      if (actual !== checksum.hex) {
        await rm(`${out}.tmp`, { force: true });
        throw new TsvirtError(`${checksum.algorithm} checksum mismatch for ${this.describe(rel)}: expected ${checksum.hex}, got ${actual}`);
      }
    }
    await rename(`${out}.tmp`, out);
    return out;
  }

  describe(path: string): string {
    return `${this.location}:/${path}`;
  }

  async close(): Promise<void> {
    await this.image.close();
  }
}
