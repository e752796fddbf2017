// What a tree's distro needs on the kernel command line, as virt-install adds it
// (virtinst/install/installertreemedia.py: for a network location it appends
// `<osinfo kernel-url-arg>=<location>`; libosinfo's kernel-url-arg is `inst.repo` for
// the Fedora/RHEL family and `install` for SUSE; Debian and Ubuntu have none). Local
// directories and ISOs get nothing: the installer cannot reach them over the network.
import type { TreeFamily, TreeSourceKind } from './tree.js';

const KERNEL_URL_ARG: Partial<Record<TreeFamily, string>> = {
  fedora: 'inst.repo',
  rhel: 'inst.repo',
  centos: 'inst.repo',
  rocky: 'inst.repo',
  alma: 'inst.repo',
  suse: 'install',
};

// What tsvirt's own installer (family tsvirt, templates/installer) always gets.
// cryptomgr.notests skips the kernel's boot-time self-tests of its crypto algorithms: the
// RSA and DH ones are bignum arithmetic, about 60% of the instructions a Debian kernel
// runs to reach user space (cloud kernel to /init on tsvirt's software CPU: 1.43 G with
// the tests, 0.54 G without), and the installer relies on none of it. The algorithms
// themselves stay available.
const FAMILY_ARGS: Partial<Record<TreeFamily, readonly string[]>> = {
  tsvirt: ['cryptomgr.notests'],
};

export function distroKernelArgs(family: TreeFamily, kind: TreeSourceKind, location: string): string[] {
  const always = [...(FAMILY_ARGS[family] ?? [])];
  const arg = KERNEL_URL_ARG[family];
  if (!arg || kind !== 'url') return always;
  return [...always, `${arg}=${location}`];
}

/** virt-install warns when a directory tree of an installer that needs a repo URL is used. */
export function needsNetworkRepo(family: TreeFamily): boolean {
  return KERNEL_URL_ARG[family] !== undefined;
}
