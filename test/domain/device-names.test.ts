// Disk target names as virt-install assigns them (virtinst DeviceDisk.generate_target).
import { describe, expect, it } from 'vitest';
import { assignTargets, targetName } from '../../src/domain/device-names.js';
import { describeError } from '../../src/lib/errors.js';

describe('disk target names', () => {
  it('counts like libvirt: a..z, aa..', () => {
    expect([0, 25, 26, 27, 51, 52, 701].map((i) => targetName('vd', i))).toEqual(['vda', 'vdz', 'vdaa', 'vdab', 'vdaz', 'vdba', 'vdzz']);
  });

  it.each([
    ['per-bus prefixes', [{ bus: 'virtio' }, { bus: 'sata' }, { bus: 'scsi' }, { bus: 'ide' }, { bus: 'fdc' }, { bus: 'virtio' }], ['vda', 'sda', 'sdb', 'hda', 'fda', 'vdb']],
    ['after the highest taken name, not into the gap', [{ bus: 'virtio', targetDev: 'vdc' }, { bus: 'virtio' }, { bus: 'virtio' }], ['vdc', 'vdd', 'vde']],
    ['explicit names are reserved before others are given', [{ bus: 'virtio' }, { bus: 'virtio', targetDev: 'vda' }], ['vdb', 'vda']],
    ['the first gap once the bus is full', [{ bus: 'ide', targetDev: 'hdd' }, { bus: 'ide' }], ['hdd', 'hda']],
  ] as const)('%s', (_what, disks, want) => {
    expect(assignTargets(disks)).toEqual(want);
  });

  it('refuses duplicates and a full bus', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return describeError(e);
      }
      return 'no error';
    };
    expect(err(() => assignTargets([{ bus: 'virtio', targetDev: 'vdb' }, { bus: 'sata', targetDev: 'vdb' }]))).toBe("duplicate disk target 'vdb'; give each --disk a different target.dev");
    expect(err(() => assignTargets([{ bus: 'fdc' }, { bus: 'fdc' }, { bus: 'fdc' }]))).toBe('no free target name on the fdc bus; the fdc bus holds at most 2 disks; use bus=virtio');
  });
});
