// The JSON cache of the osinfo records (env-paths('tsvirt').cache/osinfo-db.json), so a
// tsvirt-install run reads one file instead of parsing ~800 XML documents. It is valid
// while its key (cache format, the three locations, osinfo-db's VERSION) matches and
// the directories and files it was built from keep their mtime and size (collectStamps):
// adding, removing or renaming a file changes its directory's mtime, so stat'ing the
// recorded paths notices new, removed and replaced files. A cache that does not
// parse or has the wrong shape is ignored and rebuilt; one that cannot be written is
// skipped (the next run parses the XML again).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import envPaths from 'env-paths';
import type { OsinfoLocations } from './osinfo-db.js';
import type { OsinfoData } from './records.js';

/** Bumped whenever the records' shape or meaning changes, so an old cache is rebuilt. */
const CACHE_FORMAT = 1;

/** [path, mtimeMs, size]; mtimeMs -1 records a location that did not exist. */
export type Stamp = readonly [string, number, number];

interface CacheFile {
  readonly format: number;
  readonly key: string;
  readonly stamps: readonly Stamp[];
  readonly data: OsinfoData;
}

export function defaultOsinfoCacheFile(): string {
  return join(envPaths('tsvirt', { suffix: '' }).cache, 'osinfo-db.json');
}

export function osinfoCacheKey(locations: OsinfoLocations, version: string | undefined): string {
  return JSON.stringify([CACHE_FORMAT, locations.system, locations.local, locations.user, version ?? null]);
}

function stampOf(path: string): Stamp {
  try {
    const st = statSync(path);
    return [path, st.mtimeMs, st.isDirectory() ? 0 : st.size];
  } catch {
    return [path, -1, 0];
  }
}

/**
 * The stamps a cache is checked against: every location root and directory below device/
 * and os/, and the XML files of /etc/osinfo and the user's directory. The system
 * directory's files are left out (~800 stats on every run): dpkg installs each file by
 * renaming it into place, which changes its directory's mtime, and VERSION is in the key.
 */
export function collectStamps(locations: OsinfoLocations): Stamp[] {
  const out: Stamp[] = [];
  const walk = (dir: string, withFiles: boolean) => {
    const s = stampOf(dir);
    out.push(s);
    if (s[1] < 0) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name), withFiles);
      else if (withFiles && e.name.endsWith('.xml')) out.push(stampOf(join(dir, e.name)));
    }
  };
  for (const root of [locations.system, locations.local, locations.user]) {
    const s = stampOf(root);
    out.push(s);
    if (s[1] >= 0) for (const sub of ['device', 'os']) walk(join(root, sub), root !== locations.system);
  }
  return out;
}

const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObjectArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'object' && x !== null);

/** Enough of a shape check that a damaged or foreign file is rebuilt instead of trusted. */
function looksLikeData(d: unknown): d is OsinfoData {
  if (typeof d !== 'object' || d === null) return false;
  const { oses, devices } = d as { oses?: unknown; devices?: unknown };
  if (!Array.isArray(oses) || oses.length === 0 || !isObjectArray(devices)) return false;
  return oses.every((o: Record<string, unknown>) => typeof o === 'object' && o !== null && typeof o.id === 'string'
    && isStringArray(o.shortIds) && isStringArray(o.derivesFrom) && isStringArray(o.clones) && isStringArray(o.upgrades)
    && isObjectArray(o.devices) && isObjectArray(o.resources) && isObjectArray(o.trees) && isObjectArray(o.media))
    && (devices as Record<string, unknown>[]).every((x) => typeof x.id === 'string');
}

/** The cached records, or undefined when there is no usable cache for this key and these files. */
export function readOsinfoCache(file: string, key: string): OsinfoData | undefined {
  let parsed: CacheFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.format !== CACHE_FORMAT || parsed.key !== key || !Array.isArray(parsed.stamps)) return undefined;
  for (const s of parsed.stamps) {
    if (!Array.isArray(s) || typeof s[0] !== 'string') return undefined;
    const now = stampOf(s[0]);
    if (now[1] !== s[1] || now[2] !== s[2]) return undefined;
  }
  return looksLikeData(parsed.data) ? parsed.data : undefined;
}

/** Writes the cache atomically (temporary file, then rename); failure only costs speed. */
export function writeOsinfoCache(file: string, key: string, stamps: readonly Stamp[], data: OsinfoData): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ format: CACHE_FORMAT, key, stamps, data } satisfies CacheFile));
    renameSync(tmp, file);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The directory itself is unusable; there is no temporary file to remove.
    }
  }
}
