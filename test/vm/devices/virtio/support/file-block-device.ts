// A BlockDevice over a real file (fs.readSync/writeSync/fsyncSync on a temp file), used by
// the virtio-blk tests until src/storage's openImage lands. Not a mock: every read and
// write goes to the file, and `failNext` makes the next call throw the way a failing
// disk (EIO) would, to exercise VIRTIO_BLK_S_IOERR.

import * as fs from 'node:fs';
import type { BlockDevice } from '../../../../../src/storage/block-device.js';

export class FileBlockDevice implements BlockDevice {
  readonly size: number;
  private fd: number;
  flushes = 0;
  discards: Array<[number, number]> = [];
  failNext = false;

  constructor(readonly path: string, readonly readOnly = false) {
    this.fd = fs.openSync(path, readOnly ? 'r' : 'r+');
    this.size = fs.fstatSync(this.fd).size;
  }

  private check(offset: number, len: number): void {
    if (this.failNext) {
      this.failNext = false;
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    }
    if (offset < 0 || offset + len > this.size) throw new RangeError(`access ${offset}+${len} past ${this.size}`);
  }

  read(offset: number, buf: Uint8Array): void {
    this.check(offset, buf.length);
    let done = 0;
    while (done < buf.length) done += fs.readSync(this.fd, buf, done, buf.length - done, offset + done);
  }

  write(offset: number, buf: Uint8Array): void {
    if (this.readOnly) throw new Error('read-only');
    this.check(offset, buf.length);
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, offset + done);
  }

  flush(): void {
    this.check(0, 0);
    fs.fsyncSync(this.fd);
    this.flushes++;
  }

  discard(offset: number, len: number): void {
    this.check(offset, len);
    this.discards.push([offset, len]);
    this.write(offset, new Uint8Array(len));
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
