// What an install location resolves to: a kernel and an initrd on the local disk, the
// distro family and version they came from, and the kernel arguments the distro needs
// (what virt-install adds, see kernel-args.ts). Plain data, JSON-serialisable.

export type TreeFamily =
  | 'fedora' | 'rhel' | 'centos' | 'rocky' | 'alma' | 'suse'
  | 'debian' | 'ubuntu' | 'tsvirt' | 'treeinfo' | 'custom';

export type TreeSourceKind = 'directory' | 'url' | 'iso';

export interface Tree {
  /** Local path of the kernel (inside the download cache for remote and ISO sources). */
  readonly kernel: string;
  readonly initrd: string;
  readonly family: TreeFamily;
  /** Human-readable distro name as the tree states it ("Fedora", "Debian"). */
  readonly distroName: string;
  readonly version?: string;
  readonly arch?: string;
  readonly source: { readonly kind: TreeSourceKind; readonly location: string };
  /** Arguments the tree's distro needs on the kernel command line. */
  readonly kernelArgs: readonly string[];
  /** tsvirt trees: the root filesystem image the installer copies (liveimg). */
  readonly liveimg?: string;
  /** tsvirt trees: the file system types the tree's installer can make. */
  readonly installerFilesystems?: readonly string[];
  /** Non-fatal observations (e.g. a directory tree with no network repo for the installer). */
  readonly notes: readonly string[];
}
