// Booting an installed guest from its own disk without firmware, as Xen's pygrub does:
// read the partition table, look in each ext2/3/4 partition (or the whole disk when it
// has none) for a boot configuration, and return the kernel, initrds and command line
// it names. Searched, in order, on each file system: /boot/extlinux/extlinux.conf,
// /extlinux/extlinux.conf (a separate /boot partition), /boot/extlinux.conf,
// /extlinux.conf, then BLS entries in /boot/loader/entries and /loader/entries.
import { TsvirtError } from '../../lib/errors.js';
import type { BlockDevice } from '../../storage/block-device.js';
import { Ext4Reader } from '../../storage/ext4/ext4-reader.js';
import { readPartitionTable } from '../../storage/partition/partition-table.js';
import { chooseExtlinuxEntry, newestBlsEntry, parseBlsEntry, parseExtlinuxConf, parseGrubenv, type BootEntry } from './boot-config.js';

const EXTLINUX_PATHS = ['/boot/extlinux/extlinux.conf', '/extlinux/extlinux.conf', '/boot/extlinux.conf', '/extlinux.conf'];
const BLS_DIRS = ['/boot/loader/entries', '/loader/entries'];
const GRUBENV_PATHS = ['/boot/grub2/grubenv', '/grub2/grubenv', '/boot/grub/grubenv', '/grub/grubenv'];
const MAX_KERNEL_BYTES = 256 * 1024 * 1024;
const MAX_INITRD_BYTES = 1024 * 1024 * 1024;

export interface DiskBoot {
  kernel: Uint8Array;
  /** The initrds concatenated, as a boot loader loads several. */
  initrd?: Uint8Array;
  cmdline: string;
  /** Where it was found, for messages: "partition 1: /extlinux/extlinux.conf (linux)". */
  source: string;
}

interface Candidate {
  fs: Ext4Reader;
  where: string;
}

function fileSystems(disk: BlockDevice): Candidate[] {
  const table = readPartitionTable(disk);
  const spans = table.partitions.length
    ? table.partitions.map((p) => ({ where: `partition ${p.number}`, start: p.startBytes, size: p.sizeBytes }))
    : [{ where: 'the whole disk', start: 0, size: disk.size }];
  const out: Candidate[] = [];
  for (const span of spans) {
    try {
      out.push({ fs: Ext4Reader.open(disk, span.start, span.size), where: span.where });
    } catch (err) {
      // Swap and other file systems are not boot candidates; anything that claims to be
      // ext4 but is broken surfaces when nothing bootable is found at all.
      if (!(err instanceof TsvirtError)) throw err;
    }
  }
  return out;
}

function findEntry(c: Candidate): { entry: BootEntry; source: string } | undefined {
  for (const path of EXTLINUX_PATHS) {
    if (!c.fs.exists(path)) continue;
    const cfg = parseExtlinuxConf(Buffer.from(c.fs.readFile(path, 1024 * 1024)).toString('utf8'), path);
    const entry = chooseExtlinuxEntry(cfg, path);
    return { entry, source: `${c.where}: ${path} (${entry.title})` };
  }
  for (const dir of BLS_DIRS) {
    if (!c.fs.exists(dir)) continue;
    const grubenvPath = GRUBENV_PATHS.find((p) => c.fs.exists(p));
    const vars = grubenvPath ? parseGrubenv(Buffer.from(c.fs.readFile(grubenvPath, 64 * 1024)).toString('utf8')) : {};
    const entries = c.fs
      .readDir(dir)
      .filter((e) => e.name.endsWith('.conf') && e.type !== 'directory')
      .map((e) =>
        parseBlsEntry(Buffer.from(c.fs.readFile(`${dir}/${e.name}`, 64 * 1024)).toString('utf8'), `${dir}/${e.name}`, dir.replace(/\/?loader\/entries$/, '') || '/', vars),
      );
    const entry = newestBlsEntry(entries);
    if (entry) return { entry, source: `${c.where}: ${dir} (${entry.title})` };
  }
  return undefined;
}

/**
 * Reads a file named by a boot entry. A config on a separate /boot partition often still
 * says /boot/vmlinuz (the path as seen from the installed system), so /boot/X is also
 * tried as /X.
 */
function readBootFile(fs: Ext4Reader, path: string, maxBytes: number): Uint8Array {
  if (fs.exists(path)) return fs.readFile(path, maxBytes);
  const alt = path.replace(/^\/boot(?=\/)/, '');
  if (alt !== path && fs.exists(alt)) return fs.readFile(alt, maxBytes);
  throw new TsvirtError(`the boot entry names ${path}, which is not on the disk`);
}

export function findDiskBoot(disk: BlockDevice): DiskBoot {
  const candidates = fileSystems(disk);
  for (const c of candidates) {
    const found = findEntry(c);
    if (!found) continue;
    const { entry, source } = found;
    const kernel = readBootFile(c.fs, entry.kernel, MAX_KERNEL_BYTES);
    const initrds = entry.initrd.map((p) => readBootFile(c.fs, p, MAX_INITRD_BYTES));
    const initrd = initrds.length ? Buffer.concat(initrds) : undefined;
    return { kernel, initrd: initrd && new Uint8Array(initrd), cmdline: entry.append, source };
  }
  throw new TsvirtError(
    `no boot configuration found on the disk (looked on ${candidates.length} ext2/3/4 file system(s) for ${[...EXTLINUX_PATHS, ...BLS_DIRS].join(', ')})`,
    'install a kernel with /boot/extlinux/extlinux.conf or BLS entries, or boot with --boot kernel=,initrd=',
  );
}
