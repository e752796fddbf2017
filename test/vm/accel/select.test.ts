import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAccelerator, probeHost } from '../../../src/vm/accel/select.js';

describe('accelerator choice', () => {
  it.each([
    [undefined, { kvmDevice: true, hardwareVirt: true }, 'kvm', undefined],
    [undefined, { kvmDevice: true, hardwareVirt: false }, 'ts', /no hardware virtualization \(vmx\/svm\)/],
    [undefined, { kvmDevice: false, hardwareVirt: true }, 'ts', /KVM acceleration not available, using tsvirt's software CPU: \/dev\/kvm is missing or cannot be opened read-write/],
    ['kvm', { kvmDevice: false, hardwareVirt: false }, 'kvm', undefined],
    ['qemu', { kvmDevice: true, hardwareVirt: true }, 'ts', undefined],
  ] as const)('--virt-type %s on %o -> %s', (requested, probe, accelerator, note) => {
    const choice = chooseAccelerator(requested, probe);
    expect(choice.accelerator).toBe(accelerator);
    expect(choice.virtType).toBe(accelerator === 'kvm' ? 'kvm' : 'qemu');
    if (note) expect(choice.note).toMatch(note);
    else expect(choice.note).toBeUndefined();
  });

  it('probes the device and the CPU flags from the files it is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-probe-'));
    const cpuinfo = join(dir, 'cpuinfo');
    writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx sse2\n');
    expect(probeHost(join(dir, 'no-kvm'), cpuinfo)).toEqual({ kvmDevice: false, hardwareVirt: true });
    writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae sse2 hypervisor\n');
    const dev = join(dir, 'kvm');
    writeFileSync(dev, '');
    expect(probeHost(dev, cpuinfo)).toEqual({ kvmDevice: true, hardwareVirt: false });
  });
});
