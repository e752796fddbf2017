// The install payload the host hands the guest installer as a read-only virtio disk: a
// plain ustar archive (tar-stream) whose bytes are the disk's bytes. It holds what the
// installer copies into the target: boot/vmlinuz-RELEASE and boot/initramfs-RELEASE.img
// (the tree's kernel and initramfs, which also boots the installed system), and
// `liveimg`, the kickstart's liveimg tarball as fetched and checked. The installer finds
// the disk by its serial and reads members with busybox tar.
import { closeSync, createReadStream, createWriteStream, openSync, statSync, ftruncateSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export const PAYLOAD_SERIAL = 'tsvirt-payload';

export interface PayloadContents {
  kernelRelease: string;
  kernel: string;
  initrd: string;
  liveimg: string;
}

export async function writePayloadDisk(path: string, contents: PayloadContents): Promise<number> {
  const pack = tar.pack();
  const out = createWriteStream(path, { mode: 0o600 });
  const done = pipeline(pack, out);
  const add = async (name: string, file: string): Promise<void> => {
    const size = statSync(file).size;
    const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) });
    await pipeline(createReadStream(file), entry);
  };
  try {
    pack.entry({ name: 'boot/', type: 'directory', mode: 0o755, mtime: new Date(0) });
    await add(`boot/vmlinuz-${contents.kernelRelease}`, contents.kernel);
    await add(`boot/initramfs-${contents.kernelRelease}.img`, contents.initrd);
    await add('liveimg', contents.liveimg);
    pack.finalize();
    await done;
  } catch (err) {
    pack.destroy();
    // Let the write stream finish (it may still be opening the file) before removing
    // it; the pipeline's own "premature close" is the expected outcome here.
    await done.catch(() => undefined);
    rmSync(path, { force: true });
    throw err;
  }
  // A disk is whole sectors; tar already pads to 512-byte records, this keeps it so.
  const size = statSync(path).size;
  const sectors = Math.ceil(size / 512) * 512;
  if (sectors !== size) {
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, sectors);
    closeSync(fd);
  }
  return sectors;
}
