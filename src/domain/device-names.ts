// Guest device names for disks, assigned the way virt-install assigns them
// (virtinst DeviceDisk.generate_target): each bus has a prefix (virtio vd, sata and scsi sd,
// ide hd, fdc fd), names the user chose are reserved first, then every other disk, in
// command-line order, takes the name after the highest one taken (see nextTarget). Names
// count a..z, aa..az, ... as libvirt's virDiskNameToIndex does.
import { TsvirtError } from '../lib/errors.js';
import type { DiskBus } from './model.js';

export const TARGET_PREFIX: Readonly<Record<DiskBus, string>> = { virtio: 'vd', sata: 'sd', scsi: 'sd', ide: 'hd', fdc: 'fd' };

/** Per-bus limits of what the controller can hold (IDE: 2 channels x 2; floppy: 2 drives). */
const MAX_TARGETS: Readonly<Record<DiskBus, number>> = { virtio: 26 * 27, sata: 26 * 27, scsi: 26 * 27, ide: 4, fdc: 2 };

export function targetName(prefix: string, index: number): string {
  let suffix = '';
  let i = index;
  do {
    suffix = String.fromCharCode(97 + (i % 26)) + suffix;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return prefix + suffix;
}

export interface TargetRequest {
  readonly bus: DiskBus;
  readonly targetDev?: string;
}

/** Returns the target name of every disk, in order; throws on duplicates or a full bus. */
export function assignTargets(disks: readonly TargetRequest[]): string[] {
  const used = new Set<string>();
  for (const d of disks) {
    if (d.targetDev === undefined) continue;
    if (used.has(d.targetDev)) throw new TsvirtError(`duplicate disk target '${d.targetDev}'`, 'give each --disk a different target.dev');
    used.add(d.targetDev);
  }
  return disks.map((d) => {
    if (d.targetDev !== undefined) return d.targetDev;
    const name = nextTarget(TARGET_PREFIX[d.bus], MAX_TARGETS[d.bus], used);
    if (name === undefined) throw new TsvirtError(`no free target name on the ${d.bus} bus`, `the ${d.bus} bus holds at most ${MAX_TARGETS[d.bus]} disks; use bus=virtio`);
    used.add(name);
    return name;
  });
}

/**
 * virt-install's choice: the first name after every name already taken on this prefix
 * (so a new disk goes after vdc, not into the gap at vda); the first gap only when the
 * names after are exhausted.
 */
function nextTarget(prefix: string, max: number, used: ReadonlySet<string>): string | undefined {
  const pending = new Set([...used].filter((t) => t.startsWith(prefix)));
  let firstFree: string | undefined;
  for (let i = 0; i < max; i++) {
    const name = targetName(prefix, i);
    if (pending.delete(name)) continue;
    if (pending.size === 0) return name;
    firstFree ??= name;
  }
  return firstFree;
}
