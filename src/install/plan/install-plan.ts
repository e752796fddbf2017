// The install plan: the JSON document tsvirt's own installer follows, derived host-side
// from a validated kickstart and the real disks. Everything the installer would otherwise
// have to interpret is resolved here: which disk each partition goes on, partition
// sizes in MiB-aligned bytes, the partition table type, filesystems and mount points,
// password hashes (SHA-512 crypt, never plaintext), users, time zone, host name and
// network, the root filesystem source (liveimg), scripts and the final action.
// JSON-serialisable plain data; the version field changes when the shape does.
import type { Checksum } from '../fetch/checksum.js';

export const INSTALL_PLAN_VERSION = 1;

export type PartitionTableType = 'msdos' | 'gpt';

export interface PlannedPartition {
  /** 1-based partition number in the table. */
  readonly number: number;
  /** Mount point, or `swap`, `biosboot`, `none`. */
  readonly mountpoint: string;
  readonly fstype: string;
  readonly startBytes: number;
  readonly sizeBytes: number;
  readonly grow: boolean;
  readonly label?: string;
  readonly fsoptions?: string;
  readonly mkfsoptions?: string;
  /** MBR boot flag / the partition holding /boot (or / without one). */
  readonly bootable: boolean;
  /** Where in the kickstart it came from (`FILE:LINE`), or `autopart`/`reqpart`. */
  readonly origin: string;
}

export interface PlannedDisk {
  /** Guest device name (vda, sda). */
  readonly target: string;
  readonly sizeBytes: number;
  readonly partitionTable: PartitionTableType;
  readonly partitions: readonly PlannedPartition[];
}

export interface PlannedUser {
  readonly name: string;
  /** crypt(3) hash, or null for no password. */
  readonly passwordHash: string | null;
  readonly locked: boolean;
  readonly groups: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  readonly gecos?: string;
  readonly homedir?: string;
  readonly shell?: string;
}

export interface PlannedNetwork {
  readonly device?: string;
  readonly bootproto: string;
  readonly ip?: string;
  readonly netmask?: string;
  readonly gateway?: string;
  readonly nameservers: readonly string[];
  readonly hostname?: string;
  readonly onboot: boolean;
  readonly activate: boolean;
  readonly ipv6?: string;
  readonly mtu?: number;
}

export type PlannedSource =
  | { readonly kind: 'liveimg'; readonly url: string; readonly checksum?: Checksum; readonly proxy?: string; readonly noverifyssl: boolean }
  | { readonly kind: 'url'; readonly url?: string; readonly mirrorlist?: string; readonly metalink?: string; readonly proxy?: string; readonly noverifyssl: boolean }
  | { readonly kind: 'none' };

export interface PlannedScript {
  readonly kind: 'pre' | 'pre-install' | 'post' | 'onerror' | 'traceback';
  readonly interpreter: string;
  readonly nochroot: boolean;
  readonly erroronfail: boolean;
  readonly log?: string;
  readonly body: string;
  readonly origin: string;
}

export interface InstallPlan {
  readonly version: typeof INSTALL_PLAN_VERSION;
  readonly kickstart: string;
  readonly disks: readonly PlannedDisk[];
  readonly bootloader: {
    readonly disabled: boolean;
    readonly location: string;
    /** Extra kernel arguments for the installed system. */
    readonly append: string;
    readonly timeoutSeconds?: number;
    readonly bootDrive?: string;
  };
  readonly root: { readonly passwordHash: string | null; readonly locked: boolean; readonly allowSsh: boolean };
  readonly users: readonly PlannedUser[];
  readonly groups: readonly { readonly name: string; readonly gid?: number }[];
  readonly sshKeys: readonly { readonly user: string; readonly key: string }[];
  readonly lang?: string;
  readonly keyboard?: { readonly vckeymap?: string; readonly xlayouts: readonly string[] };
  readonly timezone?: { readonly name?: string; readonly utc: boolean; readonly ntp: boolean; readonly ntpServers: readonly string[] };
  readonly hostname?: string;
  readonly network: readonly PlannedNetwork[];
  readonly source: PlannedSource;
  readonly packages?: {
    readonly packages: readonly string[];
    readonly groups: readonly string[];
    readonly excludedPackages: readonly string[];
    readonly excludedGroups: readonly string[];
  };
  readonly selinux?: 'enforcing' | 'permissive' | 'disabled';
  readonly firewall?: { readonly enabled: boolean; readonly services: readonly string[]; readonly ports: readonly string[] };
  readonly services: { readonly enabled: readonly string[]; readonly disabled: readonly string[] };
  readonly scripts: readonly PlannedScript[];
  readonly finalAction: { readonly action: 'reboot' | 'poweroff' | 'halt' | 'shutdown'; readonly eject: boolean };
  /** Things the plan decided that the user may want to know. */
  readonly notes: readonly string[];
}
