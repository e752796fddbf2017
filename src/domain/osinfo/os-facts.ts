// What an OS record means once its relations are followed, as libosinfo answers it:
//  - all devices: the OS's own device links, then those of the OSes it derives from and
//    clones, recursively (depth first, nearest first); the nearest link for a device id
//    decides, so supported="false" hides a device an ancestor supports (and a
//    supported="true" brings back one an ancestor hid);
//  - resources: an OS's own <resources> entries; one marked inherit="true" takes the
//    entry for the same arch from the OS it derives from. There is no implicit
//    inheritance: an OS without <resources> has none (383 such OSes in osinfo-db 20221203);
//  - kernel-url-argument: the OS's own, else the nearest one among those it derives from
//    or clones (in the order above).
// Relations may name ids the database lacks, or loop; both are tolerated.
import type { OsinfoDb } from './osinfo-db.js';
import type { DeviceRecord, OsRecord, OsResources, OsResourceValues } from './records.js';

/** The OS and every OS it derives from or clones, depth first, each once. */
export function ancestry(db: OsinfoDb, os: OsRecord): OsRecord[] {
  const seen = new Set<string>();
  const out: OsRecord[] = [];
  const visit = (o: OsRecord) => {
    if (seen.has(o.id)) return;
    seen.add(o.id);
    out.push(o);
    for (const id of [...o.derivesFrom, ...o.clones]) {
      const parent = db.os(id);
      if (parent) visit(parent);
    }
  };
  visit(os);
  return out;
}

/** The devices the OS supports, its own and inherited (libosinfo's get_all_devices). */
export function supportedDevices(db: OsinfoDb, os: OsRecord): DeviceRecord[] {
  const decided = new Map<string, boolean>();
  for (const o of ancestry(db, os)) {
    for (const link of o.devices) if (!decided.has(link.id)) decided.set(link.id, link.supported);
  }
  // A link to a device the database does not define still counts, by id alone.
  return [...decided].filter(([, supported]) => supported).map(([id]) => db.device(id) ?? { id });
}

/** The OS's resource entries with inherit="true" ones replaced by the parent's entry for that arch. */
export function resolvedResources(db: OsinfoDb, os: OsRecord, seen: ReadonlySet<string> = new Set()): OsResources[] {
  const out: OsResources[] = [];
  for (const r of os.resources) {
    if (!r.inherit) {
      out.push(r);
      continue;
    }
    const parent = os.derivesFrom.map((id) => db.os(id)).find((p) => p !== undefined && !seen.has(p.id));
    const inherited = parent ? resolvedResources(db, parent, new Set([...seen, os.id])).find((p) => p.arch === r.arch) : undefined;
    if (inherited) out.push({ ...inherited, arch: r.arch });
  }
  return out;
}

export function kernelUrlArgument(db: OsinfoDb, os: OsRecord): string | undefined {
  return ancestry(db, os).find((o) => o.kernelUrlArgument !== undefined)?.kernelUrlArgument;
}

export type ResourceKey = keyof OsResourceValues;

/** A value for the guest's arch, else the arch-independent one ("all"), as virt-install looks it up. */
function lookup(entries: readonly OsResources[], kind: 'minimum' | 'recommended', key: ResourceKey, arch: string): number | undefined {
  for (const a of [arch, 'all']) {
    // Of two entries for one arch, the later is the one that counts.
    const entry = entries.filter((e) => e.arch === a).at(-1);
    const v = entry?.[kind]?.[key];
    if (v !== undefined) return v > 0 ? v : undefined;
  }
  return undefined;
}

export function minimumResource(entries: readonly OsResources[], key: ResourceKey, arch: string): number | undefined {
  return lookup(entries, 'minimum', key, arch);
}

/** virt-install's recommended value: the recommended one, else twice the minimum. */
export function recommendedResource(entries: readonly OsResources[], key: ResourceKey, arch: string): number | undefined {
  const rec = lookup(entries, 'recommended', key, arch);
  if (rec !== undefined) return rec;
  const min = lookup(entries, 'minimum', key, arch);
  return min === undefined ? undefined : min * 2;
}
