// The kvm/qemu decision: kvm only when /dev/kvm opens read-write AND the CPU flags show
// VMX or SVM; --virt-type wins either way.
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectVirtType, probeHostVirt } from '../../src/domain/index.js';

const VMX = 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx ssse3\n';
const SVM = 'processor\t: 0\nflags\t\t: fpu svm lahf_lm\n';
const NONE = 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae ssse3 vmxx\n';

describe('detectVirtType', () => {
  it.each([
    [true, VMX, undefined, 'kvm'],
    [true, SVM, undefined, 'kvm'],
    [true, NONE, undefined, 'qemu'],
    [false, VMX, undefined, 'qemu'],
    [false, '', undefined, 'qemu'],
    [false, '', 'kvm', 'kvm'],
    [true, VMX, 'qemu', 'qemu'],
  ] as const)('kvm device usable=%s flags=%j requested=%s -> %s', (usable, cpuinfo, requested, want) => {
    expect(detectVirtType({ kvmDeviceUsable: usable, cpuinfo }, requested)).toBe(want);
  });

  it('probes the device by opening it read-write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-kvm-'));
    try {
      const dev = join(dir, 'kvm');
      const cpuinfo = join(dir, 'cpuinfo');
      writeFileSync(dev, '');
      writeFileSync(cpuinfo, VMX);
      expect(probeHostVirt(dev, cpuinfo)).toEqual({ kvmDeviceUsable: true, cpuinfo: VMX });
      expect(probeHostVirt(join(dir, 'missing'), join(dir, 'missing')).kvmDeviceUsable).toBe(false);
      chmodSync(dev, 0o444);
      // root opens read-only files for writing anyway; only check the refusal as a user.
      if (process.getuid?.() !== 0) expect(probeHostVirt(dev, cpuinfo).kvmDeviceUsable).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
