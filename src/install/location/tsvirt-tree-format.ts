// tsvirt's own install trees (written by `tsvirt tree build`, read by resolveLocation).
// The format is a .treeinfo in the productmd-compatible INI layout:
//
//   [general]
//   family = tsvirt                 ; required, exactly "tsvirt"
//   version = 1                     ; the tree's version (free text)
//   arch = x86_64                   ; required
//   name = tsvirt 1                 ; optional display name
//   [images-x86_64]
//   kernel = images/pxeboot/vmlinuz ; required, tree-relative
//   initrd = images/pxeboot/initrd.img ; required, tree-relative
//   liveimg = images/rootfs.tar.gz  ; optional: the root filesystem the installer copies
//   installer_filesystems = ext2 swap vfat ext3 ext4 ; what the installer can make
//                                   ; (absent in older trees: ext2 and swap)
//   [checksums]
//   images/pxeboot/vmlinuz = sha256:HEX     ; required for kernel and initrd
//   images/pxeboot/initrd.img = sha256:HEX  ; (and liveimg when given)
//
// Unlike distro trees, a tsvirt tree must carry a sha256 (or sha512) for every image it
// names: the tree builder knows them, so a tree without them is damaged.

export const TSVIRT_TREE_FAMILY = 'tsvirt';
export const TSVIRT_TREE_KERNEL = 'images/pxeboot/vmlinuz';
export const TSVIRT_TREE_INITRD = 'images/pxeboot/initrd.img';
/** What the installer of a tree built before installer_filesystems existed can make. */
export const TSVIRT_TREE_LEGACY_FILESYSTEMS: readonly string[] = ['ext2', 'swap'];

/** Reads installer_filesystems from a tsvirt tree's [images-ARCH] section. */
export function treeInstallerFilesystems(images: Readonly<Record<string, string>> | undefined): readonly string[] {
  const listed = images?.installer_filesystems?.split(/[\s,]+/).filter(Boolean);
  return listed && listed.length > 0 ? listed : TSVIRT_TREE_LEGACY_FILESYSTEMS;
}

export interface TsvirtTreeInfo {
  readonly version: string;
  readonly arch: string;
  readonly name?: string;
  readonly kernel?: string;
  readonly initrd?: string;
  readonly liveimg?: string;
  /** File system types the tree's installer can make (kickstart --fstype names). */
  readonly installerFilesystems?: readonly string[];
  /** Tree-relative path -> `sha256:HEX`. */
  readonly checksums: Readonly<Record<string, string>>;
}

/** Renders the .treeinfo text of a tsvirt tree (for the tree builder). */
export function renderTsvirtTreeInfo(t: TsvirtTreeInfo): string {
  const lines = ['[general]', `family = ${TSVIRT_TREE_FAMILY}`, `version = ${t.version}`, `arch = ${t.arch}`];
  if (t.name) lines.push(`name = ${t.name}`);
  lines.push('', `[images-${t.arch}]`, `kernel = ${t.kernel ?? TSVIRT_TREE_KERNEL}`, `initrd = ${t.initrd ?? TSVIRT_TREE_INITRD}`);
  if (t.liveimg) lines.push(`liveimg = ${t.liveimg}`);
  if (t.installerFilesystems) lines.push(`installer_filesystems = ${t.installerFilesystems.join(' ')}`);
  lines.push('', '[checksums]');
  for (const [path, sum] of Object.entries(t.checksums)) lines.push(`${path} = ${sum}`);
  return `${lines.join('\n')}\n`;
}
