// virt-install's rule for the name of a guest given no --name (virtinst Guest.generate_name).
import { describe, expect, it } from 'vitest';
import { generateDomainName } from '../../src/domain/generate-name.js';

const host = { arch: 'x86_64', hostArch: 'x86_64' };

describe('generateDomainName', () => {
  it('takes the short id, then -2, -3 ... past names in use', () => {
    const used = new Set(['fedora37', 'fedora37-2']);
    expect(generateDomainName('fedora37', { ...host, taken: () => false })).toBe('fedora37');
    expect(generateDomainName('fedora37', { ...host, taken: (n) => used.has(n) })).toBe('fedora37-3');
  });

  it('drops -unknown, counts the generic OS from vm1, and names another architecture', () => {
    expect(generateDomainName('rhel-unknown', { ...host, taken: () => false })).toBe('rhel');
    expect(generateDomainName('generic', { ...host, taken: (n) => n === 'vm1' })).toBe('vm2');
    expect(generateDomainName('debian11', { arch: 'i686', hostArch: 'x86_64', taken: () => false })).toBe('debian11-i686');
    expect(generateDomainName('generic', { arch: 'i686', hostArch: 'x86_64', taken: (n) => n === 'vm-i686' })).toBe('vm-i686-2');
  });
});
