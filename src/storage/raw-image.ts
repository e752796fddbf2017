// A raw image: the file's bytes are the disk's bytes. Discard punches a hole
// (fallocate PUNCH_HOLE, reads return zeros) or, where the file system cannot, writes
// zeros. Block status maps the file's holes with SEEK_DATA/SEEK_HOLE (lseek(2)), so
// converting a sparse 1 PiB raw image reads only its data.
import { ENXIO, SEEK_DATA, SEEK_HOLE, libc } from '../lib/libc.js';
import type { BlockDevice, BlockStatusRun } from './block-device.js';
import { ImageFile } from './image-file.js';
import { ImageLock } from './image-lock.js';
import { punchHole } from './preallocate.js';
import { checkRange } from './range-check.js';

export class RawImage implements BlockDevice {
  readonly format = 'raw';
  private closed = false;

  private constructor(readonly file: ImageFile, private readonly lock: ImageLock | undefined) {}

  static open(path: string, opts: { readOnly: boolean; noLock?: boolean }): RawImage {
    const file = ImageFile.open(path, opts.readOnly);
    try {
      const lock = opts.noLock ? undefined : ImageLock.acquire(file.fd, path, opts.readOnly ? 'shared' : 'exclusive');
      return new RawImage(file, lock);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  get size(): number {
    return this.file.sizeBytes;
  }

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  read(offset: number, buf: Uint8Array): void {
    this.assertOpen();
    checkRange('read', offset, buf.length, this.size);
    this.file.readAt(buf, offset);
  }

  write(offset: number, buf: Uint8Array): void {
    this.assertWritable();
    checkRange('write', offset, buf.length, this.size);
    this.file.writeAt(buf, offset);
  }

  flush(): void {
    this.assertOpen();
    if (!this.readOnly) this.file.sync();
  }

  discard(offset: number, len: number): void {
    this.assertWritable();
    checkRange('discard', offset, len, this.size);
    if (punchHole(this.file.fd, offset, len)) return;
    const chunk = new Uint8Array(Math.min(len, 1 << 20));
    for (let done = 0; done < len; done += chunk.length) {
      const n = Math.min(chunk.length, len - done);
      this.file.writeAt(n === chunk.length ? chunk : chunk.subarray(0, n), offset + done);
    }
  }

  /**
   * Holes read as zeros; everything else is data (which may still be zeros: convert
   * checks what it reads). A file system that does not track holes answers SEEK_DATA
   * with the offset itself and SEEK_HOLE with the end of the file (lseek(2)): all data,
   * correct and only slower. ImageFile does positional I/O only, so moving the file
   * offset here disturbs nothing.
   */
  blockStatus(offset: number, len: number): BlockStatusRun {
    this.assertOpen();
    checkRange('blockStatus', offset, len, this.size);
    const c = libc();
    const fd = this.file.fd;
    const data = c.lseek(fd, offset, SEEK_DATA);
    if (data < 0) {
      // ENXIO: no data at or after offset, so the rest of the file is a hole. Any other
      // error (EINVAL where SEEK_DATA is unknown): say nothing about holes.
      return { offset, len, kind: c.errno() === ENXIO ? 'zero' : 'data' };
    }
    if (data > offset) return { offset, len: Math.min(data - offset, len), kind: 'zero' };
    const hole = c.lseek(fd, offset, SEEK_HOLE);
    const dataLen = hole > offset ? Math.min(hole - offset, len) : len;
    return { offset, len: dataLen, kind: 'data' };
  }

  /** Grows or shrinks the file (resize); new space is a hole that reads as zeros. */
  resize(sizeBytes: number): void {
    this.assertWritable();
    this.file.truncate(sizeBytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lock?.release();
    this.file.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('raw image used after close()');
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly) throw new Error('raw image is open read-only');
  }
}
