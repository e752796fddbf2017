// An open image file with synchronous positional I/O (the vCPU thread calls it, so no
// promises). It remembers the file's length so format drivers can check every offset read
// from an image against it before use, and it never reads outside the file: bytes past
// EOF read as zeros. Leaves out: O_DIRECT and asynchronous I/O.
import fs from 'node:fs';
import { TsvirtError } from '../lib/errors.js';

export class ImageFile {
  /** Current length of the file in bytes (kept up to date by writeAt/truncate). */
  sizeBytes: number;
  private closed = false;

  private constructor(readonly path: string, readonly fd: number, readonly readOnly: boolean) {
    this.sizeBytes = fs.fstatSync(fd).size;
  }

  static open(path: string, readOnly: boolean): ImageFile {
    return new ImageFile(path, openImageFd(path, readOnly), readOnly);
  }

  /** Reads buf.length bytes at offset; the part past EOF reads as zeros. */
  readAt(buf: Uint8Array, offset: number): void {
    let done = 0;
    const avail = Math.max(0, Math.min(buf.length, this.sizeBytes - offset));
    while (done < avail) {
      const n = fs.readSync(this.fd, buf, done, avail - done, offset + done);
      if (n === 0) break; // the file shrank under us: treat the rest as a hole
      done += n;
    }
    if (done < buf.length) buf.fill(0, done);
  }

  writeAt(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, offset + done);
    if (offset + buf.length > this.sizeBytes) this.sizeBytes = offset + buf.length;
  }

  truncate(sizeBytes: number): void {
    fs.ftruncateSync(this.fd, sizeBytes);
    this.sizeBytes = sizeBytes;
  }

  /** Makes written data durable (fdatasync: metadata ordering only needs the data). */
  sync(): void {
    fs.fdatasyncSync(this.fd);
  }

  /** Bytes the file occupies on disk (qemu-img's actual-size). */
  allocatedBytes(): number {
    return fs.fstatSync(this.fd).blocks * 512;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/**
 * Opens an image file (or a block device) for positional I/O. The name may come from a
 * hostile image header (a backing file): O_NONBLOCK keeps a FIFO from blocking the open
 * until a writer appears, and anything but a regular file or a block device is refused.
 */
export function openImageFd(path: string, readOnly: boolean): number {
  let fd: number;
  try {
    fd = fs.openSync(path, (readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR) | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TsvirtError(`image ${path} does not exist`, 'check the path', { cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new TsvirtError(`cannot open image ${path} ${readOnly ? 'for reading' : 'for writing'} (${code})`,
        readOnly ? 'check the file permissions' : 'check the file permissions or open it read-only', { cause: err });
    }
    if (code === 'EISDIR') throw new TsvirtError(`${path} is a directory, not an image`, 'give the path of an image file');
    throw err;
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile() && !st.isBlockDevice()) {
    fs.closeSync(fd);
    const kind = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : 'not a regular file';
    throw new TsvirtError(`${path} is ${kind}, not an image file`, 'give the path of a regular file or a block device');
  }
  return fd;
}
