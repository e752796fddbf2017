// Where tsvirt puts the images it creates for `--disk size=N` without a path: for root
// /var/lib/tsvirt/images (virt-install's /var/lib/libvirt/images), for everyone else
// $XDG_DATA_HOME/tsvirt/images (default ~/.local/share, XDG Base Directory spec). The first
// disk of guest NAME is NAME.qcow2 (NAME.img when raw, as virt-install names raw images),
// then NAME-1.qcow2, NAME-2.qcow2 ... skipping files that exist or that another disk of
// the same guest already takes.
import { join } from 'node:path';
import type { DiskFormat } from './model.js';

export interface UserDirsEnv {
  readonly uid: number;
  readonly home: string;
  readonly xdgDataHome?: string;
  readonly xdgCacheHome?: string;
}

export const SYSTEM_IMAGE_DIR = '/var/lib/tsvirt/images';
export const SYSTEM_BOOT_DIR = '/var/lib/tsvirt/boot';

export function defaultImageDir(env: UserDirsEnv): string {
  if (env.uid === 0) return SYSTEM_IMAGE_DIR;
  return join(env.xdgDataHome || join(env.home, '.local', 'share'), 'tsvirt', 'images');
}

/** Where the kernel and initrd of a --location install are fetched to. */
export function defaultBootDir(env: UserDirsEnv): string {
  if (env.uid === 0) return SYSTEM_BOOT_DIR;
  return join(env.xdgCacheHome || join(env.home, '.cache'), 'tsvirt', 'boot');
}

export function imageExtension(format: DiskFormat): string {
  return format === 'raw' ? '.img' : '.qcow2';
}

export function defaultDiskPath(name: string, format: DiskFormat, dir: string, taken: (path: string) => boolean): string {
  const ext = imageExtension(format);
  for (let n = 0; ; n++) {
    const candidate = join(dir, `${name}${n === 0 ? '' : `-${n}`}${ext}`);
    if (!taken(candidate)) return candidate;
  }
}
