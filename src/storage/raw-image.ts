// A raw image: the file's bytes are the disk's bytes. Discard punches a hole
// (fallocate PUNCH_HOLE, reads return zeros) or, where the file system cannot, writes
// zeros. Leaves out: SEEK_DATA mapping (block status reports everything as data;
// convert's zero detection makes that cheap enough).
import type { BlockDevice } from './block-device.js';
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
