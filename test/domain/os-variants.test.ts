// templates/os-variants.yaml: the variants the issue asks for are there with sane
// numbers, lookup by id, alias and libosinfo URI, and suggestions for near misses.
import { describe, expect, it } from 'vitest';
import { findOsVariant, loadOsVariants } from '../../src/domain/index.js';
import { parseOsVariantsYaml, suggestOsVariants } from '../../src/domain/os-variants.js';

describe('os variants', () => {
  const variants = loadOsVariants();

  it('covers fedora 38-41, rhel/centos/rocky/alma 7-9, debian 10-12, ubuntu 20.04-24.04, alpine 3.x, linux2020/2022', () => {
    const ids = ['fedora38', 'fedora39', 'fedora40', 'fedora41', 'rhel7.9', 'rhel8.6', 'rhel9.0', 'centos7.0', 'centos8', 'centos-stream9',
      'rocky7', 'rocky8', 'rocky9', 'almalinux7', 'almalinux8', 'almalinux9', 'debian10', 'debian11', 'debian12', 'ubuntu20.04', 'ubuntu22.04', 'ubuntu24.04',
      'alpinelinux3.17', 'alpinelinux3.20', 'linux2020', 'linux2022'];
    for (const id of ids) expect(findOsVariant(id, variants).id).toBe(id);
  });

  it('has minimums at or below the recommended memory and known device models', () => {
    for (const v of variants) {
      expect(v.minMemoryMiB, v.id).toBeLessThanOrEqual(v.memoryMiB);
      expect(v.vcpus, v.id).toBeGreaterThanOrEqual(1);
      expect(v.diskGiB, v.id).toBeGreaterThan(0);
    }
    expect(new Set(variants.map((v) => v.id)).size).toBe(variants.length);
  });

  it('finds by alias and by libosinfo URI', () => {
    expect(findOsVariant('debianbookworm').id).toBe('debian12');
    expect(findOsVariant('http://rockylinux.org/rocky/9').id).toBe('rocky9');
  });

  it('suggests close names', () => {
    expect(suggestOsVariants('ubuntu24.4', variants)).toContain('ubuntu24.04');
    expect(suggestOsVariants('rockey9', variants)[0]).toBe('rocky9');
    expect(suggestOsVariants('plan9', variants)).toEqual([]);
  });

  it('rejects a malformed table', () => {
    expect(() => parseOsVariantsYaml('variants:\n  - { id: x, name: X, family: f, minMemoryMiB: 1, memoryMiB: 2, vcpus: 1, diskGiB: 1, diskBus: usb, nicModel: virtio, machine: q35, arch: x86_64 }\n')).toThrow(/bad or missing 'diskBus'/);
    expect(() => parseOsVariantsYaml('nothing: here\n')).toThrow(/no variants list/);
  });
});
