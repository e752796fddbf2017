// Debian and Ubuntu installer layouts, as virt-install's urldetect recognises them:
// a netboot tree marked by a MANIFEST mentioning the distro (at current/images/,
// current/legacy-images/ or daily/ under .../main/installer-ARCH/, or under
// main/installer-amd64/ of a dists/SUITE/ location), with the kernel at
// PREFIX/netboot/DISTRO-installer/ARCH/linux and initrd.gz beside it; and install
// media (.disk/info naming the distro) with install.amd/vmlinuz + initrd.gz (Debian
// x86_64) or install/vmlinuz + initrd.gz (Ubuntu's legacy installer). Leaves out
// s390x/ppc64el/xen variants and Ubuntu live-server (casper) media.
import type { TreeFamily } from './tree.js';
import type { TreeSource } from './tree-source.js';

export interface DebianLayout {
  readonly family: Extract<TreeFamily, 'debian' | 'ubuntu'>;
  readonly kernel: string;
  readonly initrd: string;
  readonly version?: string;
  readonly arch: string;
}

const MANIFEST_PREFIXES = ['current/images', 'current/legacy-images', 'daily'];

/** Every file this module probes, for the "unknown layout" error. */
export const DEBIAN_PROBED_FILES = [
  ...MANIFEST_PREFIXES.map((p) => `${p}/MANIFEST`),
  'main/installer-amd64/current/images/MANIFEST',
  '.disk/info',
];

function mentions(content: string): 'debian' | 'ubuntu' | undefined {
  const lines = content.split('\n');
  if (lines.some((l) => /[Uu]buntu/.test(l))) return 'ubuntu';
  if (lines.some((l) => /[Dd]ebian/.test(l))) return 'debian';
  return undefined;
}

/** virt-install takes the Debian arch from `installer-ARCH` or `daily-images/ARCH` in the URL. */
function archFromLocation(location: string): string {
  const m = /installer-(\w+)\/?$/.exec(location) ?? /daily-images\/(\w+)\/?$/.exec(location);
  if (m) return m[1];
  for (const a of ['amd64', 'i386', 'arm64']) if (location.includes(a)) return a;
  // tsvirt runs x86_64 guests, so amd64 (not virt-install's i386) is the fallback.
  return 'amd64';
}

export async function detectDebianLayout(source: TreeSource): Promise<DebianLayout | undefined> {
  for (const [base, prefix] of [
    ...MANIFEST_PREFIXES.map((p) => ['', p] as const),
    ['main/installer-amd64/', 'current/images'] as const,
  ]) {
    const manifest = await source.readSmall(`${base}${prefix}/MANIFEST`);
    if (manifest === null) continue;
    const family = mentions(manifest);
    if (!family) continue;
    const arch = base === '' ? archFromLocation(source.location) : 'amd64';
    const dir = `${base}${prefix}/netboot/${family}-installer/${arch}`;
    return { family, arch, kernel: `${dir}/linux`, initrd: `${dir}/initrd.gz` };
  }
  const info = await source.readSmall('.disk/info');
  if (info !== null) {
    const family = /^Ubuntu/.test(info) ? 'ubuntu' : /^Debian/.test(info) ? 'debian' : undefined;
    if (!family) return undefined;
    const version = /(\d+(?:\.\d+)*)/.exec(info)?.[1];
    if (source.kind === 'url') {
      // An install ISO exported over HTTP: virt-install uses its netboot kernels.
      const arch = archFromLocation(source.location);
      const dir = `install/netboot/${family}-installer/${arch}`;
      return { family, arch, version, kernel: `${dir}/linux`, initrd: `${dir}/initrd.gz` };
    }
    const dir = family === 'ubuntu' ? 'install' : 'install.amd';
    return { family, arch: 'amd64', version, kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.gz` };
  }
  return undefined;
}
