import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { buildTree } from '../../install/tree-build/build-tree.js';

export default class TreeBuild extends BaseCommand {
  static override summary = 'Build an offline install tree from a kernel, its modules, busybox and a root file system.';
  static override description =
    'Writes a tree that --location understands: .treeinfo (family tsvirt, sha256 checksums), images/pxeboot/vmlinuz and the installer initramfs images/pxeboot/initrd.img, and the --rootfs tarball as the default liveimg.';
  static override examples = [
    '<%= config.bin %> tree build --kernel /boot/vmlinuz-6.1.0-13-amd64 --modules /lib/modules --busybox /bin/busybox --rootfs rootfs.tar.gz --out ./tree',
  ];
  static override flags = {
    kernel: Flags.string({ required: true, description: 'The kernel (bzImage) to install and boot.' }),
    modules: Flags.string({ required: true, description: "The kernel's lib/modules directory (or lib/modules/RELEASE)." }),
    busybox: Flags.string({ required: true, description: 'A static busybox binary (Debian busybox-static).' }),
    'tools-root': Flags.string({
      multiple: true,
      default: ['/'],
      description: "Where to take mke2fs and the libraries it loads from, for ext3/ext4 in the installer: a root file system such as / (the default) or Debian's e2fsprogs packages unpacked with dpkg-deb -x (repeatable, searched in order). Without mke2fs the installer makes ext2, swap and vfat only.",
    }),
    rootfs: Flags.string({ description: 'A root file system tarball (.tar, .tar.gz, .tar.xz) the tree offers as its liveimg.' }),
    out: Flags.string({ required: true, description: 'The directory to write the tree to.' }),
    force: Flags.boolean({ description: 'Replace --out if it exists.', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TreeBuild);
    const tree = buildTree({ ...flags, toolRoots: flags['tools-root'] });
    this.log(`tree for kernel ${tree.kernelRelease} written to ${tree.dir}`);
    this.log(`installer modules: ${tree.modules.join(' ')}`);
    this.log(`installer file systems: ${tree.filesystems.join(' ')}${tree.mke2fsSource ? ` (mke2fs from ${tree.mke2fsSource})` : ` (no mke2fs in ${flags['tools-root'].join(', ')}: no ext3/ext4)`}`);
    if (tree.liveimg) this.log(`liveimg: ${tree.liveimg}`);
  }
}
