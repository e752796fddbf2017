// Where new disk images go and what they are called when the user names only the VM,
// as virt-install does: a per-user images directory (root: /var/lib/tsvirt/images, the
// tsvirt counterpart of /var/lib/libvirt/images; others: ~/.local/share/tsvirt/images),
// and NAME.EXT, then NAME-1.EXT, NAME-2.EXT ... for the first name not taken.
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import type { ImageFormat } from './open-image.js';

export function defaultImageDir(uid: number = process.getuid?.() ?? -1, home: string = os.homedir()): string {
  if (uid === 0) return '/var/lib/tsvirt/images';
  const dataHome = process.env.XDG_DATA_HOME && nodePath.isAbsolute(process.env.XDG_DATA_HOME) ? process.env.XDG_DATA_HOME : nodePath.join(home, '.local', 'share');
  return nodePath.join(dataHome, 'tsvirt', 'images');
}

/** The first of DIR/NAME.EXT, DIR/NAME-1.EXT, ... that neither exists nor is in `taken`. */
export function nextImagePath(dir: string, name: string, format: ImageFormat, taken: ReadonlySet<string> = new Set()): string {
  const ext = format === 'qcow2' ? 'qcow2' : 'img';
  for (let i = 0; ; i++) {
    const p = nodePath.join(dir, i === 0 ? `${name}.${ext}` : `${name}-${i}.${ext}`);
    if (!fs.existsSync(p) && !taken.has(p)) return p;
  }
}
