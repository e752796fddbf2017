// libosinfo's OS database as virt-install sees it, read from osinfo-db's XML. Locations
// are read in libosinfo's order, each later one overriding the earlier: the system
// directory ($OSINFO_SYSTEM_DIR, else /usr/share/osinfo, Debian package osinfo-db), the
// administrator's ($OSINFO_LOCAL_DIR, else /etc/osinfo) and the user's ($OSINFO_USER_DIR,
// else $XDG_CONFIG_HOME/osinfo). Within the locations, a file at the same relative path
// replaces the earlier one; a second definition of the same OS or device id (an `X.d/`
// directory next to `X.xml`, or another file) merges into the first (osinfo-xml.ts).
// Only device/ and os/ are read. Parsing ~800 files takes a few hundred milliseconds, so
// the records are kept in a JSON cache (db-cache.ts) and read from there while nothing in
// the locations changed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { TsvirtError } from '../../lib/errors.js';
import { collectStamps, defaultOsinfoCacheFile, osinfoCacheKey, readOsinfoCache, writeOsinfoCache } from './db-cache.js';
import { mergeDeviceRecords, mergeOsRecords, OsinfoXmlError, parseOsinfoXml } from './osinfo-xml.js';
import type { DeviceRecord, OsinfoData, OsRecord } from './records.js';

export const OSINFO_DEBIAN_PACKAGE = 'osinfo-db';

export interface OsinfoLocations {
  readonly system: string;
  readonly local: string;
  readonly user: string;
}

/** libosinfo's default path (osinfo_loader_process_default_path), with its environment overrides. */
export function defaultOsinfoLocations(env: NodeJS.ProcessEnv = process.env): OsinfoLocations {
  return {
    system: env.OSINFO_SYSTEM_DIR || '/usr/share/osinfo',
    local: env.OSINFO_LOCAL_DIR || '/etc/osinfo',
    user: env.OSINFO_USER_DIR || (env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'osinfo') : envPaths('osinfo', { suffix: '' }).config),
  };
}

/** The entity kinds tsvirt reads, in the order libosinfo loads them (devices before the OSes naming them). */
const SUBDIRS = ['device', 'os'] as const;

/** The XML files of one location, keyed by their path relative to it; X.xml before X.d/. */
function xmlFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const files = entries.filter((e) => e.isFile() && e.name.endsWith('.xml')).map((e) => e.name).sort();
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    for (const f of files) out.set(`${rel}/${f}`, join(dir, f));
    for (const d of dirs) walk(join(dir, d), `${rel}/${d}`);
  };
  for (const sub of SUBDIRS) walk(join(root, sub), sub);
  return out;
}

/** osinfo-db's VERSION file (a date, 20221203 in Debian 12's package), if there is one. */
export function readOsinfoVersion(system: string): string | undefined {
  try {
    return readFileSync(join(system, 'VERSION'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function missingDb(system: string, why: string): TsvirtError {
  return new TsvirtError(
    `libosinfo's OS database is missing: ${why} ${system}`,
    `install the Debian package ${OSINFO_DEBIAN_PACKAGE} (apt-get install ${OSINFO_DEBIAN_PACKAGE}), or point OSINFO_SYSTEM_DIR at an osinfo-db directory`,
  );
}

/** Reads and merges the XML of all locations (the slow path; the cache skips it). */
export function readOsinfoXml(locations: OsinfoLocations): OsinfoData {
  let systemStat;
  try {
    systemStat = statSync(locations.system);
  } catch {
    throw missingDb(locations.system, 'no directory');
  }
  if (!systemStat.isDirectory()) throw missingDb(locations.system, 'not a directory:');
  // Later locations replace files with the same relative path.
  const files = new Map<string, { path: string; system: boolean }>();
  for (const [i, root] of [locations.system, locations.local, locations.user].entries()) {
    for (const [rel, path] of xmlFiles(root)) {
      files.delete(rel);
      files.set(rel, { path, system: i === 0 });
    }
  }
  const oses = new Map<string, OsRecord>();
  const devices = new Map<string, DeviceRecord>();
  let systemOses = 0;
  // Map order is load order: system files first, then what /etc and the user add or replace.
  for (const { path, system } of files.values()) {
    let doc;
    try {
      doc = parseOsinfoXml(path, readFileSync(path, 'utf8'));
    } catch (err) {
      const detail = err instanceof OsinfoXmlError ? err.message : `${path}: ${(err as Error).message}`;
      throw system
        ? new TsvirtError(`libosinfo's OS database is damaged: ${detail}`, `reinstall the Debian package ${OSINFO_DEBIAN_PACKAGE} (apt-get install --reinstall ${OSINFO_DEBIAN_PACKAGE})`)
        : new TsvirtError(`libosinfo data file is damaged: ${detail}`, 'fix or remove the file');
    }
    for (const d of doc.devices) devices.set(d.id, devices.has(d.id) ? mergeDeviceRecords(devices.get(d.id) as DeviceRecord, d) : d);
    for (const o of doc.oses) {
      oses.set(o.id, oses.has(o.id) ? mergeOsRecords(oses.get(o.id) as OsRecord, o) : o);
      if (system) systemOses++;
    }
  }
  if (systemOses === 0) throw missingDb(locations.system, 'no OS definitions (os/*/*.xml) under');
  return { oses: [...oses.values()], devices: [...devices.values()] };
}

/** The loaded database: records by full id and by every short id, devices by id. */
export class OsinfoDb {
  private readonly byId = new Map<string, OsRecord>();
  private readonly byShort = new Map<string, OsRecord>();
  private readonly deviceById = new Map<string, DeviceRecord>();

  constructor(readonly data: OsinfoData, readonly version?: string) {
    for (const os of data.oses) {
      this.byId.set(os.id, os);
      // The first OS in load order keeps a short id that two OSes share, as a libosinfo
      // short-id filter's first element would.
      for (const s of os.shortIds) if (!this.byShort.has(s)) this.byShort.set(s, os);
    }
    for (const d of data.devices) this.deviceById.set(d.id, d);
  }

  get oses(): readonly OsRecord[] {
    return this.data.oses;
  }

  os(id: string): OsRecord | undefined {
    return this.byId.get(id);
  }

  osByShortId(shortId: string): OsRecord | undefined {
    return this.byShort.get(shortId);
  }

  device(id: string): DeviceRecord | undefined {
    return this.deviceById.get(id);
  }
}

export interface LoadOsinfoOptions {
  readonly locations?: OsinfoLocations;
  /** The cache file; null reads the XML every time. Defaults to the user's cache directory. */
  readonly cacheFile?: string | null;
}

export interface LoadedOsinfo {
  readonly db: OsinfoDb;
  readonly fromCache: boolean;
}

/** Loads the database, from the cache when its key still matches the locations. */
export function loadOsinfo(opts: LoadOsinfoOptions = {}): LoadedOsinfo {
  const locations = opts.locations ?? defaultOsinfoLocations();
  const cacheFile = opts.cacheFile === undefined ? defaultOsinfoCacheFile() : opts.cacheFile;
  const version = readOsinfoVersion(locations.system);
  const key = osinfoCacheKey(locations, version);
  if (cacheFile) {
    const cached = readOsinfoCache(cacheFile, key);
    if (cached) return { db: new OsinfoDb(cached, version), fromCache: true };
  }
  // Stamped before reading: a file changed while it is read makes the next run read again.
  const stamps = cacheFile ? collectStamps(locations) : [];
  const data = readOsinfoXml(locations);
  if (cacheFile) writeOsinfoCache(cacheFile, key, stamps, data);
  return { db: new OsinfoDb(data, version), fromCache: false };
}

let processDb: OsinfoDb | undefined;

/** The database of this process's default locations, loaded once. */
export function defaultOsinfoDb(): OsinfoDb {
  processDb ??= loadOsinfo().db;
  return processDb;
}
