// Reads one osinfo-db XML document (<libosinfo> holding <os> and <device> elements, schema
// /usr/share/osinfo/schema/osinfo.rng) into records. Only the untranslated <name> and
// <vendor> are kept: the xml:lang copies (most of the bytes) are dropped before parsing.
// The files come from the system package or from the administrator's and user's osinfo
// directories; a document that is not well-formed, or an <os>/<device> without an id or
// with a non-numeric resource, is an error naming the file, as libosinfo refuses such files.
// Other element types (platform, datamap, install-script, deployment) are skipped.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { DeviceRecord, OsDeviceLink, OsMediaRule, OsRecord, OsResources, OsResourceValues, OsTreeRule } from './records.js';

type Node = Record<string, unknown>;

export class OsinfoXmlError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

// Every element is an array, so a repeated element never changes the shape of the result.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (_name, _jpath, _leaf, isAttribute) => !isAttribute,
});

/** Translated copies of names: tsvirt prints the untranslated one, as virt-install does under C locale. */
const LOCALIZED = /<(name|vendor)\s+xml:lang="[^"]*">[^<]*<\/\1>/g;

function children(n: Node | undefined, key: string): Node[] {
  const v = n?.[key];
  return Array.isArray(v) ? v.map((x) => (typeof x === 'object' && x !== null ? (x as Node) : { '#text': x })) : [];
}

function textOf(n: Node): string | undefined {
  const t = n['#text'];
  return typeof t === 'string' ? t : typeof t === 'number' ? String(t) : undefined;
}

/** The first untranslated value of a text element. */
function text(n: Node | undefined, key: string): string | undefined {
  for (const c of children(n, key)) {
    if (c['@xml:lang'] === undefined) {
      const t = textOf(c);
      if (t !== undefined && t !== '') return t;
    }
  }
  return undefined;
}

function texts(n: Node, key: string): string[] {
  return children(n, key).flatMap((c) => (c['@xml:lang'] === undefined && textOf(c) ? [textOf(c) as string] : []));
}

function attr(n: Node, key: string): string | undefined {
  const v = n[`@${key}`];
  return typeof v === 'string' ? v : undefined;
}

function ids(n: Node, key: string): string[] {
  return children(n, key).flatMap((c) => (attr(c, 'id') ? [attr(c, 'id') as string] : []));
}

/** Drops undefined members so records (and the cache) stay small. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function count(file: string, n: Node | undefined, key: string): number | undefined {
  const t = text(n, key);
  if (t === undefined) return undefined;
  // Checked: a size or count from the file becomes a number only if it is a plain integer.
  if (!/^\d+$/.test(t)) throw new OsinfoXmlError(file, `<${key}> '${t}' is not a whole number`);
  return Number(t);
}

function resourceValues(file: string, n: Node | undefined): OsResourceValues | undefined {
  if (!n) return undefined;
  return compact({ ram: count(file, n, 'ram'), nCpus: count(file, n, 'n-cpus'), storage: count(file, n, 'storage'), cpuHz: count(file, n, 'cpu') });
}

function resources(file: string, n: Node): OsResources {
  return compact({
    arch: attr(n, 'arch') ?? 'all',
    inherit: attr(n, 'inherit') === 'true' ? (true as const) : undefined,
    minimum: resourceValues(file, children(n, 'minimum')[0]),
    recommended: resourceValues(file, children(n, 'recommended')[0]),
    maximum: resourceValues(file, children(n, 'maximum')[0]),
    networkInstall: resourceValues(file, children(n, 'network-install')[0]),
  });
}

function deviceLinks(os: Node): OsDeviceLink[] {
  return children(os, 'devices').flatMap((d) => children(d, 'device'))
    .flatMap((d) => (attr(d, 'id') ? [{ id: attr(d, 'id') as string, supported: attr(d, 'supported') !== 'false' }] : []));
}

function treeRule(n: Node): OsTreeRule {
  const ti = children(n, 'treeinfo')[0];
  return compact({
    arch: attr(n, 'arch') ?? 'all',
    family: text(ti, 'family'), version: text(ti, 'version'), variant: text(ti, 'variant'), treeArch: text(ti, 'arch'),
  });
}

function mediaRule(file: string, n: Node): OsMediaRule {
  const iso = children(n, 'iso')[0];
  return compact({
    arch: attr(n, 'arch') ?? 'all',
    volumeId: text(iso, 'volume-id'), systemId: text(iso, 'system-id'),
    publisherId: text(iso, 'publisher-id'), applicationId: text(iso, 'application-id'),
    volumeSize: count(file, iso, 'volume-size'),
    kernel: text(n, 'kernel'), initrd: text(n, 'initrd'),
    live: attr(n, 'live') === 'true' ? (true as const) : undefined,
  });
}

function osRecord(file: string, os: Node): OsRecord {
  const id = attr(os, 'id');
  if (!id) throw new OsinfoXmlError(file, '<os> without an id');
  return compact({
    id,
    shortIds: texts(os, 'short-id'),
    name: text(os, 'name'), version: text(os, 'version'), family: text(os, 'family'), distro: text(os, 'distro'),
    vendor: text(os, 'vendor'), codename: text(os, 'codename'),
    releaseDate: text(os, 'release-date'), eolDate: text(os, 'eol-date'), releaseStatus: text(os, 'release-status'),
    kernelUrlArgument: text(os, 'kernel-url-argument'),
    derivesFrom: ids(os, 'derives-from'), clones: ids(os, 'clones'), upgrades: ids(os, 'upgrades'),
    devices: deviceLinks(os),
    resources: children(os, 'resources').map((r) => resources(file, r)),
    // A <tree> without <treeinfo> only names a download URL; nothing to recognise a tree by.
    trees: children(os, 'tree').filter((t) => children(t, 'treeinfo').length > 0).map(treeRule),
    media: children(os, 'media').map((m) => mediaRule(file, m)),
  });
}

function deviceRecord(file: string, d: Node): DeviceRecord {
  const id = attr(d, 'id');
  if (!id) throw new OsinfoXmlError(file, '<device> without an id');
  return compact({ id, name: text(d, 'name'), class: text(d, 'class') });
}

/** The <os> and <device> records of one document; throws OsinfoXmlError when it is malformed. */
export function parseOsinfoXml(file: string, xml: string): { oses: OsRecord[]; devices: DeviceRecord[] } {
  const stripped = xml.replace(LOCALIZED, '');
  const valid = XMLValidator.validate(stripped);
  if (valid !== true) throw new OsinfoXmlError(file, `not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  const root = children(parser.parse(stripped) as Node, 'libosinfo')[0];
  if (!root) throw new OsinfoXmlError(file, 'no <libosinfo> root element');
  return {
    oses: children(root, 'os').map((o) => osRecord(file, o)),
    devices: children(root, 'device').map((d) => deviceRecord(file, d)),
  };
}

function unionBy<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): T[] {
  const out = new Map<string, T>();
  for (const x of a) out.set(key(x), x);
  // A later definition replaces an earlier one with the same key, keeping its place.
  for (const x of b) out.set(key(x), x);
  return [...out.values()];
}

/**
 * A second definition of the same OS id (an `X.d/` file adding to `X.xml`, or an override
 * under /etc/osinfo or the user's directory, read later): each fact it gives replaces the
 * earlier one; short ids and relations add up; devices and resources replace by id and arch.
 */
export function mergeOsRecords(earlier: OsRecord, later: OsRecord): OsRecord {
  const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
  return compact({
    ...earlier,
    ...later,
    shortIds: union(earlier.shortIds, later.shortIds),
    derivesFrom: union(earlier.derivesFrom, later.derivesFrom),
    clones: union(earlier.clones, later.clones),
    upgrades: union(earlier.upgrades, later.upgrades),
    devices: unionBy(earlier.devices, later.devices, (d) => d.id),
    resources: unionBy(earlier.resources, later.resources, (r) => r.arch),
    trees: [...earlier.trees, ...later.trees],
    media: [...earlier.media, ...later.media],
  });
}

export function mergeDeviceRecords(earlier: DeviceRecord, later: DeviceRecord): DeviceRecord {
  return { ...earlier, ...later };
}
