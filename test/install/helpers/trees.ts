// Builds small install trees on disk for location tests (fake kernel/initrd bytes).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function writeTreeFile(root: string, rel: string, content: string | Uint8Array): string {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

export function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

export const KERNEL = 'kernel bytes \x01\x02';
export const INITRD = 'initrd bytes \x03\x04';

/** A Fedora-style .treeinfo tree with checksums. */
export function writeFedoraTree(root: string, opts: { family?: string; badChecksum?: boolean } = {}): void {
  writeTreeFile(root, 'images/pxeboot/vmlinuz', KERNEL);
  writeTreeFile(root, 'images/pxeboot/initrd.img', INITRD);
  writeTreeFile(
    root,
    '.treeinfo',
    [
      '[header]',
      'type = productmd.treeinfo',
      'version = 1.2',
      '[general]',
      `family = ${opts.family ?? 'Fedora'}`,
      'version = 41',
      'arch = x86_64',
      'name = Fedora 41',
      '[tree]',
      'arch = x86_64',
      '[images-x86_64]',
      'kernel = images/pxeboot/vmlinuz',
      'initrd = images/pxeboot/initrd.img',
      '[checksums]',
      `images/pxeboot/vmlinuz = sha256:${opts.badChecksum ? '0'.repeat(64) : sha256(KERNEL)}`,
      `images/pxeboot/initrd.img = sha256:${sha256(INITRD)}`,
      '',
    ].join('\n'),
  );
}
