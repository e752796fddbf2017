// Partition layout: places partition requests on real disks the way anaconda's
// kickstart partitioning does for plain partitions — fixed sizes first, then the space
// left shared among --grow partitions in proportion to their sizes, each capped at its
// --maxsize — with every partition starting and ending on a MiB boundary (the first at
// 1 MiB). MBR (msdos) tables hold at most four primary partitions and address 2 TiB;
// GPT keeps its backup header and entries (33 sectors, UEFI 2.10 §5.3) free at the end.
// Leaves out extended/logical partitions, LVM, RAID and existing partitions.
import { TsvirtError } from '../../lib/errors.js';
import type { PartitionTableType, PlannedDisk, PlannedPartition } from './install-plan.js';

export const MIB = 1024 * 1024;
export const MBR_MAX_DISK_BYTES = 2 ** 32 * 512; // 32-bit LBA of 512-byte sectors: 2 TiB
const GPT_BACKUP_BYTES = 33 * 512;
const MBR_MAX_PRIMARY = 4;

export interface PartitionRequest {
  readonly mountpoint: string;
  readonly fstype: string;
  readonly baseMiB: number;
  readonly grow: boolean;
  readonly maxMiB?: number;
  readonly disk: string;
  readonly label?: string;
  readonly fsoptions?: string;
  readonly mkfsoptions?: string;
  readonly origin: string;
}

export interface DiskInfo {
  readonly target: string;
  readonly sizeBytes: number;
  readonly partitionTable: PartitionTableType;
}

function usableMiB(disk: DiskInfo): number {
  const endBytes = disk.partitionTable === 'gpt' ? disk.sizeBytes - GPT_BACKUP_BYTES : Math.min(disk.sizeBytes, MBR_MAX_DISK_BYTES);
  return Math.max(0, Math.floor(endBytes / MIB) - 1);
}

/** Shares `leftMiB` among growing requests, proportionally to their base size, capped by maxMiB. */
function grow(sizes: number[], reqs: readonly PartitionRequest[], leftMiB: number): void {
  let left = leftMiB;
  const room = (i: number): number => (reqs[i].maxMiB === undefined ? Infinity : reqs[i].maxMiB! - sizes[i]);
  let active = reqs.map((_, i) => i).filter((i) => reqs[i].grow && room(i) > 0);
  while (left > 0 && active.length > 0) {
    const weight = (i: number): number => Math.max(reqs[i].baseMiB, 1);
    const total = active.reduce((s, i) => s + weight(i), 0);
    let given = 0;
    for (const i of active) {
      const add = Math.min(Math.floor((left * weight(i)) / total), room(i));
      sizes[i] += add;
      given += add;
    }
    left -= given;
    active = active.filter((i) => room(i) > 0);
    if (given === 0) {
      // Shares rounded down to nothing: hand out the last MiBs one by one, in order.
      for (const i of active) {
        if (left === 0) break;
        sizes[i] += 1;
        left -= 1;
      }
      active = active.filter((i) => room(i) > 0);
    }
  }
}

export function layoutDisk(disk: DiskInfo, reqs: readonly PartitionRequest[]): PlannedDisk {
  if (disk.partitionTable === 'msdos' && reqs.length > MBR_MAX_PRIMARY) {
    throw new TsvirtError(
      `${reqs.length} partitions on ${disk.target} do not fit an MBR partition table (at most ${MBR_MAX_PRIMARY}; logical partitions are not supported yet)`,
      'use clearpart --disklabel=gpt',
    );
  }
  const available = usableMiB(disk);
  const sizes = reqs.map((r) => Math.max(r.baseMiB, 1));
  const fixed = sizes.reduce((a, b) => a + b, 0);
  if (fixed > available) {
    throw new TsvirtError(
      `the partitions for ${disk.target} need ${fixed} MiB but ${disk.target} has only ${available} MiB usable (disk of ${disk.sizeBytes} bytes)`,
      'make the disk bigger or the partitions smaller',
    );
  }
  grow(sizes, reqs, available - fixed);
  // The boot flag goes on /boot, or on / when there is no separate /boot.
  const bootPartition = reqs.findIndex((r) => r.mountpoint === '/boot');
  const bootAt = bootPartition >= 0 ? bootPartition : reqs.findIndex((r) => r.mountpoint === '/');
  let startMiB = 1;
  const partitions: PlannedPartition[] = reqs.map((r, i) => {
    const p: PlannedPartition = {
      number: i + 1,
      mountpoint: r.mountpoint,
      fstype: r.fstype,
      startBytes: startMiB * MIB,
      sizeBytes: sizes[i] * MIB,
      grow: r.grow,
      label: r.label,
      fsoptions: r.fsoptions,
      mkfsoptions: r.mkfsoptions,
      bootable: i === bootAt,
      origin: r.origin,
    };
    startMiB += sizes[i];
    return p;
  });
  return { target: disk.target, sizeBytes: disk.sizeBytes, partitionTable: disk.partitionTable, partitions };
}
