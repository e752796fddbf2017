// The part of libosinfo's database tsvirt keeps, as plain records (osinfo-db's XML schema,
// /usr/share/osinfo/schema/osinfo.rng): per OS its names, distro facts, relations, device
// links, resources and the rules that recognise its install trees and ISO media; per
// device its name and class. Records are what the XML says for one OS id, before any
// relation is followed (os-facts.ts resolves inheritance). Left out: variants, install
// scripts, images, drivers, firmware and platform/datamap files — nothing tsvirt uses.

/** One of <minimum>, <recommended>, <maximum>, <network-install>; bytes, Hz, counts. */
export interface OsResourceValues {
  readonly ram?: number;
  readonly nCpus?: number;
  readonly storage?: number;
  readonly cpuHz?: number;
}

/** A <resources arch=...> element; inherit="true" takes the derived-from OS's entry for this arch. */
export interface OsResources {
  readonly arch: string;
  readonly inherit?: true;
  readonly minimum?: OsResourceValues;
  readonly recommended?: OsResourceValues;
  readonly maximum?: OsResourceValues;
  readonly networkInstall?: OsResourceValues;
}

/** <devices><device id=... supported=.../></devices>; supported="false" hides an inherited device. */
export interface OsDeviceLink {
  readonly id: string;
  readonly supported: boolean;
}

/** A <tree>'s <treeinfo> rule: patterns for the [general] keys of a tree's .treeinfo. */
export interface OsTreeRule {
  readonly arch: string;
  readonly family?: string;
  readonly version?: string;
  readonly variant?: string;
  readonly treeArch?: string;
}

/** A <media>'s <iso> rule (patterns for the ISO9660 primary volume descriptor) and boot files. */
export interface OsMediaRule {
  readonly arch: string;
  readonly volumeId?: string;
  readonly systemId?: string;
  readonly publisherId?: string;
  readonly applicationId?: string;
  readonly volumeSize?: number;
  readonly kernel?: string;
  readonly initrd?: string;
  readonly live?: true;
}

export interface OsRecord {
  /** The full id, a URI (http://fedoraproject.org/fedora/37). */
  readonly id: string;
  /** Every <short-id>, in document order; the first is the OS's name in virt-install. */
  readonly shortIds: readonly string[];
  readonly name?: string;
  readonly version?: string;
  /** libosinfo's <family> (linux, winnt, freebsd...), not tsvirt's install family. */
  readonly family?: string;
  readonly distro?: string;
  readonly vendor?: string;
  readonly codename?: string;
  readonly releaseDate?: string;
  readonly eolDate?: string;
  readonly releaseStatus?: string;
  readonly kernelUrlArgument?: string;
  readonly derivesFrom: readonly string[];
  readonly clones: readonly string[];
  readonly upgrades: readonly string[];
  readonly devices: readonly OsDeviceLink[];
  readonly resources: readonly OsResources[];
  readonly trees: readonly OsTreeRule[];
  readonly media: readonly OsMediaRule[];
}

export interface DeviceRecord {
  readonly id: string;
  readonly name?: string;
  readonly class?: string;
}

/** Everything read from the osinfo directories, in load order. */
export interface OsinfoData {
  readonly oses: readonly OsRecord[];
  readonly devices: readonly DeviceRecord[];
}
